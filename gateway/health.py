"""Health: `dalil status`'s and GET /healthz's figures (outbox depth, per channel state and whether it routes now),
and the links that say when they are down (``link_alerts``: staff get one SMS per change, through another route).
The per channel state itself is gateway.channel_state.
"""
from __future__ import annotations

import hmac
import logging
import time

from flask import Blueprint, jsonify, request

from gateway import channel_state, outbox, routing
from gateway.context import dalil
from gateway.store import transaction

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def snapshot(db, config: dict | None = None, now: float | None = None) -> dict:
    """Outbox depth by state, oldest queued age, and per channel: last success/error and whether it routes now."""
    now = time.time() if now is None else now
    states = outbox.counts_by_state(db)
    oldest = outbox.oldest_queued(db)
    channels = channel_state.channel_rows(db)
    if config is not None:
        available = routing.available_channels(config, db, now)
        for name in routing.configured_channels(config):
            channels.setdefault(name, {"last_success": None, "last_error": None, "last_error_text": None,
                                       "consecutive_failures": 0, "open_until": None, "last_seen": None,
                                       "last_in": None})
        for name, info in channels.items():
            info["available"] = name in available
            info["circuit_open"] = bool(info.get("open_until") and info["open_until"] > now)
    return {
        "status": "ok",
        "links": links(db, config, now) if config is not None else {},
        "outbox": {"depth": states.get("queued", 0) + states.get("sending", 0), "by_state": states,
                   "oldest_queued_seconds": round(now - oldest, 1) if oldest else None,
                   "dropped_at_restart": outbox.dropped_count(db)},
        "channels": channels,
    }


# -- links that say when they are down ---------------------------------------------------------------------------

def silent_after_seconds(config: dict, channel: str) -> float:
    section = config["links"]
    return float(section["silent_after"].get(channel, section["silent_after_minutes"])) * 60


def links(db, config: dict, now: float | None = None) -> dict[str, dict]:
    """Per configured channel: last message in, last out, last poll (phone, modem), how long it has been silent,
    and whether that is past its limit. A link never heard from counts from when the dispatcher began watching."""
    now = time.time() if now is None else now
    rows = channel_state.channel_rows(db)
    watched = {name: since for name, (since, _) in channel_state.link_watch(db).items()}
    out = {}
    for name in routing.configured_channels(config):
        row = rows.get(name, {})
        last_poll = row.get("last_seen") if name in routing.polled_channels() else None
        heard = [t for t in (row.get("last_in"), row.get("last_success"), last_poll) if t]
        since = max(heard) if heard else watched.get(name)
        silent = max(0.0, now - since) if since else None
        limit = silent_after_seconds(config, name)
        out[name] = {"last_in": row.get("last_in"), "last_out": row.get("last_success"), "last_poll": last_poll,
                     "polled": name in routing.polled_channels(), "silent_seconds": silent,
                     "silent_after_seconds": limit, "down": silent is not None and silent > limit}
    return out


def check_links(ctx, db, now: float | None = None) -> list[tuple[str, str, float]]:
    """Compare each link with what staff were last told; returns the changes [(channel, "down" | "up", silent
    seconds)] and queues one alert SMS per change to [links] alert_numbers, through another route."""
    now = time.time() if now is None else now
    config = ctx.config
    with transaction(db):
        for name in links(db, config, now):
            channel_state.watch_link(db, name, now)
        state = links(db, config, now)
        told = {name: down for name, (_, down) in channel_state.link_watch(db).items()}
        changes = []
        for name, link in state.items():
            was_down = told.get(name) is not None
            if link["down"] != was_down:
                channel_state.mark_link(db, name, channel_state.coarse(now) if link["down"] else None)
                changes.append((name, "down" if link["down"] else "up", link["silent_seconds"] or 0.0))
        for name, change, silent in changes:
            _alert_staff(ctx, db, state, name, change, silent, now)
    for name, change, silent in changes:
        if change == "down":
            log.warning("link %s is down: nothing in or out for %d min", name, silent // 60)
        else:
            log.warning("link %s is back", name)
    return changes


def _alert_staff(ctx, db, state: dict, name: str, change: str, silent: float, now: float) -> None:
    from messages import i18n
    config = ctx.config
    lang = config["gateway"]["default_language"]
    text = i18n.t(lang, f"links.sms.{change}", channel=name, minutes=int(silent // 60))
    available = routing.available_channels(config, db, now)
    others = [c for c in routing.channel_names() if c != name and c in available and not state.get(c, {}).get("down")]
    for number in config["links"]["alert_numbers"]:
        outbox.enqueue(db, str(number), text, kind="notice", channel=others[0] if others else None,
                       idempotency_key=f"link:{name}:{change}:{int(now)}:{number}",
                       max_age_hours=config["dispatcher"]["max_age_hours"])


@bp.get("/healthz")
def healthz():
    """"up" for anyone; the figures only with [gateway] status_token: depth and sent counts that tick with every
    message are an activity feed, and a referral is a message."""
    ctx = dalil()
    token = ctx.config["gateway"]["status_token"]
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return jsonify(snapshot(ctx.db(), ctx.config))
    return jsonify(status="up")
