"""Sending a campaign: a "now" one queued at once, a timed or recurring one run by the scheduler when due
(messages/scheduler.py), each run queued once, in one transaction; and the staff's test send."""
from __future__ import annotations

import logging
import time
import uuid

from gateway import blasts, contacts, outbox
from gateway.store import dialect, transaction
from messages import schedule as schedules
from messages.campaigns import store
from messages.campaigns.model import (
    Campaign, CampaignError, check_schedule, check_texts, load, outgoing, quiet_hours, tz,
)
from messages.campaigns.preview import audience_words, preview, route_problems
from messages.i18n import LANGUAGES
from messages.quiet import Pacer
from messages.segments import count

log = logging.getLogger(__name__)

def send(ctx, db, campaign: Campaign, now: float | None = None, progress=None) -> dict:
    """Queue a "now" campaign at once, or hand a timed or recurring one to the scheduler."""
    now = time.time() if now is None else now
    if campaign.status != "draft":
        raise CampaignError(f"status: campaign {campaign.id} is {campaign.status}; only a draft can be sent")
    check_texts(ctx.config, campaign.texts, campaign.fallback_language)  # the config may have changed since
    check_schedule(ctx, campaign.schedule, campaign.send_at, campaign.cron, now)
    info = preview(ctx, db, campaign, now)
    if info["route_limits"]:
        raise CampaignError("; ".join(info["route_limits"]) + "; nothing queued")
    if not info["recipients"]:
        raise CampaignError(f"audience: matches nobody ({audience_words(ctx, campaign)}); nothing queued")
    if info["finishes_at"] and info["finishes_at"] > info["expires_at"]:
        raise CampaignError(f"rate: at {campaign.rate_per_minute} a minute, {info['recipients']} messages would go "
                            f"on past the expiry of {campaign.expiry_hours:g} h; raise the rate or the expiry")
    if campaign.schedule != "now":
        due = schedules.first_run(campaign.schedule, campaign.send_at, campaign.cron, tz(ctx), now)
        store.set_status(db, campaign.id, "scheduled", due, now)
        return {"status": "scheduled", "next_run_at": due, "recipients": info["recipients"]}
    with transaction(db):
        run = queue_run(ctx, db, campaign, run_key="now", due=now, now=now, progress=progress,
                        total=info["recipients"])
        store.set_status(db, campaign.id, "active", None, now)
    return {"status": "active", **run}


def queue_run(ctx, db, campaign: Campaign, *, run_key: str, due: float, now: float, progress=None,
              total: int | None = None) -> dict:
    """Queue one run of the campaign, once: a run_key already queued queues nothing. One transaction."""
    quiet = quiet_hours(ctx.config)
    first = quiet.next_open(max(due, now))
    expires = first + campaign.expiry_hours * 3600
    with transaction(db):
        run_id = store.start_run(db, campaign.id, run_key, due, now, first, expires)
        if run_id is None:
            return {"run": None, "run_key": run_key, "queued": 0, "first_send_at": first, "expires_at": expires}
        queued = _insert_blasts(ctx, db, campaign, f"blast:{campaign.id}:{run_id}:", first, expires, now,
                                progress, total)
        store.set_run_queued(db, run_id, queued)
    log.info("campaign %s run %s: %d message(s) queued", campaign.id, run_id, queued)
    return {"run": run_id, "run_key": run_key, "queued": queued, "first_send_at": first, "expires_at": expires}


def _case(values: dict, fallback) -> tuple[str, list]:
    """CASE s.language WHEN 'ar' THEN ? ... END: one value per language, bound once per statement."""
    sql = "CASE s.language " + " ".join(f"WHEN '{lang}' THEN ?" for lang in LANGUAGES) + " ELSE ? END"
    return sql, [values[lang] for lang in LANGUAGES] + [fallback]


def pace_sql(ctx, db, campaign: Campaign, first: float) -> str | None:
    """Register the pacing function on this connection; None when the campaign has no rate."""
    if not campaign.rate_per_minute:
        return None
    pacer = Pacer(quiet_hours(ctx.config), first, 60.0 / campaign.rate_per_minute)
    if dialect(db) == "postgresql":  # no Python in the server: the pacer's open windows, written into SQL
        where, params = campaign.audience.where()
        pacer(sum(store.recipients_by_language(db, where, params).values()))  # windows to the last message
        return store.pace_function(db, pacer.starts, pacer.offsets, pacer.interval)
    db.conn.create_function("dalil_pace", 1, pacer, deterministic=True)
    return "dalil_pace"


