"""The menu engine: one engine for USSD and SMS, driven by the flow definitions.

Transports (flows/ussd.py, flows/sms.py) turn a provider's request into ``start`` or ``step`` calls and the
returned Reply into their own answer format. The engine knows screens, pages, choices and vars; it knows
nothing of HTTP.
"""
from __future__ import annotations

import functools
import logging
import string
import time
from dataclasses import dataclass

from flows import definitions, directory
from flows.actions import Call, load_actions
from flows.definitions import MAIN, START, Screen
from flows.render import BACK, MAIN as MAIN_KEY, MORE, Budget, option_piece, paginate_cached as paginate, text_pieces
from flows.sessions import Session
from gateway import contacts
from messages import i18n

log = logging.getLogger(__name__)

REMEMBERED_VARS = ("language", "governorate")  # kept per number; every other var dies with the session
MAX_INPUT = 500  # a longer free-text answer is cut here, an SMS note rarely needs more
MAX_REDIRECTS = 20
ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


# Directory lists and details are read on nearly every hop and change a few times a day: an edit in the
# console reaches callers within this many seconds.
DIRECTORY_CACHE_SECONDS = 30.0


class TTLCache:
    def __init__(self, seconds: float, max_entries: int = 4096):
        self.seconds, self.max_entries = seconds, max_entries
        self._entries: dict = {}

    def get(self, key, compute):
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit and hit[0] > now:
            return hit[1]
        value = compute()
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (now + self.seconds, value)
        return value

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class Reply:
    text: str
    end: bool = False


@functools.cache
def default_flows() -> definitions.Flows:
    return definitions.load()


