"""The desk's local inbox: a small Flask app on 127.0.0.1, served by waitress on the caseworker's machine.

It reads only the desk's own SQLite file, so it works with no connection; decisions are queued and go to the
gateway at the next sync. Forms carry Flask-WTF's CSRF token (its session key is made at start) and the Host
header must be the loopback address, so a web page open in the same browser cannot post decisions (CSRF) or
read the inbox through DNS rebinding.

It looks like the staff console: the same stylesheet (served from the console's static folder, nothing from
outside), system fonts, ar/fr/en with a switch on every page. Every code an envelope carries (need, area,
nationality, situation, language, channel) is shown by its name; dates in the page's language; phone numbers and
codes isolated left to right so they read the same in Arabic. Alerts from the sync (a rewritten log, a refused
envelope, any kind a later check adds) head every page until someone deals with them.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

import phonenumbers
from flask import Flask, abort, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import ChoiceLoader, FileSystemLoader
from markupsafe import Markup, escape

from messages import i18n, pages
from referrals.desk import client, store
from referrals.desk.home import Desk

_csrf = CSRFProtect()
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# the console's stylesheet and page parts, shared: one look for every page Dalil serves
CONSOLE = Path(__file__).resolve().parent.parent.parent / "gateway" / "console"
STATIC = CONSOLE / "static"
TABS = {"new": ("new",), "accepted": ("accepted",), "closed": ("declined", "closed")}
LANG_COOKIE = "desk_lang"


def _area_names() -> dict[str, dict[str, str]]:
    """Names of the area codes an envelope carries, from the reference data the flows package ships."""
    try:
        from flows.store import DELEGATIONS, GOVERNORATES
    except ImportError:  # pragma: no cover - the desk then shows codes
        return {}
    rows = list(GOVERNORATES) + [d for ds in DELEGATIONS.values() for d in ds]
    return {code: {"ar": ar, "fr": fr, "en": en} for code, ar, fr, en in rows}


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _phone(number: str) -> str:
    """+216 20 123 456 rather than +21620123456: easier to read out and dial."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(number, None),
                                          phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return number


def create_desk_app(desk: Desk) -> Flask:
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(Path(__file__).parent / "templates")),
                                     FileSystemLoader(str(CONSOLE / "templates"))])
    app.json.ensure_ascii = False
    # forms carry Flask-WTF's CSRF token, tied to a session signed with a key made at start: a page from before
    # a restart cannot post (as with the per-process token this replaced)
    app.config.update(SECRET_KEY=secrets.token_bytes(32), WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None,
                      SESSION_COOKIE_SAMESITE="Strict")
    _csrf.init_app(app)
    app.extensions["desk"] = _Served(desk, _area_names())
    app.extensions["desk.sync_lock"] = app.extensions["desk"].sync_lock
    app.before_request(_guard)
    app.after_request(_headers)
    app.context_processor(_helpers)
    app.add_url_rule("/", "inbox", _inbox, methods=["GET"])
    app.add_url_rule("/r/<referral_id>", "show", _show, methods=["GET"])
    app.add_url_rule("/r/<referral_id>/<decision>", "decide", _decide, methods=["POST"])
    app.add_url_rule("/sync", "sync_now", _sync_now, methods=["POST"])
    app.add_url_rule("/lang", "set_language", _set_language, methods=["POST"])
    app.register_error_handler(404, _not_found)
    return app


@dataclass
class _Served:
    """What the desk's views share: the desk, area names, one sync at a time."""
    desk: Desk
    areas: dict
    sync_lock: threading.Lock = field(default_factory=threading.Lock)


def _served() -> _Served:
    return current_app.extensions["desk"]


# -- the page's language and the texts templates use ---------------------------------------------------------

def _lang() -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in i18n.LANGUAGES else _served().desk.language


def _tr(key: str, **values) -> str:
    return i18n.t(_lang(), key, **values)


def _not_given(field_name: str) -> str:
    return _tr(f"desk.not_given.{field_name}")


def _area(code: str) -> str:
    return _served().areas.get(code, {}).get(_lang(), code) if code else _not_given("area")


def _label(prefix: str, code: str, field_name: str) -> str:
    if not code:
        return _not_given(field_name)
    key = f"{prefix}.{code}"
    return _tr(key) if i18n.has(key, _lang()) else _tr("desk.unknown_code", code=code)


def _day_text(value: str) -> str:
    parsed = _day(value)
    return i18n.when(parsed, _lang(), "long") if parsed else value


def _moment(value: str) -> str:
    try:
        return i18n.clock(datetime.strptime(value, "%Y-%m-%d %H:%M"), _lang())
    except (TypeError, ValueError):
        return value


