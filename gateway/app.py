"""The assembly: everything Dalil is made of is listed here, in code an editor can follow.

``create_app(config)`` takes a path to a TOML file or a mapping of the same shape (see config.example.toml),
checks it, brings the database schema up to date (``schemas()``), hooks the features into the delivery path
(``hooks()``), registers the blueprints (health, one per channel, the referral API, the console) and lets each
package set up what it keeps in memory. ``initialize`` is the same without the web app, for the `dalil` command.
The layers (README, Layout; .importlinter) point one way: this module is at the top and may import anything;
nothing below it imports it. The features are imported inside the functions, so that importing any gateway
module (which runs gateway/__init__.py, which imports this) does not load them all.
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from gateway import config as config_module
from gateway import keys, logs, procguard, store
from gateway.context import Dalil, Hooks
from gateway.webrequest import GatewayRequest

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 256 * 1024  # a webhook is a few hundred bytes; a directory import can be larger


class StaffOnlySessions(SecureCookieSessionInterface):
    """Providers' webhooks carry no cookies: skip the signed-cookie work on the hot path they share."""

    def open_session(self, app, request):
        if request.path.startswith("/hooks/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def schemas() -> tuple[store.Schema, ...]:
    """Every package's tables, in the order they are created: a package may refer to the tables before it."""
    from flows import store as flows_store
    from messages import store as messages_store
    from polls import store as polls_store
    from jobs import store as jobs_store
    from referrals import store as referrals_store
    return (store.Schema("gateway", store.MIGRATIONS, store.PG_EXTRA), store.Schema("flows", flows_store.MIGRATIONS),
            store.Schema("messages", messages_store.MIGRATIONS),
            store.Schema("referrals", referrals_store.MIGRATIONS, referrals_store.PG_EXTRA),
            store.Schema("polls", polls_store.MIGRATIONS), store.Schema("jobs", jobs_store.MIGRATIONS))


def hooks() -> Hooks:
    """What the features give the delivery path: keyword handlers (in the order they are asked), the menus over
    SMS and USSD, the last look before a blast goes, and what a provider's opt-out calls."""
    from flows import sms as flows_sms
    from flows import ussd as flows_ussd
    from jobs import keywords as jobs_keywords
    from messages import keywords as messages_keywords
    from messages import sendcheck, subscribers
    from polls import keywords as polls_keywords
    from referrals import keywords as referrals_keywords
    return Hooks(keywords=(messages_keywords.handle, referrals_keywords.handle, polls_keywords.handle,
                           jobs_keywords.handle),
                 conversation=flows_sms.handle, ussd_hop=flows_ussd.hop, ussd_end=flows_ussd.end,
                 send_checks=(sendcheck.hold,), opt_out=subscribers.opt_out)


def initialize(cfg: dict, source: str | None = None) -> Dalil:
    """Create the database, its schema and the secrets if they are missing (idempotent)."""
    gw = cfg["gateway"]
    if store.is_file(gw["database"]):
        Path(gw["database"]).parent.mkdir(parents=True, exist_ok=True)
    Path(gw["keys_dir"]).mkdir(parents=True, exist_ok=True)
    from gateway import contacts, outbox, routing
    ctx = Dalil(cfg, source=source, hooks=hooks())
    routing.install(cfg)
    contacts.configure(gw["keys_dir"], gw["caller_window_days"])
    store.migrate(ctx.db(), schemas())
    with store.transaction(ctx.db()):
        dropped = outbox.drop_orphans(ctx.db())  # sealed by a process that is gone: nobody can open them now
    if dropped:
        log.warning("%d sealed message(s) dropped: the process holding their key stopped before sending them",
                    dropped)
        store.scrub_wal(ctx.db())
    keys.signing_key(ctx.keys_dir)
    ctx.secret("contacts")
    return ctx


def create_app(config=None) -> Flask:
    cfg = config_module.load(config)
    procguard.lock_down()  # before any caller's answer or sealed reply is in memory
    logs.setup(cfg["gateway"]["log_level"], cfg["gateway"]["log_file"])
    ctx = initialize(cfg, str(Path(config).resolve()) if isinstance(config, (str, Path)) else None)
    app = Flask("gateway")  # the package: its folder is the app's root path, its name the app's
    app.request_class = GatewayRequest  # a short path for the small webhook forms of every USSD hop
    app.extensions["dalil"] = ctx
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["SECRET_KEY"] = cfg["gateway"]["secret_key"] or ctx.secret("flask-session").hex()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.json.ensure_ascii = False
    app.session_interface = StaffOnlySessions()
    from gateway import outbox
    outbox.register_holder(ctx.db())  # the server sends what others seal to it
    _register_blueprints(app)
    # a browser pointed at the gateway's address lands on the console (and its sign-in page)
    app.add_url_rule("/", "home", lambda: redirect(url_for("console.index")))
    _register_error_handlers(app)
    _init_packages(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from gateway import channels, console, health
    from referrals import api as referrals_api
    app.register_blueprint(health.bp)
    for channel in channels.ALL:
        if channel.blueprint is not None:
            app.register_blueprint(channel.blueprint)
    app.register_blueprint(referrals_api.bp)
    app.register_blueprint(console.bp)


def _init_packages(app: Flask) -> None:
    """What each package keeps in memory, and its checks at start (a bad key stops the program here)."""
    from flows import runtime as flows_runtime
    from messages import runtime as messages_runtime
    from referrals import runtime as referrals_runtime
    flows_runtime.init_app(app)
    referrals_runtime.init_app(app)
    messages_runtime.init_app(app)


def _wants_json() -> bool:
    return (request.path.startswith(("/hooks/", "/api/", "/healthz"))
            or request.accept_mimetypes.best == "application/json")


def _loggable_path() -> str:
    """The route's pattern, not the path: Africa's Talking and aggregator URLs carry their secret token in it."""
    return request.url_rule.rule if request.url_rule is not None else request.path


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException):
        reason = e.description or e.name
        if _wants_json():
            return jsonify(error=e.name, reason=reason), e.code
        return f"{e.code} {e.name}: {reason}\n", e.code, {"Content-Type": "text/plain; charset=utf-8"}

    def storage_unavailable(e):
        # disk full, read-only or locked database, or PostgreSQL down or restarting: the transaction rolled back;
        # the provider will retry
        log.error("storage unavailable: %s", e)
        return jsonify(error="Service Unavailable", reason="storage unavailable, try again"), 503

    for error in store.OperationalError:
        app.register_error_handler(error, storage_unavailable)

    @app.errorhandler(store.UnstorableValue)
    def unstorable(e):
        # PostgreSQL refuses a NUL in a text (SQLite keeps it): no provider sends one; the transaction rolled back
        return jsonify(error="Bad Request", reason=f"a value the database cannot store: {e}"), 400

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error on %s %s", request.method, _loggable_path())
        return jsonify(error="Internal Server Error", reason="unexpected error; it has been logged"), 500


__all__ = ["create_app", "initialize", "schemas", "hooks"]
