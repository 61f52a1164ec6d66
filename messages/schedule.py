"""When campaigns run: schedule checks, recurrence, and the APScheduler scheduler inside `dalil serve`.

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
import threading
import time
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
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


class CampaignScheduler:
    """APScheduler in a background thread of `dalil serve`; see the module docstring for what it keeps."""

    def __init__(self, ctx):
        from messages.campaigns import quiet_hours
        self.ctx = ctx
        self.tz_name = ctx.config["gateway"]["timezone"]
        self.quiet = quiet_hours(ctx.config)
        # one worker: two runs queueing at once would only wait on each other for SQLite's write lock
        self.scheduler = BackgroundScheduler(timezone=zone(self.tz_name),
                                             executors={"default": ThreadPoolExecutor(1)},
                                             job_defaults={"coalesce": True, "max_instances": 1})
        # APScheduler's shutdown(wait=True) waits for a running job while holding its job-store lock, which sync()
        # needs (get_jobs, add_job): a stop during a sync hung for ever. stop() waits on this lock instead, and a
        # job that starts after it returns at once.
        self._busy = threading.RLock()
        self._stopping = False

    def start(self) -> "CampaignScheduler":
        self.scheduler.start()
        settings = self.ctx.config["campaigns"]
        self.scheduler.add_job(self.sync, "interval", seconds=settings["check_seconds"], id="campaigns:sync",
                               next_run_time=datetime.now(zone(self.tz_name)))
        if self.quiet.start != self.quiet.end:
            self.scheduler.add_job(self.quiet_hours_began, CronTrigger(
                hour=self.quiet.start.hour, minute=self.quiet.start.minute, timezone=zone(self.tz_name)),
                id="campaigns:quiet", misfire_grace_time=None)
            # started at night: blasts left from the day must wait too
            self.scheduler.add_job(self.quiet_hours_began, id="campaigns:quiet-at-start")
        log.info("campaign scheduler started")
        return self

    def stop(self) -> None:
        with self._busy:  # a running job finishes first; later ones see _stopping
            self._stopping = True
        self.scheduler.shutdown(wait=True)
        log.info("campaign scheduler stopped")

    def job_times(self) -> dict[str, float]:
        return {job.id: job.next_run_time.timestamp() for job in self.scheduler.get_jobs()
                if job.id.startswith("campaign:") and job.next_run_time}

    def sync(self) -> None:
        """One date job per scheduled campaign, at its next_run_at; stale jobs removed."""
        with self._busy:
            if not self._stopping:
                self._sync()

    def _sync(self) -> None:
        try:
            wanted = {f"campaign:{cid}": (cid, due) for cid, due in self.ctx.db().execute(
                "SELECT id, next_run_at FROM campaigns WHERE status = 'scheduled' AND next_run_at IS NOT NULL")}
            for job in self.scheduler.get_jobs():
                if job.id.startswith("campaign:") and (job.id not in wanted or
                                                        abs(job.next_run_time.timestamp() - wanted[job.id][1]) > 0.001):
                    job.remove()
            registered = {job.id for job in self.scheduler.get_jobs()}
            for job_id, (cid, due) in wanted.items():
                if job_id not in registered:
                    # no APScheduler grace: a late run reaches run_scheduled, which applies ours and logs
                    run_date = datetime.fromtimestamp(due, zone(self.tz_name))
                    self.scheduler.add_job(self.fire, "date", run_date=run_date, args=[cid], id=job_id,
                                           misfire_grace_time=None)
        except Exception:
            log.exception("campaign scheduler: sync failed; next try in %ss",
                          self.ctx.config["campaigns"]["check_seconds"])

    def fire(self, campaign_id: int) -> None:
        with self._busy:
            if not self._stopping:
                self._fire(campaign_id)

    def _fire(self, campaign_id: int) -> None:
        from messages import campaigns
        try:
            campaigns.run_scheduled(self.ctx, self.ctx.db(), campaign_id, time.time())
        except Exception:
            log.exception("campaign %s: scheduled run failed", campaign_id)
        self.sync()

    def quiet_hours_began(self) -> None:
        with self._busy:
            if not self._stopping:
                self._quiet_hours_began()

    def _quiet_hours_began(self) -> None:
        from messages import campaigns
        try:
            moved = campaigns.defer_for_quiet_hours(self.ctx, self.ctx.db(), time.time())
            if moved:
                log.info("quiet hours: %d queued blast message(s) wait until they end", moved)
        except Exception:
            log.exception("quiet hours: deferring queued blasts failed")
