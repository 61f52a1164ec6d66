"""What the flows package keeps alive in the running app: the engine and the live sessions."""
from __future__ import annotations

from flows.engine import Engine
from flows.sessions import SessionStore


def init_app(app) -> None:
    ctx = app.extensions["dalil"]
    ctx.services["engine"] = Engine()
    ctx.services["ussd_sessions"] = SessionStore(ctx.config["ussd"]["session_seconds"])
    ctx.services["sms_sessions"] = SessionStore(ctx.config["sms"]["session_idle_minutes"] * 60)
    ctx.services["contacts_secret"] = ctx.secret("contacts")
