"""The outbox: every outbound SMS is a row here before any provider sees it.

States: queued -> sending -> sent -> delivered, or failed / expired. ``enqueue`` is all most code needs; the
dispatcher (gateway/dispatcher.py) and the pull channel (SMSSync) move rows along with the functions below, each
one statement that checks the state it expects, so two dispatchers on one file never both win a row.

A row in ``sending`` is leased: ``lease_until`` is when it returns to ``queued`` if its dispatcher died.
Sensitive rows (every reply to a person, so every message about a referral) are sealed while they wait: number
and text are ciphertext under a key held only in this process (gateway.memkey), padded to one size, and only a
dispatcher of this process claims them. Their idempotency key and provider id are blinded under the same key, their
kind and priority are those of any reply, their encoding is not stored, and their times are days. A reply that
this process could not send before it stopped is dropped by the next one (``drop_orphans``), counted, and shown
by `dalil status`. Sensitive rows lose their number and text as soon as they reach a final state (sent, failed,
expired): the delivery receipt finds them by their blinded ``provider_id``.
"""
from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Iterable

from gateway import memkey
from gateway.logs import clean_error  # the channels classify provider errors with outbox.clean_error
from gateway.store import dialect, notify, transaction
from messages.segments import count

# Lower sends first: replies to a person waiting on the line, then referral notices, then blasts.
PRIORITY = {"reply": 1, "referral": 2, "notice": 3, "test": 3, "blast": 8}

STATES = ("queued", "sending", "sent", "delivered", "failed", "expired")

# Applied with every move to a final state: a sensitive row keeps neither number nor text.
_WIPE_IF_SENSITIVE = ("to_number = CASE WHEN sensitive = 1 THEN NULL ELSE to_number END, "
                      "body = CASE WHEN sensitive = 1 THEN NULL ELSE body END, "
                      "segments = CASE WHEN sensitive = 1 THEN NULL ELSE segments END, "
                      "sealed_by = NULL")
DROPPED = "dropped: the process that held its key stopped before it was sent"
DAY = 86400
UNDO_ATTEMPT = "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"  # a claim that sent nothing
QUEUED_CHANNEL = "dalil_outbox"  # PostgreSQL: what enqueue NOTIFYs and idle dispatchers LISTEN on


@dataclass(frozen=True)
class Outgoing:
    """One claimed message, as a channel needs it."""
    id: int
    to: str
    body: str
    channel: str
    segments: int
    idempotency_key: str
    attempts: int
    sensitive: bool
    provider_id: str | None = None  # set at claim time only by a pull channel (the SMSSync uuid)
    kind: str = "reply"  # "blast" is the only kind the features' send checks may hold back


class SendError(Exception):
    """A channel could not hand the message over. ``reason`` must hold no number and no message text."""

    def __init__(self, reason: str, *, retry_after: float | None = None, opt_out: bool = False):
        super().__init__(reason)
        self.reason = clean_error(reason)
        self.retry_after = retry_after
        self.opt_out = opt_out


class Transient(SendError):
    """Try again later, perhaps on another channel: network down, timeout, throttled, provider 5xx."""


class Permanent(SendError):
    """Never retry this message: invalid number, landline, opted out."""


