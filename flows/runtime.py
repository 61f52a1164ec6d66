"""What the flows package keeps alive in the running app: the engine and the live sessions."""
from __future__ import annotations

import logging

from flask import jsonify
from werkzeug.exceptions import BadRequest

from flows import check
from flows.calls import BadCall
from flows.engine import Engine
from flows.sessions import ResumeStore, SessionStore, SessionsUnavailable
from gateway.config import ConfigError
from messages import i18n

log = logging.getLogger(__name__)


def init_app(app) -> None:
    ctx = app.extensions["dalil"]
    i18n.catalogs()  # parse the .po files once now, not in every worker thread at the first calls
    ctx.services.engine = Engine(checked_flows(ctx.config))
    _session_stores(ctx)
    ctx.services.contacts_secret = ctx.secret("contacts")
    # a webhook the transports cannot make a call of is the provider's mistake: 400 with the reason, as any other
    app.register_error_handler(BadCall, lambda e: app.handle_http_exception(BadRequest(description=str(e))))
    # Valkey down under an SMS (a USSD hop answers "try again" itself): nothing was recorded, the provider retries
    app.register_error_handler(SessionsUnavailable, _sessions_unavailable)


def _session_stores(ctx) -> None:
    """In this process's memory, or with [sessions] url in Valkey, sealed (flows/shared_sessions.py)."""
    ussd, resume = ctx.config["ussd"]["session_seconds"], ctx.config["ussd"]["resume_seconds"]
    sms = ctx.config["sms"]["session_idle_minutes"] * 60
    if not ctx.config["sessions"]["url"]:
        ctx.services.ussd_sessions, ctx.services.ussd_resume = SessionStore(ussd), ResumeStore(resume)
        ctx.services.sms_sessions = SessionStore(sms)
        return
    from flows import shared_sessions
    shared = shared_sessions.connect(ctx.config, ctx.config_file())
    ctx.services.ussd_sessions = shared_sessions.SharedSessionStore(shared, "ussd", ussd)
    ctx.services.ussd_resume = shared_sessions.SharedResumeStore(shared, resume)
    ctx.services.sms_sessions = shared_sessions.SharedSessionStore(shared, "sms", sms)


def _sessions_unavailable(e: SessionsUnavailable):
    log.error("sessions unavailable: %s", e)
    return jsonify(error="Service Unavailable", reason="sessions unavailable, try again"), 503


def checked_flows(config: dict):
    """The configured flows, or ConfigError listing what `dalil flows check` would: a flow that sends a caller to
    a screen that does not exist, or shows a text missing in one language, stops the gateway before it serves."""
    directory, budget, folded = check.configured(config)
    flows, problems = check.check(directory, budget, folded)
    if problems:
        raise ConfigError(f"{directory}: {len(problems)} problem(s) in the flows (`dalil flows check` lists the "
                          "same):\n" + "\n".join(f"  {p}" for p in problems))
    return flows
