"""GET /healthz: outbox depth and per-channel last success, for monitoring and `dalil status`."""
from __future__ import annotations

import time

from flask import Blueprint, jsonify

from gateway import dalil

bp = Blueprint("health", __name__)


def snapshot(db) -> dict:
    states = {row[0]: row[1] for row in db.execute("SELECT state, count(*) FROM outbox GROUP BY state")}
    oldest = db.execute("SELECT min(created_at) FROM outbox WHERE state = 'queued'").fetchone()[0]
    channels = {
        row[0]: {"last_success": row[1], "last_error": row[2], "last_error_text": row[3]}
        for row in db.execute("SELECT channel, last_success, last_error, last_error_text FROM channel_health")
    }
    return {
        "status": "ok",
        "outbox": {"depth": states.get("queued", 0) + states.get("sending", 0), "by_state": states,
                   "oldest_queued_seconds": round(time.time() - oldest, 1) if oldest else None},
        "channels": channels,
    }


@bp.get("/healthz")
def healthz():
    return jsonify(snapshot(dalil().db()))
