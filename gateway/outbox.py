"""The outbox: every outbound SMS is a row here before any provider sees it.

States: queued -> sending -> sent -> delivered, or failed / expired. The dispatcher (gateway/dispatcher.py)
moves rows along; everything else only calls ``enqueue``.
"""
from __future__ import annotations

import time

from gateway.store import transaction
from messages.segments import count

# Lower sends first: replies to a person waiting on the line, then referral notices, then blasts.
PRIORITY = {"reply": 1, "referral": 2, "notice": 3, "test": 3, "blast": 8}


def enqueue(db, to_number: str, body: str, *, kind: str = "reply", idempotency_key: str | None = None,
            not_before: float = 0.0, expires_at: float | None = None, sensitive: bool = False,
            channel: str | None = None, campaign_id: int | None = None, subscriber_id: int | None = None,
            max_age_hours: float = 24.0) -> int | None:
    """Queue one SMS; returns its id, or None when a row with the same idempotency key already exists.

    ``sensitive`` rows (anything sent to a person who asked for help) lose their number and text once sent.
    """
    seg = count(body)
    now = time.time()
    with transaction(db):
        cur = db.execute(
            "INSERT INTO outbox (idempotency_key, to_number, body, kind, priority, channel, encoding, segments, "
            "not_before, expires_at, created_at, updated_at, sensitive, campaign_id, subscriber_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING",
            [idempotency_key, to_number, body, kind, PRIORITY.get(kind, 5), channel, seg.encoding, seg.segments,
             not_before, expires_at if expires_at is not None else now + max_age_hours * 3600, now, now,
             int(sensitive), campaign_id, subscriber_id],
        )
        return cur.lastrowid if cur.rowcount else None
