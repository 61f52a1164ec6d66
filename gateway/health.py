"""Channel health and GET /healthz.

``channel_health`` holds, per channel, the last success, the last error, the run of consecutive transient
failures and the circuit breaker (``open_until``: routing leaves the channel out until then), and for a pull
channel (the SMSSync phone) when it last polled. The dispatcher writes it; routing, /healthz and `dalil status`
read it.
"""
from __future__ import annotations

import time

from flask import Blueprint, jsonify

from gateway import dalil
from gateway import outbox

bp = Blueprint("health", __name__)


def record_success(db, channel: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
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
        "VALUES (?1, ?2, ?3, 1, CASE WHEN ?4 <= 1 THEN ?5 END) "
        "ON CONFLICT(channel) DO UPDATE SET last_error = excluded.last_error, "
        "last_error_text = excluded.last_error_text, consecutive_failures = consecutive_failures + 1, "
        "open_until = CASE WHEN consecutive_failures + 1 >= ?4 THEN ?5 ELSE open_until END "
        "RETURNING open_until",
        [channel, now, outbox.clean_error(error), threshold, now + open_seconds]).fetchone()
    return bool(row and row[0] and row[0] > now)


def record_seen(db, channel: str, now: float | None = None) -> None:
    """A pull channel (the SMSSync phone) polled: it is online."""
    now = time.time() if now is None else now
    db.execute("INSERT INTO channel_health (channel, last_seen) VALUES (?, ?) "
               "ON CONFLICT(channel) DO UPDATE SET last_seen = excluded.last_seen", [channel, now])


def channel_rows(db) -> dict[str, dict]:
    cols = ("last_success", "last_error", "last_error_text", "consecutive_failures", "open_until", "last_seen")
    return {row[0]: dict(zip(cols, row[1:])) for row in db.execute(
        f"SELECT channel, {', '.join(cols)} FROM channel_health")}  # noqa: S608 (fixed names, bound values)


def snapshot(db, config: dict | None = None, now: float | None = None) -> dict:
    """Outbox depth by state, oldest queued age, and per channel: last success/error and whether it routes now."""
    now = time.time() if now is None else now
    states = outbox.counts_by_state(db)
    oldest = outbox.oldest_queued(db)
    channels = channel_rows(db)
    if config is not None:
        from gateway import routing
        available = routing.available_channels(config, db, now)
        for name in routing.configured_channels(config):
            channels.setdefault(name, {"last_success": None, "last_error": None, "last_error_text": None,
                                       "consecutive_failures": 0, "open_until": None, "last_seen": None})
        for name, info in channels.items():
            info["available"] = name in available
            info["circuit_open"] = bool(info.get("open_until") and info["open_until"] > now)
    return {
        "status": "ok",
        "outbox": {"depth": states.get("queued", 0) + states.get("sending", 0), "by_state": states,
                   "oldest_queued_seconds": round(now - oldest, 1) if oldest else None},
        "channels": channels,
    }


@bp.get("/healthz")
def healthz():
    ctx = dalil()
    return jsonify(snapshot(ctx.db(), ctx.config))
