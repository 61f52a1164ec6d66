"""Channel state: per channel the last success, the last error, the run of consecutive transient failures and the
circuit breaker (``open_until``: routing leaves the channel out until then), when a message last came in, and for
a channel behind a device (the SMSSync phone, the GSM modem) when it was last heard from. The dispatcher and the
channels write it; routing, health and `dalil status` read it. The SQL of ``channel_health``, of the register of
inbound messages (``inbound_seen``) and of the link alerts (``link_alerts``) is here only.
"""
from __future__ import annotations

import time

from gateway.logs import clean_error

# last success, last error and last message in, to the minute: a reply's send time (or the answer that led to it)
# would date the hop that queued it, and a referral with it; the links' silence limits are minutes
HEALTH_GRAIN = 60.0


def coarse(t: float) -> float:
    return t - t % HEALTH_GRAIN


def record_success(db, channel: str, now: float | None = None) -> None:
    now = coarse(time.time() if now is None else now)
    db.execute(
        "INSERT INTO channel_health (channel, last_success, consecutive_failures) VALUES (?, ?, 0) "
        "ON CONFLICT(channel) DO UPDATE SET last_success = excluded.last_success, consecutive_failures = 0, "
        "open_until = NULL", [channel, now])


def record_failure(db, channel: str, error: str, threshold: int, open_seconds: float,
                   now: float | None = None) -> bool:
    """Count one transient failure; at ``threshold`` in a row the circuit opens. Returns True when it is open."""
    now = time.time() if now is None else now
    row = db.execute(
        "INSERT INTO channel_health (channel, last_error, last_error_text, consecutive_failures, open_until) "
        "VALUES (?, ?, ?, 1, CASE WHEN ? <= 1 THEN ? END) "
        "ON CONFLICT(channel) DO UPDATE SET last_error = excluded.last_error, "
        "last_error_text = excluded.last_error_text, consecutive_failures = channel_health.consecutive_failures + 1, "
        "open_until = CASE WHEN channel_health.consecutive_failures + 1 >= ? THEN ? ELSE channel_health.open_until END "
        "RETURNING open_until",
        [channel, coarse(now), clean_error(error), threshold, now + open_seconds, threshold, now + open_seconds]
    ).fetchone()
    return bool(row and row[0] and row[0] > now)


def record_seen(db, channel: str, now: float | None = None) -> None:
    """A pull channel (the SMSSync phone) polled: it is online."""
    now = time.time() if now is None else now
    db.execute("INSERT INTO channel_health (channel, last_seen) VALUES (?, ?) "
               "ON CONFLICT(channel) DO UPDATE SET last_seen = excluded.last_seen", [channel, now])


def record_inbound(db, channel: str, now: float | None = None) -> None:
    """A message came in on this channel: the link is alive."""
    now = coarse(time.time() if now is None else now)
    db.execute("INSERT INTO channel_health (channel, last_in) VALUES (?, ?) "
               "ON CONFLICT(channel) DO UPDATE SET last_in = excluded.last_in", [channel, now])


def channel_rows(db) -> dict[str, dict]:
    cols = ("last_success", "last_error", "last_error_text", "consecutive_failures", "open_until", "last_seen",
            "last_in")
    return {row[0]: dict(zip(cols, row[1:])) for row in db.execute(
        f"SELECT channel, {', '.join(cols)} FROM channel_health")}  # noqa: S608 (fixed names, bound values)


# -- the register of inbound messages: hashes of provider ids, to the hour -----------------------------------------

def first_sight(db, dedupe_key: str, hour: float) -> bool:
    """Record an inbound message's key; False when it was recorded already (the provider re-sent it)."""
    return bool(db.execute("INSERT INTO inbound_seen (dedupe_key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                           [dedupe_key, hour]).rowcount)


# -- what staff were told about each link (``link_alerts``) ---------------------------------------------------------

def link_watch(db) -> dict[str, tuple[float, float | None]]:
    """Per channel: (watched since, down since or None)."""
    return {name: (since, down) for name, since, down in db.execute(
        "SELECT channel, watched_since, down_since FROM link_alerts")}


def watch_link(db, channel: str, now: float) -> None:
    db.execute("INSERT INTO link_alerts (channel, watched_since) VALUES (?, ?) ON CONFLICT DO NOTHING",
               [channel, coarse(now)])  # to the minute, as the other link times


def mark_link(db, channel: str, down_since: float | None) -> None:
    db.execute("UPDATE link_alerts SET down_since = ? WHERE channel = ?", [down_since, channel])