def _insert_blasts(ctx, db, campaign: Campaign, key_prefix: str, first: float, expires: float, now: float,
                   progress=None, total: int | None = None) -> int:
    """INSERT ... SELECT over batches of subscriber ids: SQLite streams the rows, Python holds none of them."""
    written = {lang: lang if lang in campaign.texts else campaign.fallback_language for lang in LANGUAGES}
    bodies = {lang: outgoing(ctx.config, written[lang], campaign.text_for(lang)) for lang in LANGUAGES}
    fallback = bodies[campaign.fallback_language]
    body_sql, body_params = _case(bodies, fallback)
    enc_sql, enc_params = _case({k: count(v).encoding for k, v in bodies.items()}, count(fallback).encoding)
    seg_sql, seg_params = _case({k: count(v).segments for k, v in bodies.items()}, count(fallback).segments)
    pace = pace_sql(ctx, db, campaign, first)
    where, where_params = campaign.audience.where()
    not_before = f"{pace}(? + row_number() OVER (ORDER BY s.id) - 1)" if pace else "?"
    select = store.blast_select(db, body=body_sql, encoding=enc_sql, segments=seg_sql, not_before=not_before,
                                where=where)
    low, high = store.subscriber_id_range(db)
    batch = max(1, ctx.config["campaigns"]["queue_batch"])
    queued = 0
    for start in range(low - 1, high, batch):
        params = [key_prefix, *body_params, outbox.PRIORITY["blast"], *enc_params, *seg_params,
                  queued if pace else first, expires, now, now, campaign.id, start, start + batch, *where_params]
        queued += blasts.queue_selected(db, select, params)
        if progress:
            progress(queued, total)
    return queued


def run_scheduled(ctx, db, campaign_id: int, now: float) -> dict | None:
    """Run a scheduled campaign that is due, and move it to its next time (both or neither: one transaction)."""
    grace = ctx.config["campaigns"]["misfire_grace_minutes"] * 60
    with transaction(db):
        campaign = load(db, campaign_id)
        due = campaign.next_run_at
        if campaign.status != "scheduled" or due is None or due > now:
            return None
        following = schedules.next_cron_time(campaign.cron, tz(ctx), now) if campaign.schedule == "cron" else None
        run = None
        if now - due > grace:
            log.warning("campaign %s: the run due %s was missed by %.0f min (gateway down?); skipped",
                        campaign_id, schedules.show(due, tz(ctx)), (now - due) / 60)
        elif problems := route_problems(ctx, db, campaign):  # the routes changed since it was scheduled
            log.warning("campaign %s: not queued: %s", campaign_id, "; ".join(problems))
        else:
            run = queue_run(ctx, db, campaign, run_key=f"{due:.0f}", due=due, now=now)
            if not run["queued"] and run["run"] is not None:
                log.warning("campaign %s: audience matches nobody now; nothing queued", campaign_id)
        status = "scheduled" if following else ("active" if run else "missed")
        store.set_status(db, campaign_id, status, following, now)
    return run


def run_due(ctx, db, now: float | None = None) -> list[dict]:
    """Every scheduled campaign that is due (what the scheduler's jobs do, for callers without one)."""
    now = time.time() if now is None else now
    return [run for cid in store.due_campaigns(db, now) if (run := run_scheduled(ctx, db, cid, now))]


def test_send(ctx, db, campaign: Campaign, numbers: list[str] | None = None) -> int:
    """Each text, once, to each staff number (at once: staff asked for it, quiet hours are for subscribers)."""
    numbers = list(numbers or ctx.config["campaigns"]["staff_numbers"])
    if not numbers:
        raise CampaignError("staff numbers: none; set [campaigns] staff_numbers or pass --to NUMBER")
    region = ctx.config["sms"]["default_region"]
    targets = []
    for raw in numbers:
        try:
            targets.append(contacts.normalize(raw, region))
        except contacts.BadNumber as e:
            raise CampaignError(f"staff number {raw!r}: {e}") from None
    tag = uuid.uuid4().hex[:12]
    with transaction(db):
        for number in targets:
            for lang in (lang for lang in LANGUAGES if lang in campaign.texts):
                try:
                    outbox.enqueue(db, number, campaign.texts[lang], kind="test", config=ctx.config,
                                   idempotency_key=f"test:{campaign.id}:{tag}:{number}:{lang}")
                except ValueError as e:  # gateway.routing.RouteLimit: the text is longer than the route carries
                    raise CampaignError(f"text ({lang}): {e}") from None
    return len(targets) * len(campaign.texts)
