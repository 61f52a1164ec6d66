"""What every console page shares: the language, roles and areas, rendering, formatting, form errors.

Each area of the console (dashboard, directory, ...) is open to some roles only (``AREAS``); a view declares its
area with ``@area("directory")`` and a user of another role gets the 403 page in their language.
"""
from __future__ import annotations

import functools
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import abort, g, render_template, request, session
from markupsafe import Markup, escape

from gateway.context import dalil
from messages import i18n

LANGUAGES = i18n.LANGUAGES

# area -> roles that may open it; the navigation shows a user only the areas their role opens
AREAS = {
    "dashboard": ("admin", "campaign", "municipality"),
    "directory": ("admin", "campaign"),
    "flows": ("admin", "campaign"),
    "campaigns": ("admin", "campaign"),
    "subscribers": ("admin", "campaign"),
    "simulator": ("admin", "campaign"),
    "reports": ("admin", "municipality"),
    "polls": ("admin", "campaign", "municipality"),  # results: counts only, small cells hidden
    "polls_manage": ("admin", "campaign"),
    "jobs": ("admin", "campaign", "municipality"),  # counts only, small cells hidden
    "jobs_manage": ("admin", "campaign"),
    "users": ("admin",),
}
NAV = ("dashboard", "directory", "flows", "campaigns", "subscribers", "simulator", "reports", "polls", "jobs", "users")
LANDING = {"admin": "dashboard", "campaign": "dashboard", "municipality": "reports"}
ENDPOINTS = {name: name for name in NAV} | {"flows": "flows_page", "users": "users_page", "polls": "polls.polls_page",
                                            "jobs": "jobs.jobs_page"}


def allowed(role: str | None, name: str) -> bool:
    return role in AREAS[name]


def area(name: str):
    """Mark a view as part of an area; a signed-in user whose role does not open it gets 403."""
    def wrap(view):
        @functools.wraps(view)
        def inner(*args, **kwargs):
            g.area = name
            if not allowed(g.user["role"] if g.get("user") else None, name):
                abort(403)
            return view(*args, **kwargs)
        inner.console_area = name
        return inner
    return wrap


def lang() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    user = g.get("user")
    if user and user["language"] in LANGUAGES:
        return user["language"]
    best = request.accept_languages.best_match(LANGUAGES)
    return best or dalil().config["gateway"]["default_language"]


def rtl() -> bool:
    return i18n.is_rtl(lang())


def t(key: str, /, **values) -> str:
    """The text for key in the page's language, {placeholders} filled (any name, "lang" and "key" included)."""
    text = i18n.t(lang(), key)
    return text.format(**values) if values else text


def text_of(texts: dict | None, fallback: str = "") -> str:
    """A {"ar", "fr", "en"} text in the page's language (another language if that one is missing)."""
    if not texts:
        return fallback
    return texts.get(lang()) or next((v for v in texts.values() if v), fallback)


def number(value) -> str:
    return "" if value is None else i18n.number(value, lang())


def local_time(ts: float | None, fmt: str = "medium") -> str:
    """The gateway's local time, 24-hour without seconds ("2 mars 2026 08:00"); "short" is the date alone."""
    if not ts:
        return t("console.common.never")
    tz = ZoneInfo(dalil().config["gateway"]["timezone"])
    moment = datetime.fromtimestamp(ts, timezone.utc).astimezone(tz)
    return i18n.when(moment.date(), lang(), "medium") if fmt == "short" else i18n.clock(moment, lang())


def channel_name(code: str | None) -> str:
    """A channel by its name (the SMS phone, Twilio, the USSD menu), never its code."""
    key = f"console.channel.{code}"
    return t(key) if code and i18n.has(key, lang()) else (code or "—")


def via_text(via: str | None) -> Markup:
    """How a consent change came, in words: the menu, a keyword by SMS, a file import, a staff member; text a
    staff member typed (`dalil subscribers opt-out --via`) is shown as typed, isolated."""
    via = via or ""
    word, _, rest = via.partition(":")
    if via in ("menu", "staff request"):
        return escape(t(f"console.via.{via.replace(' ', '_')}"))
    if word == "keyword" and "@" in rest:
        keyword, _, channel = rest.partition("@")
        return escape(i18n.t(lang(), "console.via.keyword")).format(
            word=Markup('<bdi dir="auto">{}</bdi>').format(keyword), channel=channel_name(channel))
    if word == "csv" and rest:
        return escape(i18n.t(lang(), "console.via.csv")).format(file=Markup('<bdi dir="ltr">{}</bdi>').format(rest))
    return Markup('<bdi dir="auto">{}</bdi>').format(via or "—")


def t_code(key: str, /, **values) -> Markup:
    """A sentence naming config keys or file paths: each value is escaped and isolated left to right (<bdi>), so
    "[campaigns] staff_numbers" and "/home/x/dalil.toml" keep their order inside an Arabic sentence."""
    return escape(i18n.t(lang(), key)).format(**{k: Markup('<bdi dir="ltr">{}</bdi>').format(v)
                                                 for k, v in values.items()})


def plural_forms(key: str) -> dict[str, str]:
    """Every plural form of a text in the page's language, for a page script that counts as one types."""
    prefix = f"{key}."
    return {k[len(prefix):]: v for k, v in i18n.catalogs()[lang()].items() if k.startswith(prefix)}


def plural(key: str, n: int, /, **values) -> str:
    """The text for n things in the page's language, in the plural form babel's rules pick (Arabic has six)."""
    return i18n.plural(lang(), key, n, **values)


def render(template: str, status: int = 200, **context):
    return render_template(f"console/{template}", **context), status


def error_page(status: int, title_key: str, message_key: str, **extra):
    return render("error.html", status, title_key=title_key, message_key=message_key, **extra)


class Errors(dict):
    """Form errors: field name -> message, shown next to the field."""

    def add(self, field: str, key: str, **values) -> None:
        self.setdefault(field, t(key, **values))

    def add_text(self, field: str, text: str) -> None:
        self.setdefault(field, text)


def template_context() -> dict:
    user = g.get("user")
    role = user["role"] if user else None
    current = lang()
    return {
        "t": t, "lang": current, "rtl": i18n.is_rtl(current), "languages": LANGUAGES,
        "user": user, "role": role, "text_of": text_of, "number": number, "local_time": local_time,
        "plural": plural, "t_code": t_code, "plural_forms": plural_forms, "channel_name": channel_name,
        "via_text": via_text,
        "nav": [name for name in NAV if allowed(role, name)] if user else [],
        "current_area": g.get("area"), "area_endpoint": ENDPOINTS,
    }


def svg(markup: str) -> Markup:
    return Markup(markup)