def enqueue(db, to_number: str, body: str, *, kind: str = "reply", idempotency_key: str | None = None,
            not_before: float = 0.0, expires_at: float | None = None, sensitive: bool = False,
            channel: str | None = None, campaign_id: int | None = None, subscriber_id: int | None = None,
            max_age_hours: float = 24.0, config: dict | None = None) -> int | None:
    """Queue one SMS; returns its id, or None when a row with the same idempotency key already exists.

    ``sensitive`` rows (anything sent to a person who asked for help) lose their number and text once sent.
    ``channel`` asks for a channel; routing uses it while it is available and falls back otherwise.
    Without an ``idempotency_key`` one is made up, so every row has one (SMSSync and the logs refer to it).
    With the ``config``, a text longer than its route's [channels.*] max_segments raises routing.RouteLimit.
    """
    seg = count(body)
    if config is not None:
        from gateway import routing  # routing reads channel health, which reads the outbox
        routing.check_length(config, to_number, seg.segments, channel)
    now = time.time()
    key = idempotency_key or f"auto:{uuid.uuid4().hex}"
    encoding, created, sealed_by, route_hint = seg.encoding, now, None, None
    if expires_at is None:
        expires_at = now + max_age_hours * 3600
        if sensitive:  # the end of the day it falls in: a little longer rather than a time that dates the row
            expires_at = _day(expires_at) + DAY
    if sensitive:  # sealed, and dated to the day: see the module's docstring
        from gateway import routing  # routing reads channel health, which reads the outbox
        route_hint = routing.hint(to_number)
        sealed_by, public = _holder(db)
        to_number, body, key = memkey.seal(to_number, public), memkey.seal(body, public), "s:" + memkey.blind(key)
        kind, encoding = "reply", None
        created = _day(now)
    with transaction(db):
        cur = db.execute(
            "INSERT INTO outbox (idempotency_key, to_number, body, kind, priority, requested_channel, encoding, "
            "segments, not_before, expires_at, created_at, updated_at, sensitive, campaign_id, subscriber_id, "
            "sealed_by, route_hint) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idempotency_key) DO NOTHING "
            "RETURNING id",
            [key, to_number, body, kind, PRIORITY.get(kind, 5), channel, encoding, seg.segments,
             not_before, expires_at, created, created, int(sensitive), campaign_id, subscriber_id, sealed_by,
             route_hint],
        )
        row = cur.fetchone()
        if row:
            notify(db, QUEUED_CHANNEL)
        return row[0] if row else None


_registered: set[str] = set()


