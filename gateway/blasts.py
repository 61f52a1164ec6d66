"""The outbox's side of blasts: every write the campaign and subscriber features make to the ``outbox`` table,
and the reads of it they count by. Blast rows are never sensitive (a subscriber's number must stay to reach
them), so none of this seals or wipes; gateway.outbox keeps the one-message path (enqueue, claim, outcomes).

A run of a campaign is queued with one INSERT ... SELECT per batch of subscribers: ``queue_selected`` takes a
SELECT producing ``QUEUED_COLUMNS`` in that order (the messages package's store writes it over its
subscribers), so the audience never passes through Python and this module still owns the write.
"""
from __future__ import annotations

import time

from gateway import outbox, store

QUEUED_COLUMNS = ("idempotency_key", "to_number", "body", "kind", "priority", "encoding", "segments", "not_before",
                  "expires_at", "created_at", "updated_at", "sensitive", "campaign_id", "subscriber_id")
_WAITING = "campaign_id = ? AND state = 'queued' AND kind = 'blast'"


def queue_selected(db, select_sql: str, params: list) -> int:
    """Queue the rows ``select_sql`` yields (``QUEUED_COLUMNS``, in order); a known idempotency key is skipped.
    Returns how many were queued."""
    queued = db.execute(f"INSERT INTO outbox ({', '.join(QUEUED_COLUMNS)}) {select_sql} "  # noqa: S608 (fixed names, bound values)
                        "ON CONFLICT(idempotency_key) DO NOTHING", params).rowcount
    if queued:
        store.notify(db, outbox.QUEUED_CHANNEL)
    return queued


def hold_campaign(db, campaign_id: int, until: float, now: float) -> int:
    """The campaign's queued blasts wait until ``until``; returns how many."""
    return db.execute(f"UPDATE outbox SET not_before = ?, updated_at = ? WHERE {_WAITING}",  # noqa: S608 (fixed names, bound values)
                      [until, now, campaign_id]).rowcount


def hold_campaign_before(db, campaign_id: int, until: float, now: float) -> int:
    """Those of the campaign's queued blasts due before ``until`` wait until then; the later ones stay."""
    return db.execute(f"UPDATE outbox SET not_before = ?, updated_at = ? WHERE {_WAITING} AND not_before < ?",  # noqa: S608 (fixed names, bound values)
                      [until, now, campaign_id, until]).rowcount


def repace_campaign(db, campaign_id: int, pace_function: str, now: float) -> int:
    """Spread the campaign's queued blasts again: the n-th (by its current time) goes at pace_function(n - 1),
    a function registered on this connection (messages.quiet.Pacer)."""
    return db.execute(
        f"UPDATE outbox SET not_before = {pace_function}(x.n - 1), updated_at = ? FROM (SELECT id, row_number() "  # noqa: S608 (fixed names, bound values)
        f"OVER (ORDER BY not_before, id) AS n FROM outbox WHERE {_WAITING}) AS x WHERE outbox.id = x.id",
        [now, campaign_id]).rowcount


def expire_campaign(db, campaign_id: int, error: str, now: float) -> int:
    """The campaign's queued blasts will not go: expired with ``error``; returns how many."""
    return db.execute(f"UPDATE outbox SET state = 'expired', error = ?, updated_at = ? WHERE {_WAITING}",  # noqa: S608 (fixed names, bound values)
                      [error, now, campaign_id]).rowcount


def campaigns_waiting_before(db, until: float) -> list[int]:
    """Campaigns with blasts queued to go before ``until``."""
    return [r[0] for r in db.execute(
        "SELECT DISTINCT campaign_id FROM outbox WHERE state = 'queued' AND kind = 'blast' AND not_before < ? "
        "AND campaign_id IS NOT NULL", [until])]


def skip_for_subscriber(db, subscriber_id: int, error: str, now: float | None = None) -> int:
    """Close every blast still waiting for this subscriber (opted out) as failed with ``error``."""
    now = time.time() if now is None else now
    return db.execute("UPDATE outbox SET state = 'failed', error = ?, updated_at = ? "
                      "WHERE subscriber_id = ? AND state = 'queued' AND kind = 'blast'",
                      [error, now, subscriber_id]).rowcount


def forget_subscriber(db, subscriber_id: int) -> None:
    """The subscriber is erased: their rows keep no link to them."""
    db.execute("UPDATE outbox SET subscriber_id = NULL WHERE subscriber_id = ?", [subscriber_id])


def close_claimed(db, msg_id: int, state: str, error: str, now: float) -> None:
    """A claimed (or queued) blast that must not go at all: closed as ``state`` with ``error``."""
    db.execute("UPDATE outbox SET state = ?, error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ? "
               "WHERE id = ? AND state IN ('queued', 'sending')", [state, error, now, msg_id])


def requeue_unsent(db, msg_id: int, not_before: float, now: float) -> None:
    """A claimed blast back to the queue until ``not_before``, without counting an attempt: it was never tried."""
    db.execute(f"UPDATE outbox SET state = 'queued', not_before = ?, {outbox.UNDO_ATTEMPT}, "  # noqa: S608 (fixed names, bound values)
               "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'sending'",
               [not_before, now, msg_id])


def states_by_campaign(db) -> list[tuple[int, str, int, float]]:
    """(campaign, state, messages, earliest not_before) for every campaign's blasts."""
    return db.execute("SELECT campaign_id, state, count(*), min(not_before) FROM outbox WHERE campaign_id IS NOT "
                      "NULL AND kind = 'blast' GROUP BY campaign_id, state").fetchall()


def campaign_outcomes(db, campaign_id: int, opted_out_error: str, cancelled_error: str) -> list[tuple]:
    """(outcome, messages, segments) of a campaign's blasts: the states, with 'skipped_opted_out' and 'cancelled'
    told apart from other failed and expired rows by their error."""
    return db.execute(
        "SELECT CASE WHEN state = 'failed' AND error = ? THEN 'skipped_opted_out' "
        "WHEN state = 'expired' AND error = ? THEN 'cancelled' ELSE state END AS k, count(*), sum(segments) "
        "FROM outbox WHERE campaign_id = ? AND kind = 'blast' GROUP BY k",
        [opted_out_error, cancelled_error, campaign_id]).fetchall()
