"""What the flows package keeps alive in the running app: the engine and the live sessions."""
from __future__ import annotations

from werkzeug.exceptions import BadRequest

from flows import check
from flows.calls import BadCall
from flows.engine import Engine
from flows.sessions import ResumeStore, SessionStore
from gateway.config import ConfigError
from messages import i18n


def init_app(app) -> None:
    ctx = app.extensions["dalil"]
    i18n.catalogs()  # parse the .po files once now, not in every worker thread at the first calls
    ctx.services.engine = Engine(checked_flows(ctx.config))
    ctx.services.ussd_sessions = SessionStore(ctx.config["ussd"]["session_seconds"])
    ctx.services.ussd_resume = ResumeStore(ctx.config["ussd"]["resume_seconds"])
    ctx.services.sms_sessions = SessionStore(ctx.config["sms"]["session_idle_minutes"] * 60)
    ctx.services.contacts_secret = ctx.secret("contacts")
    # a webhook the transports cannot make a call of is the provider's mistake: 400 with the reason, as any other
    app.register_error_handler(BadCall, lambda e: app.handle_http_exception(BadRequest(description=str(e))))


def checked_flows(config: dict):
    """The configured flows, or ConfigError listing what `dalil flows check` would: a flow that sends a caller to
    a screen that does not exist, or shows a text missing in one language, stops the gateway before it serves."""
    directory, budget, folded = check.configured(config)
    flows, problems = check.check(directory, budget, folded)
    if problems:
        raise ConfigError(f"{directory}: {len(problems)} problem(s) in the flows (`dalil flows check` lists the "
                          "same):\n" + "\n".join(f"  {p}" for p in problems))
    return flows