class Engine:
    def __init__(self, flows: definitions.Flows | None = None):
        self.flows = flows or default_flows()
        self.actions = load_actions()
        self.cache = TTLCache(DIRECTORY_CACHE_SECONDS)

    # -- entering screens -------------------------------------------------------------------------------

    def start(self, call: Call, session: Session, screen_id: str = START) -> Reply:
        session.stack.clear()
        self._enter(call, session, screen_id)
        return self.render(call, session)

    def _enter(self, call: Call, session: Session, screen_id: str, push: bool = False) -> None:
        if push and session.screen:
            session.stack.append(session.screen)
        for _ in range(MAX_REDIRECTS):
            screen = self.flows[screen_id]
            if screen.on_enter:
                redirect = self.actions[screen.on_enter](call)
                if redirect and redirect != screen_id:
                    screen_id = redirect
                    continue
            if screen.type == "input" and screen.sms_only and call.channel == "ussd":
                screen_id = screen.goto
                continue
            break
        else:
            raise RuntimeError(f"screen '{screen_id}' redirects in a loop")
        if screen_id == MAIN:
            session.stack.clear()  # the main menu is the root: Back from it would lead into first-contact setup
        session.screen, session.page = screen_id, 0

    # -- rendering --------------------------------------------------------------------------------------

    def render(self, call: Call, session: Session, hint: str | None = None) -> Reply:
        screen = self.flows[session.screen]
        lang = session.lang
        header, labels = self._content(call, session, screen)
        pieces = text_pieces(hint) if hint else []
        pieces += text_pieces(header) + [option_piece(n, label) for n, label in enumerate(labels, start=1)]
        if screen.type == "end":
            pages = paginate(pieces, [], i18n.t(lang, "nav.more"), self.budget(call))
            return Reply(pages[0].text if call.channel == "ussd" else _join_pages(pages), end=True)
        nav = []
        if screen.nav and (session.stack or session.page):
            nav.append(f"{BACK}. {i18n.t(lang, 'nav.back')}")
        back_is_main = not session.page and session.stack and session.stack[-1] == MAIN
        # no two lines leading to one place
        if screen.nav and screen.id != MAIN and _set_up(session) and not back_is_main:
            nav.append(f"{MAIN_KEY}. {i18n.t(lang, 'nav.main')}")
        pages = paginate(pieces, nav, i18n.t(lang, "nav.more"), self.budget(call))
        session.page = min(session.page, len(pages) - 1)
        session.pages = len(pages)
        return Reply(pages[session.page].text)

    def budget(self, call: Call) -> Budget:
        cfg = call.ctx.config
        if call.channel == "ussd":
            return Budget(cfg["ussd"]["screen_gsm7"], cfg["ussd"]["screen_ucs2"])
        n = cfg["sms"]["reply_segments"]
        return Budget(160 if n == 1 else 153 * n, 70 if n == 1 else 67 * n)

    def _content(self, call: Call, session: Session, screen: Screen) -> tuple[str, list[str]]:
        lang = session.lang
        header = i18n.t(lang, screen.text).format_map(_Vars(session.vars)) if screen.text else ""
        if screen.type == "list":
            items = self._list_items(call, session, screen)
            if not items:
                header += "\n" + i18n.t(lang, "list.empty")
            return header, [item["short_name"][lang] for item in items]
        if screen.type == "areas":
            areas = self._areas(call, session, screen)
            labels = [a["name"][lang] for a in areas]
            if screen.allow_skip:
                labels.append(i18n.t(lang, "areas.skip"))
            return header, labels
        if screen.type == "detail":
            header = self._detail_text(call, session)
        return header, [i18n.t(lang, opt.label) for opt in screen.options]

    def _list_items(self, call: Call, session: Session, screen: Screen) -> list[dict]:
        governorate = session.vars.get("governorate") or None
        return self.cache.get(("list", screen.categories, governorate),
                              lambda: directory.list_services(call.db, list(screen.categories), governorate))

    def _areas(self, call: Call, session: Session, screen: Screen) -> list[dict]:
        if screen.level == "governorate":
            return self.cache.get(("governorates",), lambda: directory.governorates(call.db))
        parent = session.vars.get(screen.parent_var or "governorate") or ""
        return self.cache.get(("delegations", parent), lambda: directory.delegations(call.db, parent))

    def _detail_text(self, call: Call, session: Session) -> str:
        service_id, lang = session.vars.get("service"), session.lang
        text = self.cache.get(("detail", service_id, lang), lambda: service_text(call.db, service_id, lang))
        return text or i18n.t(lang, "list.gone")

    # -- input ------------------------------------------------------------------------------------------

    def step(self, call: Call, session: Session, text: str) -> Reply:
        screen = self.flows[session.screen]
        lang = session.lang
        raw = (text or "").strip()
        choice = raw.translate(ARABIC_DIGITS).replace(" ", "")
        if not screen.nav and screen.type == "input" and raw:
            session.vars[screen.var] = raw[:MAX_INPUT]  # 0 and 00 are answers here, not navigation
            self._enter(call, session, screen.goto, push=True)
        elif choice == MAIN_KEY and screen.id != MAIN and _set_up(session):
            session.stack.clear()
            self._enter(call, session, MAIN)
        elif choice == BACK and (session.page or session.stack):
            if session.page:
                session.page -= 1
            else:
                session.screen, session.page = session.stack.pop(), 0
        elif choice == MORE and session.page + 1 < session.pages:
            session.page += 1
        elif screen.type == "input" and raw and raw not in (BACK, MAIN_KEY):
            session.vars[screen.var] = raw[:MAX_INPUT]
            self._enter(call, session, screen.goto, push=True)
        elif _is_choice(choice) and 1 <= int(choice) <= self._option_count(call, session, screen):
            self._choose(call, session, screen, int(choice))
        else:
            return self.render(call, session, hint=i18n.t(lang, "nav.invalid"))
        return self.render(call, session)

    def _option_count(self, call: Call, session: Session, screen: Screen) -> int:
        if screen.type == "list":
            return len(self._list_items(call, session, screen))
        if screen.type == "areas":
            return len(self._areas(call, session, screen)) + (1 if screen.allow_skip else 0)
        return len(screen.options)

    def _choose(self, call: Call, session: Session, screen: Screen, n: int) -> None:
        if screen.type == "list":
            session.vars["service"] = self._list_items(call, session, screen)[n - 1]["id"]
            return self._enter(call, session, screen.goto, push=True)
        if screen.type == "areas":
            areas = self._areas(call, session, screen)
            self._set(call, session, {screen.var: areas[n - 1]["code"] if n <= len(areas) else ""})
            return self._enter(call, session, screen.goto, push=True)
        option = screen.options[n - 1]
        self._set(call, session, option.set)
        target = option.goto
        if option.action:
            target = self.actions[option.action](call) or target
        self._enter(call, session, target or screen.id, push=target != screen.id)

    def _set(self, call: Call, session: Session, values: dict) -> None:
        session.vars.update(values)
        remembered = {k: v for k, v in values.items() if k in REMEMBERED_VARS}
        if remembered:
            contacts.remember(call.db, session.contact_key, **remembered)
        if "language" in values:
            session.lang = call.lang = values["language"]


def _is_choice(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 3


def _set_up(session: Session) -> bool:
    """Has the caller chosen a language and a home area? Until then there is no main menu to go to."""
    return bool(session.vars.get("language") and session.vars.get("governorate"))


class _Vars(dict):
    """format_map source that leaves an unknown {placeholder} empty instead of failing the whole screen."""

    def __missing__(self, key):
        return ""


def _join_pages(pages) -> str:
    return "\n".join(p.text for p in pages)


def service_text(db, service_id: str | None, lang: str) -> str | None:
    """A service's detail in one language, laid out by the catalog's detail.body."""
    service = directory.service(db, service_id) if service_id else None
    if service is None:
        return None
    fields = {k: (v.get(lang, "") if isinstance(v, dict) else v or "") for k, v in service.items()}
    lines = []
    for line in i18n.t(lang, "detail.body").splitlines():
        names = [name for _, name, _, _ in string.Formatter().parse(line) if name]
        if names and not any(str(fields.get(name, "")).strip() for name in names):
            continue  # a line whose every field is empty ("Tel:" with no phone) is left out
        lines.append(line.format_map(_Vars(fields)))
    return "\n".join(lines)
