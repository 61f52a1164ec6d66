"""`dalil flows check`: every choice leads somewhere, every text exists in ar, fr and en, every screen fits.

Problems are returned as sentences naming the file, the screen and what is wrong, so that a person editing a
TOML file can fix it without reading code. The gateway runs the same check at start (flows.runtime) and refuses to
start on any problem: a dangling goto found by a caller at 2 a.m. is worse than a server that says why it stopped.
"""
from __future__ import annotations

from pathlib import Path

from flows import definitions
from flows.actions import load_actions
from flows.definitions import DEFINITIONS_DIR, SCREEN_TYPES, START, Flows, FlowError, Screen
from flows import screen_text
from flows.render import BACK, MAIN, Budget, paginate
from messages import i18n
from messages.segments import fold

ENGINE_KEYS = ("nav.more", "nav.back", "nav.main", "nav.invalid", "kw.menu", "list.empty", "list.gone",
               "areas.skip", "detail.body", "detail.phone")
KNOWN_CATEGORIES = {"jobs", "training", "business", "municipal",
                    "legal", "documents", "health", "shelter", "protection", "food", "work"}
SAMPLE_VALUE = "Xxxxxxxxxxxx"  # stands in for a {placeholder} when measuring a screen
USSD_BUDGET = screen_text.USSD_BUDGET


def configured(config: dict) -> tuple[Path, Budget, tuple[str, ...]]:
    """The flows folder, the USSD screen budget and the folded languages the configuration sets."""
    ussd = config["ussd"]
    return (Path(config["flows"]["directory"] or DEFINITIONS_DIR), Budget(ussd["screen_gsm7"], ussd["screen_ucs2"]),
            tuple(ussd["fold_accents"]))


def check(directory: Path = DEFINITIONS_DIR, budget: Budget = USSD_BUDGET,
          folded: tuple[str, ...] = screen_text.FOLDED_BY_DEFAULT) -> tuple[Flows | None, list[str]]:
    try:
        flows = definitions.load(directory)
    except FlowError as e:
        return None, [str(e)]
    actions = load_actions()
    problems = [f"catalogs: '{key}' missing in {', '.join(i18n.missing_languages(key))}"
                for key in ENGINE_KEYS if i18n.missing_languages(key)]
    if START not in flows.screens:
        problems.append(f"no '{START}' screen: every session begins there")
    if definitions.MAIN not in flows.screens:
        problems.append(f"no '{definitions.MAIN}' screen: 'Main menu' leads there")
    for screen in flows.screens.values():
        problems += [f"{screen.source}: screen '{screen.id}': {p}" for p in _screen_problems(screen, flows, actions)]
        problems += [f"{screen.source}: screen '{screen.id}': {p}" for p in _budget_problems(screen, budget, folded)]
    return flows, problems


def _screen_problems(screen: Screen, flows: Flows, actions) -> list[str]:
    if screen.type not in SCREEN_TYPES:
        return [f"unknown type '{screen.type}' (one of {', '.join(SCREEN_TYPES)})"]
    problems = []
    if screen.on_enter and screen.on_enter not in actions:
        problems.append(f"on_enter names unknown action '{screen.on_enter}'")
    is_router = screen.on_enter and not screen.options and not screen.text
    if not screen.text and screen.type != "detail" and not is_router:
        problems.append("has no text")
    for key in _text_keys(screen):
        missing = i18n.missing_languages(key)
        if missing:
            problems.append(f"text '{key}' missing in {', '.join(missing)}")
    for n, option in enumerate(screen.options, start=1):
        problems += [f"option {n} {p}" for p in _option_problems(option, flows, actions)]
    if screen.type in ("menu", "detail") and not screen.options and not is_router:
        problems.append("a menu with no options")
    return problems + _type_problems(screen, flows)


def _option_problems(option, flows: Flows, actions) -> list[str]:
    problems = []
    if not option.label:
        problems.append("has no label")
    if not option.goto and not option.action:
        problems.append("leads nowhere (no goto, no action)")
    if option.action and option.action not in actions:
        problems.append(f"names unknown action '{option.action}'")
    if option.goto and option.goto not in flows.screens:
        problems.append(f"goes to unknown screen '{option.goto}'")
    if "language" in option.set and option.set["language"] not in i18n.LANGUAGES:
        problems.append(f"sets an unknown language {option.set['language']!r}")
    return problems


def _type_problems(screen: Screen, flows: Flows) -> list[str]:
    """What each type of screen needs: an end takes no options; lists, areas and inputs lead on (goto)."""
    problems = []
    if screen.type == "end" and screen.options:
        problems.append("an end screen cannot have options")
    if screen.type in ("list", "areas", "input"):
        if not screen.goto:
            problems.append(f"a {screen.type} screen needs goto")
        elif screen.goto not in flows.screens:
            problems.append(f"goto names unknown screen '{screen.goto}'")
    if screen.type == "list":
        unknown = set(screen.categories) - KNOWN_CATEGORIES
        if not screen.categories:
            problems.append("a list screen needs categories")
        if unknown:
            problems.append(f"unknown categories {', '.join(sorted(unknown))}")
        if screen.goto in flows.screens and flows[screen.goto].type != "detail":
            problems.append(f"a list leads to a detail screen, not '{screen.goto}'")
    if screen.type == "areas" and screen.level not in ("governorate", "delegation"):
        problems.append("an areas screen needs level = \"governorate\" or \"delegation\"")
    if screen.type in ("areas", "input") and not screen.var:
        problems.append(f"a {screen.type} screen needs var")
    return problems


def _text_keys(screen: Screen) -> list[str]:
    return [k for k in [screen.text, *(o.label for o in screen.options)] if k]


def _budget_problems(screen: Screen, budget: Budget, folded: tuple[str, ...]) -> list[str]:
    """Lay out the screen's fixed texts in each language as the engine does (title line, Back and Main menu on
    one line, accents folded where [ussd] fold_accents says) and measure every page."""
    problems = []
    for lang in i18n.LANGUAGES:
        if any(i18n.missing_languages(k) for k in _text_keys(screen)):
            return problems  # already reported as missing text
        show = fold if lang in folded else str
        header = i18n.t(lang, screen.text).format_map(_Sample()) if screen.text else ""
        title, pieces = screen_text.layout(header, [i18n.t(lang, o.label) for o in screen.options], lang, show)
        nav = [] if screen.type == "end" or not screen.nav else [(BACK, show(i18n.t(lang, "nav.back"))),
                                                                 (MAIN, show(i18n.t(lang, "nav.main")))]
        hint = "" if screen.type == "end" else show(i18n.t(lang, "nav.invalid"))  # an end screen takes no key
        pages = paginate(pieces, nav, show(i18n.t(lang, "nav.more")), budget, title, hint)
        if screen.type == "end" and len(pages) > 1:
            problems.append(f"[{lang}] an end screen must fit one USSD screen ({_measure(pages[0].text)})")
        for number, page in enumerate(pages, start=1):
            if not budget.fits(page.text):
                problems.append(f"[{lang}] page {number} does not fit the screen ({_measure(page.text)}): "
                                f"a word or an option is longer than a whole screen")
    return problems


def _measure(text: str) -> str:
    from messages.segments import screen_length
    encoding, units = screen_length(text)
    return f"{units} {encoding} characters"


class _Sample(dict):
    def __missing__(self, key):
        return SAMPLE_VALUE