def register_holder(db) -> None:
    """This process sends sealed messages (`dalil serve`): publish its public key for other processes to seal to,
    and forget the keys of processes that are gone."""
    with transaction(db):
        for (tag,) in db.execute("SELECT tag FROM outbox_holders").fetchall():
            if not memkey.holder_alive(tag):
                db.execute("DELETE FROM outbox_holders WHERE tag = ?", [tag])
        db.execute("INSERT INTO outbox_holders (tag, public_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [memkey.tag(), memkey.public_key()])
    _registered.add(memkey.tag())


def _holder(db) -> tuple[str, bytes]:
    """Whom to seal to: this process if it sends, else a running server, else this process (and if it stops
    before sending, the message is dropped and counted)."""
    if memkey.tag() not in _registered:
        for tag, public in db.execute("SELECT tag, public_key FROM outbox_holders ORDER BY rowid DESC"):
            if memkey.holder_alive(tag):
                return tag, bytes(public)
    return memkey.tag(), memkey.public_key()


def _day(t: float) -> float:
    return float(int(t // DAY) * DAY)


def _opened(to: str | None, body: str | None, sealed_by: str | None) -> tuple[str | None, str | None]:
    if not sealed_by:
        return to, body
    return memkey.unseal(to or ""), memkey.unseal(body or "")


def drop_orphans(db) -> int:
    """Sealed rows whose process is gone can never be opened: move them to failed, wiped, with DROPPED."""
    tags = [t for (t,) in db.execute("SELECT DISTINCT sealed_by FROM outbox WHERE sealed_by IS NOT NULL "
                                     "AND state IN ('queued', 'sending')") if not memkey.holder_alive(t)]
    dropped = 0
    for t in tags:
        dropped += db.execute(f"UPDATE outbox SET state = 'failed', error = ?, lease_owner = NULL, "  # noqa: S608 (fixed names, bound values)
                              f"lease_until = NULL, updated_at = ?, {_WIPE_IF_SENSITIVE} "
                              f"WHERE sealed_by = ? AND state IN ('queued', 'sending')",
                              [DROPPED, time.time(), t]).rowcount
    return dropped


def dropped_count(db) -> int:
    return db.execute("SELECT count(*) FROM outbox WHERE state = 'failed' AND error = ?", [DROPPED]).fetchone()[0]


def readable(db, after_id: int = 0) -> list[dict]:
    """Rows after ``after_id`` with the texts this process sealed opened: what the staff console's phone
    simulator and `dalil simulate` show as SMS received (rows sealed elsewhere show None)."""
    cols = ("id", "to_number", "body", "kind", "state", "encoding", "segments", "sealed_by")
    out = []
    for row in db.execute(f"SELECT {', '.join(cols)} FROM outbox WHERE id > ? ORDER BY id", [after_id]):  # noqa: S608 (fixed names, bound values)
        r = dict(zip(cols, row))
        r["to_number"], r["body"] = _opened(r["to_number"], r["body"], r.pop("sealed_by"))
        out.append(r)
    return out


def claim(db, owner: str, route: tuple[str, list], channels: Iterable[str], limit: int, lease_seconds: float,
          now: float | None = None, provider_id_sql: str = "provider_id") -> list[Outgoing]:
    """Lease up to ``limit`` ready rows whose route (an SQL expression from gateway.routing) is in ``channels``.

    One UPDATE ... RETURNING: the rows move to ``sending`` in the same statement that picks them, so two
    dispatchers never get the same row. Highest priority first, then the longest waiting.
    """
    channels = list(channels)
    if not channels or limit <= 0:
        return []
    now = time.time() if now is None else now
    expr, params = route
    marks = ", ".join("?" for _ in channels)
    rows = db.execute(
        f"UPDATE outbox SET state = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1, "  # noqa: S608 (fixed names, bound values)
        f"channel = ({expr}), provider_id = {provider_id_sql}, updated_at = ? "
        f"WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND not_before <= ? "
        f"AND (expires_at IS NULL OR expires_at > ?) AND (sealed_by IS NULL OR sealed_by = ?) "
        f"AND ({expr}) IN ({marks}) ORDER BY priority, not_before, id LIMIT ?{_skip_locked(db)}) "
        f"RETURNING id, to_number, body, channel, segments, idempotency_key, attempts, sensitive, priority, "
        f"not_before, provider_id, sealed_by, kind",
        [owner, now + lease_seconds, *params, now, now, now, memkey.tag(), *params, *channels, limit],
    ).fetchall()
    rows.sort(key=lambda r: (r[8], r[9], r[0]))
    return [Outgoing(r[0], *_opened(r[1], r[2], r[11]), r[3], r[4] or 1, r[5], r[6], bool(r[7]), r[10], r[12])
            for r in rows]


def _skip_locked(db) -> str:
    """PostgreSQL: rows another dispatcher is claiming are passed over, not waited for and then taken twice.
    SQLite has one writer at a time and needs nothing."""
    return " FOR UPDATE SKIP LOCKED" if dialect(db) == "postgresql" else ""


def mark_sent(db, msg_id: int, provider_id: str | None, now: float | None = None) -> bool:
    """The provider took it. Also from ``queued``: if our lease lapsed, the send still happened and must count.

    Returns True when a sensitive row was wiped (the WAL then needs a scrub).
    """
    now = time.time() if now is None else now
    row = db.execute(
        f"UPDATE outbox SET state = 'sent', provider_id = CASE WHEN sensitive = 1 THEN ? ELSE ? END, sent_at = ?, "  # noqa: S608 (fixed names, bound values)
        f"updated_at = ?, error = NULL, lease_owner = NULL, lease_until = NULL, {_WIPE_IF_SENSITIVE} "
        f"WHERE id = ? AND state IN ('sending', 'queued') RETURNING sensitive",
        [_blinded(provider_id), provider_id, now, now, msg_id],
    ).fetchone()
    return bool(row and row[0])


def _blinded(provider_id: str | None) -> str | None:
    return memkey.blind(provider_id) if provider_id else provider_id


def mark_sent_by_provider_ids(db, channel: str, ids: Iterable[str], now: float | None = None) -> tuple[int, bool]:
    """For pull channels (SMSSync): the phone confirms by uuid. Returns (rows moved, any sensitive wiped).

    The uuid is ours, random, and the phone asks for it again (task=result), so it is kept as is: the phone that
    holds the texts is the one log it joins to."""
    ids = list(ids)
    if not ids:
        return 0, False
    now = time.time() if now is None else now
    marks = ", ".join("?" for _ in ids)
    rows = db.execute(
        f"UPDATE outbox SET state = 'sent', sent_at = ?, updated_at = ?, error = NULL, lease_owner = NULL, "  # noqa: S608 (fixed names, bound values)
        f"lease_until = NULL, {_WIPE_IF_SENSITIVE} "
        f"WHERE channel = ? AND provider_id IN ({marks}) AND state IN ('sending', 'queued') RETURNING sensitive",
        [now, now, channel, *ids],
    ).fetchall()
    return len(rows), any(r[0] for r in rows)


def mark_retry(db, msg_id: int, owner: str, error: str, not_before: float, now: float | None = None) -> None:
    """Back to the queue after a transient failure, not before ``not_before`` (backoff)."""
    now = time.time() if now is None else now
    db.execute(
        "UPDATE outbox SET state = 'queued', not_before = ?, error = ?, lease_owner = NULL, lease_until = NULL, "
        "updated_at = ? WHERE id = ? AND state = 'sending' AND lease_owner = ?",
        [not_before, clean_error(error), now, msg_id, owner],
    )


def mark_failed(db, msg_id: int, error: str, now: float | None = None) -> bool:
    """A permanent failure: final, with its reason. Returns True when a sensitive row was wiped."""
    now = time.time() if now is None else now
    row = db.execute(
        f"UPDATE outbox SET state = 'failed', error = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?, "  # noqa: S608 (fixed names, bound values)
        f"{_WIPE_IF_SENSITIVE} WHERE id = ? AND state IN ('queued', 'sending') RETURNING sensitive",
        [clean_error(error), now, msg_id],
    ).fetchone()
    return bool(row and row[0])


def release(db, ids: Iterable[int], owner: str, now: float | None = None) -> None:
    """Give back leased rows that were never tried (shutdown, circuit opened): the claim's attempt is undone."""
    ids = list(ids)
    if not ids:
        return
    now = time.time() if now is None else now
    marks = ", ".join("?" for _ in ids)
    db.execute(
        f"UPDATE outbox SET state = 'queued', {UNDO_ATTEMPT}, lease_owner = NULL, "  # noqa: S608 (fixed names, bound values)
        f"lease_until = NULL, updated_at = ? WHERE id IN ({marks}) AND state = 'sending' AND lease_owner = ?",
        [now, *ids, owner],
    )


def reclaim_expired_leases(db, now: float | None = None) -> int:
    """Rows whose dispatcher died mid-send go back to the queue. The provider may already have them: this is
    where an at-least-once duplicate can come from, and why the lease is longer than any send's timeout."""
    now = time.time() if now is None else now
    cur = db.execute(
        "UPDATE outbox SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ? "
        "WHERE state = 'sending' AND lease_until < ?", [now, now])
    return cur.rowcount


def release_stranded_retries(db, horizon: float, now: float | None = None) -> int:
    """A retry waits at most the backoff cap; one due further ahead than ``horizon`` was scheduled before the clock
    was set back, and would otherwise wait out the whole step. Blasts, and messages never tried, are left alone:
    their ``not_before`` is a time of day (quiet hours, pacing, a pause; a job alert or a poll's result SMS waiting
    for the end of quiet hours), which a clock step does not change the meaning of."""
    now = time.time() if now is None else now
    cur = db.execute("UPDATE outbox SET not_before = ?, updated_at = ? WHERE state = 'queued' AND kind != 'blast' "
                     "AND attempts > 0 AND not_before > ?", [now, now, now + horizon])
    return cur.rowcount


def expire_overdue(db, now: float | None = None) -> tuple[int, bool]:
    """Queued rows past their expiry will not be sent. Returns (rows expired, any sensitive wiped)."""
    now = time.time() if now is None else now
    rows = db.execute(
        f"UPDATE outbox SET state = 'expired', error = coalesce(error, 'not sent before expiry'), "  # noqa: S608 (fixed names, bound values)
        f"updated_at = ?, {_WIPE_IF_SENSITIVE} WHERE state = 'queued' AND expires_at <= ? RETURNING sensitive",
        [now, now]).fetchall()
    return len(rows), any(r[0] for r in rows)


def record_receipt(db, channel: str, provider_id: str, delivered: bool, error: str | None = None,
                   now: float | None = None) -> bool:
    """A delivery report: delivered, or failed with its reason. False when no sent row has this provider id."""
    now = time.time() if now is None else now
    ids = [provider_id, memkey.blind(provider_id)]  # a sensitive row keeps the id blinded
    if delivered:
        # from 'sending' too (a report can overtake the phone's "sent"): delivered is final, so a sensitive row
        # loses its number and text here as well
        cur = db.execute(
            f"UPDATE outbox SET state = 'delivered', delivered_at = ?, updated_at = ?, {_WIPE_IF_SENSITIVE}, "  # noqa: S608 (fixed names, bound values)
            f"lease_owner = NULL, lease_until = NULL "
            f"WHERE channel = ? AND provider_id IN (?, ?) AND state IN ('sent', 'sending', 'delivered')",
            [now, now, channel, *ids])
    else:
        cur = db.execute(
            f"UPDATE outbox SET state = 'failed', error = ?, updated_at = ?, {_WIPE_IF_SENSITIVE} "  # noqa: S608 (fixed names, bound values)
            f"WHERE channel = ? AND provider_id IN (?, ?) AND state IN ('sent', 'sending', 'delivered')",
            [clean_error(error or "undelivered"), now, channel, *ids])
    return cur.rowcount > 0


def in_flight(db, channel: str) -> bool:
    """A message claimed for this channel and not yet recorded as sent or failed."""
    return db.execute("SELECT 1 FROM outbox WHERE state = 'sending' AND channel = ? LIMIT 1",
                      [channel]).fetchone() is not None


def counts_by_state(db) -> dict[str, int]:
    return {row[0]: row[1] for row in db.execute("SELECT state, count(*) FROM outbox GROUP BY state")}


def is_empty(db) -> bool:
    """Nothing queued and nothing being sent."""
    return db.execute("SELECT 1 FROM outbox WHERE state IN ('queued', 'sending') LIMIT 1").fetchone() is None


def sent_awaiting_receipt(db, channel: str, since: float, limit: int) -> list[str]:
    """Provider ids of the channel's messages sent after ``since`` with no receipt yet, newest first."""
    return [r[0] for r in db.execute(
        "SELECT provider_id FROM outbox WHERE channel = ? AND state = 'sent' AND provider_id IS NOT NULL "
        "AND sent_at > ? ORDER BY sent_at DESC LIMIT ?", [channel, since, limit])]


def knows_provider_id(db, channel: str, provider_id: str) -> bool:
    return db.execute("SELECT 1 FROM outbox WHERE channel = ? AND provider_id = ?",
                      [channel, provider_id]).fetchone() is not None


def last_id(db) -> int:
    """The newest row's id (0 when empty): what was queued after a moment is what has a greater id."""
    return db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]


def oldest_queued(db) -> float | None:
    return db.execute("SELECT min(created_at) FROM outbox WHERE state = 'queued'").fetchone()[0]
