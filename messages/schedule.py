"""When campaigns run: schedule checks and recurrence (the scheduler that runs them is messages/scheduler.py).

Decision: APScheduler 3's persistent job store needs SQLAlchemy (not a dependency) and pickles callables, so
a code change could strand stored jobs. The schedule is kept as data instead, in the campaigns table
(``schedule``, ``send_at``, ``cron``, ``next_run_at``), and APScheduler only keeps time: at start, and every
[campaigns] check_seconds (campaigns are also scheduled from `dalil campaign send` in another process), it gets
one date job per scheduled campaign at its ``next_run_at``. A run queues the campaign and moves ``next_run_at``
to the next cron time in one transaction, and is keyed by the time it was due, so a crash or a restart never
queues a run twice; a run missed while the gateway was down still goes if it is less than
[campaigns] misfire_grace_minutes late, and is skipped and logged otherwise.

Recurrence is a crontab line ("0 9 * * mon": Mondays at 09:00) read in [gateway] timezone.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from messages.quiet import QuietHours, zone

log = logging.getLogger(__name__)

SCHEDULES = ("now", "at", "cron")
CRON_CHECKS = 50  # fire times of a recurrence checked against quiet hours


class ScheduleError(ValueError):
    """Bad schedule; the message names the field."""


def parse_local(text: str, tz_name: str) -> float:
    """'2026-03-02 09:00' (local time in tz_name) to a Unix time."""
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(f"schedule: expected a local time as \"YYYY-MM-DD HH:MM\", got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz_name))
    return dt.timestamp()


def show(ts: float | None, tz_name: str) -> str:
    return "-" if ts is None else f"{datetime.fromtimestamp(ts, zone(tz_name)):%Y-%m-%d %H:%M}"


def cron_trigger(expr: str, tz_name: str) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expr, timezone=zone(tz_name))
    except ValueError as e:
        raise ScheduleError(f"schedule: not a crontab line ({e}): {expr!r}; e.g. \"0 9 * * mon\"") from None


def next_cron_time(expr: str, tz_name: str, after: float) -> float | None:
    """The first time the recurrence fires strictly after ``after``."""
    tz = zone(tz_name)
    fire = cron_trigger(expr, tz_name).get_next_fire_time(
        None, datetime.fromtimestamp(after, tz) + timedelta(seconds=1))
    return fire.timestamp() if fire else None


def first_run(schedule: str, send_at: float | None, cron: str | None, tz_name: str, now: float) -> float | None:
    """When a campaign sent at ``now`` first runs: now, its time, or the recurrence's next time."""
    if schedule == "now":
        return now
    if schedule == "at":
        return send_at
    return next_cron_time(cron, tz_name, now)


def check(schedule: str, send_at: float | None, cron: str | None, quiet: QuietHours, tz_name: str,
          now: float) -> None:
    """Refuse a time in the past or inside quiet hours ("now" inside quiet hours simply waits for the end)."""
    if schedule not in SCHEDULES:
        raise ScheduleError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if schedule == "at":
        if send_at is None:
            raise ScheduleError("schedule: a time is needed (--at \"YYYY-MM-DD HH:MM\")")
        if send_at <= now:
            raise ScheduleError(f"schedule: {show(send_at, tz_name)} is in the past (now {show(now, tz_name)})")
        _outside_quiet_hours(send_at, quiet, tz_name)
    elif schedule == "cron":
        if not cron:
            raise ScheduleError("schedule: a recurrence is needed (--every \"0 9 * * mon\")")
        fire = now
        for _ in range(CRON_CHECKS):
            fire = next_cron_time(cron, tz_name, fire)
            if fire is None:
                raise ScheduleError(f"schedule: {cron!r} never fires again")
            _outside_quiet_hours(fire, quiet, tz_name, f" (the recurrence {cron!r} fires then)")


def _outside_quiet_hours(ts: float, quiet: QuietHours, tz_name: str, why: str = "") -> None:
    if quiet.is_quiet(ts):
        raise ScheduleError(f"schedule: {show(ts, tz_name)}{why} is inside quiet hours ({quiet.describe()}), "
                            f"when nothing is sent")
