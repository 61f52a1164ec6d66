"""The menu engine: one engine for USSD and SMS, driven by the flow definitions.

Transports (flows/ussd.py, flows/sms.py) turn a provider's request into ``start`` or ``step`` calls and the
returned Reply into their own answer format. The engine knows screens, pages, choices and vars; it knows
nothing of HTTP.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass

import cachetools

from flows import definitions, directory, screen_text
from flows.actions import Call, load_actions
from flows.definitions import MAIN, START, Screen
from flows.render import BACK, MAIN as MAIN_KEY, MORE, Budget, paginate_cached as paginate
from flows.sessions import Place, Session
from gateway import contacts
from messages import i18n
from messages.segments import fold

log = logging.getLogger(__name__)

REMEMBERED_VARS = ("language", "governorate")  # kept per number; every other var dies with the session
# vars that say where a caller is, not what they answered: the only ones a resumed session gets back
NAVIGATION_VARS = (*REMEMBERED_VARS, "topic", "service", "topics")
RESUME = "resume"  # the screen offering "Continue where I was / Main menu" after a dropped session
RESUME_ACTION = "session.resume"
MAX_INPUT = 500  # a longer free-text answer is cut here, an SMS note rarely needs more
MAX_REDIRECTS = 20
ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


# Directory lists and details are read on nearly every hop and change a few times a day: an edit in the
# console reaches callers within this many seconds.
DIRECTORY_CACHE_SECONDS = 30.0


class DirectoryCache:
    """Directory reads by key, kept DIRECTORY_CACHE_SECONDS (cachetools' TTLCache, least recently used out first
    when full), behind a lock since waitress's threads share one engine; a read runs outside it."""

    def __init__(self, seconds: float, max_entries: int = 4096):
        self._entries = cachetools.TTLCache(maxsize=max_entries, ttl=seconds, timer=time.monotonic)
        self._lock = threading.Lock()

    def get(self, key, compute):
        with self._lock:
            value = self._entries.get(key, _MISSING)
        if value is _MISSING:
            value = compute()
            with self._lock:
                self._entries[key] = value
        return value


