"""Signing in and out, sessions, CSRF, and the console's error pages.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, set in create_app). It holds the user id, the
account's ``session_epoch`` (a role or password change, or deactivation, raises it and ends open sessions),
the CSRF token and two times: a session idle for ``IDLE_SECONDS`` or older than ``MAX_SECONDS`` has expired.
Every POST carries a CSRF token tied to the session (Flask-WTF's CSRFProtect: signed, checked against the
session's secret, and on HTTPS against the Referer), as a form field or an ``X-CSRF-Token`` header (fetch calls).
Only the console's pages are checked: webhooks and the desks' API are not browser forms and sign their own calls.
"""
from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from flask import g, jsonify, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.exceptions import HTTPException

from gateway import store
from gateway.context import dalil
from messages import pages
from gateway.console import bp, ui, users

log = logging.getLogger(__name__)

IDLE_SECONDS = 2 * 3600
MAX_SECONDS = 12 * 3600
PUBLIC = {"console.login", "console.set_language", "console.static"}
# uploads may be larger than the app-wide limit (a webhook is a few hundred bytes)
UPLOAD_LIMITS = {"console.directory_import": 8 * 1024 * 1024}


csrf = CSRFProtect()


@bp.record_once
def _csrf_setup(state) -> None:
    state.app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked in _before, for the console's POSTs
    state.app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # as long as the session, which has its own limits
    csrf.init_app(state.app)


def _csrf_ok() -> bool:
    try:
        csrf.protect()
    except CSRFError as e:
        log.warning("console: refused a POST to %s: %s", request.path, e.description)
        return False
    return True


def wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json" or request.is_json


def _client_address() -> str:
    return request.remote_addr or "unknown"


def _login_secret() -> bytes:
    return dalil().secret("console-login")


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the console: never another site (open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "\\" in target:
        return None
    return target


def landing_url(role: str) -> str:
    return url_for(f"console.{ui.LANDING[role]}")


def _session_user() -> tuple[dict | None, bool]:
    """(the signed-in user, whether a session existed but has expired or been ended)."""
    uid = session.get("uid")
    if uid is None:
        return None, False
    now = time.time()
    user = users.get(dalil().db(), uid)
    fresh = (now - session.get("seen", 0) < IDLE_SECONDS and now - session.get("since", 0) < MAX_SECONDS)
    if user is None or not user["active"] or user["session_epoch"] != session.get("epoch") or not fresh:
        kept_lang = session.get("lang")
        session.clear()
        if kept_lang:
            session["lang"] = kept_lang
        return None, True
    if now - session.get("seen", 0) > 60:  # refresh the idle clock, at most once a minute (a new cookie)
        session["seen"] = now
    return user, False


def _needs_login(expired: bool):
    if wants_json() or request.method != "GET":
        if wants_json():
            return jsonify(error=ui.t("console.auth.expired" if expired else "console.auth.required"),
                           login=url_for("console.login")), 401
        return redirect(url_for("console.login", expired=1 if expired else None), 303)
    return redirect(url_for("console.login", next=request.full_path.rstrip("?"), expired=1 if expired else None))


@bp.before_request
def _before():
    limit = UPLOAD_LIMITS.get(request.endpoint or "")
    if limit:
        request.max_content_length = limit
    if request.endpoint == "console.static":
        return None
    g.user, expired = _session_user()
    if request.endpoint not in PUBLIC and g.user is None:
        return _needs_login(expired)
    if request.method == "POST" and not _csrf_ok():
        if wants_json():
            return jsonify(error=ui.t("console.csrf.message")), 400
        back = request.referrer if _safe_next(urlsplit(request.referrer or "").path) else None
        return ui.error_page(400, "console.csrf.title", "console.csrf.message", back=back)
    return None


@bp.after_request
def _headers(response):
    return pages.secure(response, static=request.endpoint == "console.static")  # pages may show a number


@bp.app_context_processor
def _context():
    if request.blueprint != "console" and not _in_console():
        return {}
    return {**ui.template_context(), "csrf_token": generate_csrf}


# -- error pages: in the user's language, never a stack trace ------------------------------------------------

_ERRORS = {
    400: ("console.error.400.title", "console.error.400.message"),
    403: ("console.error.403.title", "console.error.403.message"),
    404: ("console.error.404.title", "console.error.404.message"),
    405: ("console.error.405.title", "console.error.405.message"),
    413: ("console.error.413.title", "console.error.413.message"),
}


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException):
    title, message = _ERRORS.get(e.code, ("console.error.other.title", "console.error.other.message"))
    if wants_json():
        return jsonify(error=ui.t(message)), e.code
    return ui.error_page(e.code, title, message)


