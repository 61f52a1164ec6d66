"""The last look at a blast before it goes: for the dispatcher (and any channel that claims rows) to call.

Queued blasts are already kept right where they wait: an opt-out closes them at once, pause and cancel move
them, quiet hours push them back. What this catches is the small window after a dispatcher has claimed a batch
(rows in ``sending``, waiting for the rate limit) and before each send: a subscriber who opts out, a campaign
paused or cancelled, quiet hours beginning. One indexed lookup per message, nothing for non-blast rows.
"""
from __future__ import annotations

import time

from messages.campaigns import CANCELLED, PAUSED_UNTIL, quiet_hours
from messages.subscribers import SKIPPED_OPTED_OUT


def hold(ctx, db, msg_id: int, now: float | None = None) -> str | None:
    """None: send it. Otherwise why not, the row having been moved already: 'opted_out' (closed as skipped),
    'cancelled' (expired), 'paused' or 'quiet' (back in the queue, until resumed or until quiet hours end)."""
    now = time.time() if now is None else now
    row = db.execute(
        "SELECT o.kind, s.status, c.status FROM outbox o LEFT JOIN subscribers s ON s.id = o.subscriber_id "
        "LEFT JOIN campaigns c ON c.id = o.campaign_id WHERE o.id = ?", [msg_id]).fetchone()
    if row is None or row[0] != "blast":
        return None
    _, subscriber_status, campaign_status = row
    if subscriber_status == "opted_out":
        _close(db, msg_id, "failed", SKIPPED_OPTED_OUT, now)
        return "opted_out"
    if campaign_status == "cancelled":
        _close(db, msg_id, "expired", CANCELLED, now)
        return "cancelled"
    if campaign_status == "paused":
        _requeue(db, msg_id, PAUSED_UNTIL, now)
        return "paused"
    quiet = quiet_hours(ctx.config)
    if quiet.is_quiet(now):
        _requeue(db, msg_id, quiet.next_open(now), now)
        return "quiet"
    return None


def _close(db, msg_id: int, state: str, error: str, now: float) -> None:
    db.execute("UPDATE outbox SET state = ?, error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? "
               "WHERE id = ? AND state IN ('queued', 'sending')", [state, error, now, msg_id])


def _requeue(db, msg_id: int, not_before: float, now: float) -> None:
    """Back to the queue without counting an attempt: it was never tried."""
    db.execute("UPDATE outbox SET state = 'queued', not_before = ?, attempts = max(attempts - 1, 0), "
               "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'sending'",
               [not_before, now, msg_id])