_MISSING = object()


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
        self.cache = DirectoryCache(DIRECTORY_CACHE_SECONDS)

    # -- entering screens -------------------------------------------------------------------------------

    def start(self, call: Call, session: Session, screen_id: str = START, resume: Place | None = None) -> Reply:
        session.stack.clear()
        self._enter(call, session, screen_id)
        if resume and session.screen == MAIN and RESUME in self.flows.screens:
            self._enter(call, session, RESUME)
            session.resume_point = resume
        return self.render(call, session)

    def place(self, session: Session) -> Place | None:
        """Where to offer to resume this session if it drops; None once it holds anything but navigation
        (a referral's answers), or where there is nothing to resume (the main menu, first-contact setup)."""
        if session.screen in (MAIN, RESUME, START) or not _set_up(session):
            return None
        if session.resume_point:  # dropped again while the offer was shown: the offer stands
            return session.resume_point
        if any(value for name, value in session.vars.items() if name not in NAVIGATION_VARS):
            return None
        return Place(session.screen, session.page, tuple(session.stack),
                     tuple((k, v) for k, v in session.vars.items() if k in NAVIGATION_VARS and k not in
                           REMEMBERED_VARS))

    def _resume(self, call: Call, session: Session) -> None:
        place, session.resume_point = session.resume_point, None
        if place is None or place.screen not in self.flows.screens:
            return self._enter(call, session, MAIN)
        session.vars.update(dict(place.vars))
        session.screen, session.page, session.stack = place.screen, place.page, list(place.stack)

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
        if screen_id != RESUME:
            session.resume_point = None
        if screen_id == MAIN:
            session.stack.clear()  # the main menu is the root: Back from it would lead into first-contact setup
        session.screen, session.page = screen_id, 0

    # -- rendering --------------------------------------------------------------------------------------

    def render(self, call: Call, session: Session, hint: str | None = None) -> Reply:
        """The session's current page; with a hint, the same page with the hint in its title's place."""
        screen = self.flows[session.screen]
        show = self._show(call, session.lang)
        title, pieces = self._pieces(call, session, screen, show)
        more, budget = show(i18n.t(session.lang, "nav.more")), self.budget(call)
        hint_text = show(i18n.t(session.lang, "nav.invalid"))
        if screen.type == "end":
            pages = paginate(pieces, [], more, budget, title, "")
            return Reply(pages[0].text if call.channel == "ussd" else _join_pages(pages), end=True)
        pages = paginate(pieces, self._nav(session, screen, pieces, more, budget, title, hint_text, show), more,
                         budget, title, hint_text)
        session.page = min(session.page, len(pages) - 1)
        session.pages = len(pages)
        page = pages[session.page]
        session.shown = page.numbers
        return Reply(page.show(hint_text if hint else None))

    def _nav(self, session: Session, screen: Screen, pieces, more: str, budget: Budget, title: str, hint: str,
             show) -> list[tuple[str, str]]:
        """The navigation of every page of this screen (one layout for all its pages, whichever is shown).

        Back where there is somewhere to go back to (a previous screen, or a previous page); Main menu where
        Back does not already lead there, and only if it moves nothing to another page: 00 works on every
        screen once the caller is set up, and on an 80-character Arabic screen a page is worth more than the
        reminder.
        """
        if not screen.nav:
            return []  # a screen that asked for none (a poll's question: its numbers are its only keys)
        back = (BACK, show(i18n.t(session.lang, "nav.back")))
        nav = [back] if session.stack else []
        if not nav and len(paginate(pieces, [], more, budget, title, hint)) > 1:
            nav = [back]
        back_is_main = bool(session.stack) and session.stack[-1] == MAIN
        if screen.id not in (MAIN, RESUME) and _set_up(session) and not back_is_main:
            with_main = nav + [(MAIN_KEY, show(i18n.t(session.lang, "nav.main")))]
            if [p.body for p in paginate(pieces, with_main, more, budget, title, hint)] == [
                    p.body for p in paginate(pieces, nav, more, budget, title, hint)]:
                nav = with_main
        return nav

    def budget(self, call: Call) -> Budget:
        cfg = call.ctx.config
        if call.channel == "ussd":
            return Budget(cfg["ussd"]["screen_gsm7"], cfg["ussd"]["screen_ucs2"])
        n = cfg["sms"]["reply_segments"]
        return Budget(160 if n == 1 else 153 * n, 70 if n == 1 else 67 * n)

    def _show(self, call: Call, lang: str):
        """What every text of a screen goes through: accent folding where [ussd]/[sms] fold_accents asks."""
        section = "ussd" if call.channel == "ussd" else "sms"
        return fold if lang in call.ctx.config[section]["fold_accents"] else str

    def _pieces(self, call: Call, session: Session, screen: Screen, show) -> tuple[str, list]:
        """(title line, pieces): the screen's short first line, then its text and options to be paginated."""
        lang = session.lang
        text = i18n.t(lang, screen.text).format_map(_Vars(session.vars)) if screen.text else ""
        after = ""
        if screen.type == "list":
            items = self._list_items(call, session, screen)
            if not items:
                text += "\n" + i18n.t(lang, "list.empty")
            labels = [item["short_name"][lang] for item in items]
        elif screen.type == "areas":
            labels = [a["name"][lang] for a in self._areas(call, session, screen)]
            if screen.allow_skip:
                labels.append(i18n.t(lang, "areas.skip"))
        else:
            labels = [i18n.t(lang, opt.label) for opt in screen.options]
        if screen.type == "detail":
            service = self._service(call, session)
            if service is None:
                text = i18n.t(lang, "list.gone")
            else:
                text = screen_text.title(service, lang) + "\n" + screen_text.phone_line(service, lang)
                after = screen_text.summary(service, lang)
        return screen_text.layout(text, labels, lang, show, after)

    def _list_items(self, call: Call, session: Session, screen: Screen) -> list[dict]:
        governorate = session.vars.get("governorate") or None
        return self.cache.get(("list", screen.categories, governorate),
                              lambda: directory.list_services(call.db, list(screen.categories), governorate))

    def _areas(self, call: Call, session: Session, screen: Screen) -> list[dict]:
        if screen.level == "governorate":
            return self.cache.get(("governorates",), lambda: directory.governorates(call.db))
        parent = session.vars.get(screen.parent_var or "governorate") or ""
        return self.cache.get(("delegations", parent), lambda: directory.delegations(call.db, parent))

    def _service(self, call: Call, session: Session) -> dict | None:
        service_id, governorate = session.vars.get("service"), session.vars.get("governorate") or None
        if not service_id:
            return None
        return self.cache.get(("service", service_id, governorate),
                              lambda: directory.service(call.db, service_id, governorate))

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
        elif _is_choice(choice) and int(choice) in session.shown:
            self._choose(call, session, screen, int(choice))
        else:
            return self.render(call, session, hint=i18n.t(lang, "nav.invalid"))
        return self.render(call, session)

    def _choose(self, call: Call, session: Session, screen: Screen, n: int) -> None:
        if screen.type == "list":
            session.vars["service"] = self._list_items(call, session, screen)[n - 1]["id"]
            service = self._service(call, session) or {}
            # "Subscribe" on the detail subscribes to this programme's topic, in a list that mixes topics too
            topic = next((c for c in service.get("categories", []) if c in screen.categories), None)
            session.vars["topic"] = topic or session.vars.get("topic", "")
            return self._enter(call, session, screen.goto, push=True)
        if screen.type == "areas":
            areas = self._areas(call, session, screen)
            self._set(call, session, {screen.var: areas[n - 1]["code"] if n <= len(areas) else ""})
            return self._enter(call, session, screen.goto, push=True)
        option = screen.options[n - 1]
        if option.action == RESUME_ACTION:
            return self._resume(call, session)
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


def service_text(db, service_id: str | None, lang: str, governorate: str | None = None) -> str | None:
    """A service's full detail in one language (what "SMS me the details" sends); None if it is gone."""
    service = directory.service(db, service_id, governorate) if service_id else None
    return screen_text.full_text(service, lang) if service else None
