"""Flow definitions: menus as data, in TOML files under flows/definitions/.

All files share one namespace of screens. A screen:

    [screens.<id>]
    type = "menu"            # menu (default) | list | detail | areas | input | end
    text = "<catalog key>"   # may use {placeholders} filled from the session's vars
    options = [ { label = "<catalog key>", goto = "<screen>", set = { topic = "jobs" }, action = "<name>" } ]
    on_enter = "<action>"    # runs when the screen is entered; may redirect to another screen

    # list:   categories = ["jobs", "training"], goto = "<detail screen>"  (the choice is kept in var "service")
    # detail: shows the service in var "service"; its options act on it
    # areas:  level = "governorate" | "delegation", var = "<name>", goto = "<screen>",
    #         parent_var = "<var holding the governorate>" (delegation only), allow_skip = true
    # input:  var = "<name>", goto = "<screen>", sms_only = true (over USSD the screen is skipped)
    # end:    text only; the session ends
    nav = false              # no Back / Main menu lines (a poll's question: every character of the screen counts)

Vars named ``language`` and ``governorate`` are remembered for the caller's number; all others live in memory
for the session only (the referral answers among them), never on disk.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFINITIONS_DIR = Path(__file__).parent / "definitions"
SCREEN_TYPES = ("menu", "list", "detail", "areas", "input", "end")
SCREEN_KEYS = {"type", "text", "options", "on_enter", "goto", "var", "level", "parent_var", "allow_skip",
               "sms_only", "categories", "nav"}
OPTION_KEYS = {"label", "goto", "set", "action"}
START = "start"
MAIN = "main"


class FlowError(Exception):
    pass


@dataclass(frozen=True)
class Option:
    label: str
    goto: str | None = None
    action: str | None = None
    set: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Screen:
    id: str
    source: str
    type: str = "menu"
    text: str | None = None
    options: tuple[Option, ...] = ()
    on_enter: str | None = None
    goto: str | None = None
    var: str | None = None
    level: str | None = None
    parent_var: str | None = None
    allow_skip: bool = False
    sms_only: bool = False
    categories: tuple[str, ...] = ()
    nav: bool = True


@dataclass(frozen=True)
class Flows:
    screens: dict[str, Screen]

    def __getitem__(self, screen_id: str) -> Screen:
        return self.screens[screen_id]


SCREEN_TYPES_OF = {"type": str, "text": str, "on_enter": str, "goto": str, "var": str, "level": str,
                   "parent_var": str, "allow_skip": bool, "sms_only": bool, "categories": list, "options": list,
                   "nav": bool}
OPTION_TYPES_OF = {"label": str, "goto": str, "action": str, "set": dict}


def _check_types(raw: dict, types: dict, where: str) -> None:
    for key, value in raw.items():
        expected = types[key]
        if not isinstance(value, expected):
            kind = {str: "a string", bool: "true or false", list: "a list", dict: "a table"}[expected]
            raise FlowError(f"{where}: '{key}' must be {kind}")


def parse_option(raw, where: str) -> Option:
    if not isinstance(raw, dict) or set(raw) - OPTION_KEYS:
        raise FlowError(f"{where} must be a table with keys among {', '.join(sorted(OPTION_KEYS))}")
    _check_types(raw, OPTION_TYPES_OF, where)
    return Option(label=raw.get("label"), goto=raw.get("goto"), action=raw.get("action"), set=dict(raw.get("set", {})))


def parse_screen(screen_id: str, raw, source: str) -> Screen:
    """Build a Screen, raising FlowError naming the file, screen and key for anything malformed."""
    where = f"{source}: screen '{screen_id}'"
    if not isinstance(raw, dict):
        raise FlowError(f"{where}: must be a table")
    unknown = set(raw) - SCREEN_KEYS
    if unknown:
        raise FlowError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    _check_types(raw, SCREEN_TYPES_OF, where)
    if not all(isinstance(c, str) for c in raw.get("categories", [])):
        raise FlowError(f"{where}: 'categories' must be a list of strings")
    options = tuple(parse_option(opt, f"{where}: option {i}") for i, opt in enumerate(raw.get("options", []), 1))
    fields = {k: v for k, v in raw.items() if k != "options"}
    if "categories" in fields:
        fields["categories"] = tuple(fields["categories"])
    return Screen(id=screen_id, source=source, options=options, **fields)


def load(directory: Path = DEFINITIONS_DIR) -> Flows:
    screens: dict[str, Screen] = {}
    files = sorted(Path(directory).glob("*.toml"))
    if not files:
        raise FlowError(f"{directory}: no flow files (*.toml)")
    for path in files:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise FlowError(f"{path.name}: not valid TOML: {e}") from None
        unknown = set(data) - {"screens"}
        if unknown:
            raise FlowError(f"{path.name}: unknown top-level key(s) {', '.join(sorted(unknown))}")
        for screen_id, raw in data.get("screens", {}).items():
            if screen_id in screens:
                raise FlowError(f"{path.name}: screen '{screen_id}' is already defined in {screens[screen_id].source}")
            screens[screen_id] = parse_screen(screen_id, raw, path.name)
    return Flows(screens)