def _in_console() -> bool:
    return request.path == "/console" or request.path.startswith("/console/")


def _routing_error(e: HTTPException):
    """An unknown /console/ path or a wrong method fails before any console view: give it the console's page.
    Every other path keeps the app's own answer (JSON for webhooks)."""
    if _in_console():
        if "user" not in g:
            g.user = _session_user()[0]
        return _http_error(e)
    from flask import current_app
    handler = current_app.error_handler_spec[None][None].get(HTTPException)
    return handler(e) if handler else e


bp.app_errorhandler(404)(_routing_error)
bp.app_errorhandler(405)(_routing_error)


@bp.errorhandler(Exception)
def _unexpected(e: Exception):
    if isinstance(e, store.OperationalError):
        log.error("console: storage unavailable on %s %s: %s", request.method, request.path, e)
        title, message, status = "console.error.storage.title", "console.error.storage.message", 503
    else:
        log.exception("console: unexpected error on %s %s", request.method, request.path)
        title, message, status = "console.error.500.title", "console.error.500.message", 500
    if wants_json():
        return jsonify(error=ui.t(message)), status
    try:
        return ui.error_page(status, title, message)
    except Exception:  # the error page itself failed (a broken catalog): plain text, still no trace
        return "Unexpected error; it has been logged.\n", status, {"Content-Type": "text/plain; charset=utf-8"}


# -- routes -------------------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    if g.user is not None and request.method == "GET":
        return redirect(landing_url(g.user["role"]))
    errors = ui.Errors()
    username = ""
    notice = "console.auth.expired" if request.args.get("expired") else None
    status = 200
    if request.method == "POST":
        db = dalil().db()
        username = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")
        wait = users.locked_for(db, _login_secret(), username, _client_address())
        if wait > 0:
            log.warning("console: login refused by the rate limit (%d recent failures)", users.MAX_FAILURES)
            errors.add("form", "console.login.locked", minutes=ui.number(max(1, round(wait / 60))))
            status = 429
        else:
            user = users.authenticate(db, username, password)
            if user is None:
                users.record_failure(db, _login_secret(), username, _client_address())
                known = users.by_name(db, username) is not None
                log.warning("console: failed login for %s", f"user {username!r}" if known else "an unknown name")
                errors.add("form", "console.login.failed")
                status = 401
            else:
                users.logged_in(db, _login_secret(), user["id"], user["username"])
                chosen_lang = session.get("lang")
                session.clear()
                now = time.time()
                # session.clear() dropped the CSRF secret too: a token from before signing in is refused
                session.update(uid=user["id"], epoch=user["session_epoch"], since=now, seen=now,
                               lang=chosen_lang or user["language"])
                log.info("console: %s signed in (%s)", user["username"], user["role"])
                target = _safe_next(request.args.get("next"))
                if target and not _forbidden_target(user["role"], target):
                    return redirect(target, 303)
                return redirect(landing_url(user["role"]), 303)
    return ui.render("login.html", status, errors=errors, username=username, notice=notice)


def _forbidden_target(role: str, target: str) -> bool:
    from flask import current_app
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(urlsplit(target).path)
    except HTTPException:
        return True
    view = current_app.view_functions.get(endpoint)
    name = getattr(view, "console_area", None)
    return name is not None and not ui.allowed(role, name)


@bp.post("/logout")
def logout():
    kept_lang = session.get("lang")
    if g.user:
        log.info("console: %s signed out", g.user["username"])
    session.clear()
    if kept_lang:
        session["lang"] = kept_lang
    return redirect(url_for("console.login", out=1), 303)


@bp.post("/language")
def set_language():
    chosen = request.form.get("lang", "")
    if chosen in ui.LANGUAGES:
        session["lang"] = chosen
        if g.user:
            users.update(dalil().db(), g.user["id"], language=chosen)
    fallback = landing_url(g.user["role"]) if g.user else url_for("console.login")
    target = _safe_next(request.form.get("next")) or fallback
    return redirect(target, 303)


@bp.get("/")
def index():
    return redirect(landing_url(g.user["role"]))
