"""Staff's hand on a campaign once it is sent (pause, resume, cancel), quiet hours moving what waits, and the
results, counted from the outbox so that delivery receipts show as they arrive."""
from __future__ import annotations

import time

from gateway import blasts
from gateway.store import transaction
from messages import schedule as schedules
from messages.campaigns import store
from messages.campaigns.model import CANCELLED, PAUSED_UNTIL, Campaign, CampaignError, load, quiet_hours, tz
from messages.campaigns.runs import pace_sql
from messages.subscribers import SKIPPED_OPTED_OUT

def pause(ctx, db, campaign: Campaign, now: float | None = None) -> int:
    """Stop sending and stop running; returns how many queued messages now wait."""
    now = time.time() if now is None else now
    if campaign.status not in ("active", "scheduled"):
        raise CampaignError(f"status: campaign {campaign.id} is {campaign.status}; only an active or scheduled "
                            f"campaign can be paused")
    with transaction(db):
        held = blasts.hold_campaign(db, campaign.id, PAUSED_UNTIL, now)
        store.mark_paused(db, campaign.id, campaign.status, now)
    return held


def resume(ctx, db, campaign: Campaign, now: float | None = None) -> int:
    """Carry on from now (or from the end of quiet hours); a recurrence skips the runs missed while paused."""
    now = time.time() if now is None else now
    if campaign.status != "paused":
        raise CampaignError(f"status: campaign {campaign.id} is {campaign.status}; only a paused campaign can be "
                            f"resumed")
    start = quiet_hours(ctx.config).next_open(now)
    following = campaign.next_run_at
    if campaign.paused_from == "scheduled" and following is not None and following <= now:
        following = schedules.next_cron_time(campaign.cron, tz(ctx), now) if campaign.schedule == "cron" else now
    with transaction(db):
        moved = reschedule_queued(ctx, db, campaign, start, now, only_earlier=False)
        store.mark_resumed(db, campaign.id, campaign.paused_from or "active", following, now)
    return moved


def cancel(ctx, db, campaign: Campaign, now: float | None = None) -> int:
    """Nothing more is sent or run; returns how many queued messages were dropped."""
    now = time.time() if now is None else now
    if campaign.status == "cancelled":
        raise CampaignError(f"status: campaign {campaign.id} is already cancelled")
    with transaction(db):
        dropped = blasts.expire_campaign(db, campaign.id, CANCELLED, now)
        store.mark_cancelled(db, campaign.id, now)
    return dropped


def reschedule_queued(ctx, db, campaign: Campaign, start: float, now: float, only_earlier: bool = True) -> int:
    """Move a campaign's queued rows to start at ``start`` (re-paced when it has a rate).

    only_earlier: leave rows already due at or after ``start`` alone (quiet hours beginning).
    """
    pace = pace_sql(ctx, db, campaign, start)
    if pace:
        return blasts.repace_campaign(db, campaign.id, pace, now)
    if only_earlier:
        return blasts.hold_campaign_before(db, campaign.id, start, now)
    return blasts.hold_campaign(db, campaign.id, start, now)


def defer_for_quiet_hours(ctx, db, now: float | None = None) -> int:
    """Quiet hours began: blasts still queued to go before they end wait for the end (the rest waits)."""
    now = time.time() if now is None else now
    quiet = quiet_hours(ctx.config)
    if not quiet.is_quiet(now):
        return 0
    start = quiet.next_open(now)
    moved = 0
    with transaction(db):
        for cid in blasts.campaigns_waiting_before(db, start):
            campaign = load(db, cid)
            if campaign.status not in ("paused", "cancelled"):
                moved += reschedule_queued(ctx, db, campaign, start, now)
    return moved


RESULT_KEYS = ("queued", "sending", "sent", "delivered", "failed", "skipped_opted_out", "expired", "cancelled")


def results(db, campaign_id: int) -> dict:
    """Counts from the outbox. 'sent' counts every message a provider took, delivered ones included;
    'queued' includes messages waiting for quiet hours to end or for a paused campaign to resume."""
    out = dict.fromkeys(RESULT_KEYS, 0)
    segments_sent = 0
    for key, n, segs in blasts.campaign_outcomes(db, campaign_id, SKIPPED_OPTED_OUT, CANCELLED):
        out[key] = out.get(key, 0) + n
        if key in ("sent", "delivered"):
            segments_sent += segs or 0
    out["sent"] += out["delivered"]
    out["total"] = sum(out[k] for k in RESULT_KEYS if k != "delivered")
    out["done"] = out["total"] - out["queued"] - out["sending"]
    out["segments_sent"] = segments_sent
    out["runs"] = store.runs(db, campaign_id)
    return out
