"""The last look at a blast before it goes: for the dispatcher (and any channel that claims rows) to call.

Queued blasts are already kept right where they wait: an opt-out closes them at once, pause and cancel move
them, quiet hours push them back. What this catches is the small window after a dispatcher has claimed a batch
(rows in ``sending``, waiting for the rate limit) and before each send: a subscriber who opts out, a campaign
paused or cancelled, quiet hours beginning. One indexed lookup per message, nothing for non-blast rows.
"""
from __future__ import annotations

import time

from gateway import blasts
from messages.campaigns import store
from messages.campaigns.model import CANCELLED, PAUSED_UNTIL, quiet_hours
from messages.subscribers import SKIPPED_OPTED_OUT


def hold(ctx, db, msg_id: int, now: float | None = None) -> str | None:
    """None: send it. Otherwise why not, the row having been moved already: 'opted_out' (closed as skipped),
    'cancelled' (expired), 'paused' or 'quiet' (back in the queue, until resumed or until quiet hours end)."""
    now = time.time() if now is None else now
    row = store.blast_standing(db, msg_id)
    if row is None or row[0] != "blast":
        return None
    _, subscriber_status, campaign_status = row
    if subscriber_status == "opted_out":
        blasts.close_claimed(db, msg_id, "failed", SKIPPED_OPTED_OUT, now)
        return "opted_out"
    if campaign_status == "cancelled":
        blasts.close_claimed(db, msg_id, "expired", CANCELLED, now)
        return "cancelled"
    if campaign_status == "paused":
        blasts.requeue_unsent(db, msg_id, PAUSED_UNTIL, now)
        return "paused"
    quiet = quiet_hours(ctx.config)
    if quiet.is_quiet(now):
        blasts.requeue_unsent(db, msg_id, quiet.next_open(now), now)
        return "quiet"
    return None