def _alert_value(v) -> Markup:
    if isinstance(v, str) and _day(v):
        return escape(_day_text(v))
    if not any(c.isalpha() for c in str(v)):
        return escape(str(v))  # a number reads the same in either direction: "#4" stays as written
    return Markup('<bdi dir="auto">{}</bdi>').format(v)


def _alert_text(alert: dict) -> Markup:
    """Any alert kind: its own text when the catalogs have one, else a generic one that still names it. Days
    are written in the page's language; every value is escaped, and one with letters isolated (<bdi>), so a key
    fingerprint or a kind in Latin letters cannot reorder an Arabic sentence."""
    key = f"desk.alert.{alert['kind']}"
    params = {k: _alert_value(v) for k, v in (alert.get("params") or {}).items()}
    if i18n.has(key, _lang()):
        try:
            return escape(i18n.t(_lang(), key)).format(**params)
        except (KeyError, IndexError):
            pass
    details = Markup(", ").join(Markup("{}: {}").format(k, v) for k, v in params.items())
    return escape(_tr("desk.alert_generic")).format(kind=_alert_value(alert["kind"]), details=details or "-")


def _helpers():
    current, served = _lang(), _served()
    return {"t": _tr, "label": _label, "area": _area, "day": _day_text, "moment": _moment, "phone": _phone,
            "alert_text": _alert_text, "lang": current, "rtl": i18n.is_rtl(current),
            "languages": i18n.LANGUAGES, "cso": served.desk.cso_id, "number": lambda n: i18n.number(n, current),
            "plural": lambda key, n: i18n.plural(current, key, n)}


# -- every request ---------------------------------------------------------------------------------------------

def _guard():
    host = (request.host or "").rsplit(":", 1)[0]
    if host not in LOCAL_HOSTS:
        abort(403, description="the desk answers on the loopback address only")
    if request.method == "POST":
        try:
            _csrf.protect()
        except CSRFError:
            abort(403, description="stale or missing form token: reload the page")


def _headers(response):  # the console's headers; pages hold a person's number and note: never cached
    return pages.secure(response, static=request.endpoint == "static", referrer="no-referrer")


def _status_bar(conn) -> dict:
    return {"alerts": store.alerts(conn), "pending": len(store.outgoing(conn)),
            "last_sync": store.get_state(conn, "last_sync"), "last_error": store.get_state(conn, "last_error")}


# -- the pages ---------------------------------------------------------------------------------------------------

def _inbox():
    with store.connect(_served().desk.db_path) as conn:
        everything = store.referrals(conn)
        counts = {tab: sum(r["status"] in states for r in everything) for tab, states in TABS.items()}
        show = request.args.get("show")
        if show not in TABS:
            show = "new" if counts["new"] or not everything else next(t for t in TABS if counts[t])
        shown = [r for r in everything if r["status"] in TABS[show]]
        return render_template("inbox.html", referrals=shown, counts=counts, show=show, **_status_bar(conn))


def _show(referral_id):
    with store.connect(_served().desk.db_path) as conn:
        referral = store.referral(conn, referral_id)
        if referral is None:
            abort(404)
        return render_template("referral.html", r=referral, c=referral["content"], **_status_bar(conn))


def _decide(referral_id, decision):
    desk = _served().desk
    if decision == "note":
        with store.connect(desk.db_path) as conn:
            store.set_note(conn, referral_id, request.form.get("note", "")[:4000])
    elif decision in ("accepted", "declined", "closed"):
        reason = request.form.get("reason", "")[:500] if decision == "declined" else None
        if not client.act(desk, referral_id, decision, reason):
            abort(404)
        threading.Thread(target=_push_quietly, args=(_served(),), daemon=True).start()
    else:
        abort(404)
    return redirect(url_for("show", referral_id=referral_id))


def _sync_now():
    served = _served()
    with served.sync_lock:
        client.sync(served.desk)
    return redirect(_back())


def _set_language():
    response = redirect(_back())
    chosen = request.form.get("lang")
    if chosen in i18n.LANGUAGES:
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, httponly=True, samesite="Strict")
    return response


def _back() -> str:
    """Where a form came from, on this desk only."""
    target = request.form.get("next", "")
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return url_for("inbox")
    return target


def _push_quietly(served: _Served):
    if served.sync_lock.acquire(blocking=False):
        try:
            client.push(served.desk, client.Gateway(served.desk))
        except Exception:  # noqa: S110 (offline: the queued decisions go with the next sync, which reports it)
            pass
        finally:
            served.sync_lock.release()


def _not_found(e):
    with store.connect(_served().desk.db_path) as conn:
        return render_template("missing.html", **_status_bar(conn)), 404
