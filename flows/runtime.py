"""What the flows package keeps alive in the running app: the engine and the live sessions."""
from __future__ import annotations

from flows.engine import Engine
from flows.sessions import ResumeStore, SessionStore
from messages import i18n


def init_app(app) -> None:
    ctx = app.extensions["dalil"]
    i18n.catalogs()  # parse the .po files once now, not in every worker thread at the first calls
    ctx.services["engine"] = Engine()
    ctx.services["ussd_sessions"] = SessionStore(ctx.config["ussd"]["session_seconds"])
    ctx.services["ussd_resume"] = ResumeStore(ctx.config["ussd"]["resume_seconds"])
    ctx.services["sms_sessions"] = SessionStore(ctx.config["sms"]["session_idle_minutes"] * 60)
    ctx.services["contacts_secret"] = ctx.secret("contacts")
