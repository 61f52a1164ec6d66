"""Dalil gateway: the Flask app factory.

``create_app(config)`` takes a path to a TOML file or a mapping of the same shape (see config.example.toml),
checks it, brings the database schema up to date, and registers one blueprint per channel plus the staff pages.
"""
from __future__ import annotations

import importlib
import logging
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app, jsonify, redirect, request, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from gateway import config as config_module
from gateway import keys, logs, procguard, store
from gateway.webrequest import GatewayRequest

log = logging.getLogger(__name__)

# "module:attribute" of every blueprint, and the modules whose init_app(app) runs once the app exists.
BLUEPRINTS = (
    "gateway.health:bp",
    "gateway.channels.africastalking:bp",
    "gateway.channels.generic_ussd:bp",
    "gateway.channels.twilio:bp",
    "gateway.channels.smssync:bp",
    "gateway.channels.kannel:bp",
    "referrals.api:bp",
    "gateway.console:bp",
)

INIT_MODULES = ("flows.runtime", "referrals.runtime", "messages.runtime")

MAX_REQUEST_BYTES = 256 * 1024  # a webhook is a few hundred bytes; a directory import can be larger


class StaffOnlySessions(SecureCookieSessionInterface):
    """Providers' webhooks carry no cookies: skip the signed-cookie work on the hot path they share."""

    def open_session(self, app, request):
        if request.path.startswith("/hooks/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


@dataclass
class Dalil:
    """What the running gateway knows: its config and where its state lives."""
    config: dict[str, dict[str, Any]]
    services: dict[str, Any] = field(default_factory=dict)  # long-lived helpers (sessions, scheduler, ...)
    source: str | None = None  # the config file it was started with, if any

    def config_file(self) -> str:
        """The file to edit to change a key: the one in use, or where Dalil would read one."""
        return self.source or str(config_module.home() / "dalil.toml")

    @property
    def db_path(self) -> str:
        return self.config["gateway"]["database"]

    @property
    def keys_dir(self) -> str:
        return self.config["gateway"]["keys_dir"]

    def db(self):
        return store.connect(self.db_path)

    def secret(self, name: str) -> bytes:
        return keys.secret(self.keys_dir, name)


def dalil() -> Dalil:
    return current_app.extensions["dalil"]


def initialize(cfg: dict, source: str | None = None) -> Dalil:
    """Create the database, its schema and the secrets if they are missing (idempotent)."""
    gw = cfg["gateway"]
    if gw["database"] != ":memory:":
        Path(gw["database"]).parent.mkdir(parents=True, exist_ok=True)
    Path(gw["keys_dir"]).mkdir(parents=True, exist_ok=True)
    from gateway import contacts, outbox, routing  # they import this module's dalil()
    ctx = Dalil(cfg, source=source)
    routing.install(cfg)
    contacts.configure(gw["keys_dir"], gw["caller_window_days"])
    store.migrate(ctx.db())
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
    app = Flask(__name__)
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
    for name in INIT_MODULES:
        importlib.import_module(name).init_app(app)
    return app


def _register_blueprints(app: Flask) -> None:
    for spec in BLUEPRINTS:
        module, attr = spec.split(":")
        app.register_blueprint(getattr(importlib.import_module(module), attr))


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

    @app.errorhandler(sqlite3.OperationalError)
    def storage_unavailable(e):
        # disk full, read-only or locked database: the transaction rolled back; the provider will retry
        log.error("storage unavailable: %s", e)
        return jsonify(error="Service Unavailable", reason="storage unavailable, try again"), 503

    @app.errorhandler(Exception)
    def unexpected(e: Exception):
        log.exception("unhandled error on %s %s", request.method, _loggable_path())
        return jsonify(error="Internal Server Error", reason="unexpected error; it has been logged"), 500


__all__ = ["create_app", "dalil", "Dalil", "initialize"]
