"""A poll is data: a title, up to 5 questions, texts in ar/fr/en, dates, an audience, a keyword. Checked like flows.

The definition (a TOML file for `dalil poll create`, the same text in the console's form)::

    keyword = "WATER"                        # SMS keyword: letters and digits, 3 to 12, not a word the line knows
    opens = "2026-12-01"                     # first and last day (local time) answers are taken
    closes = "2026-12-15"
    title = { ar = "...", fr = "...", en = "..." }
    [audience]                               # who is asked; empty lists mean everyone
    governorates = ["kairouan"]              # the menu lists the poll to callers whose home area is here
    delegations = []                         # the SMS invitation only (callers' delegations are not known)
    languages = []
    interests = []                           # the SMS invitation only (subscribers' topics)
    [[questions]]
    text = { ar = "...", fr = "...", en = "..." }
    options = [ { ar = "...", fr = "...", en = "..." }, ... ]     # 2 to 9: single choice
    [[questions]]
    text = "poll.demo.age"                   # a text may also be a key of the catalogs (polls.po)
    demographic = true                       # optional: "prefer not to say" is added as option 1
    options = [ "poll.demo.age.young", ... ]
    [[questions]]
    text = { ... }
    type = "number"                          # a whole number between min and max
    min = 0
    max = 100

Problems are sentences naming the question, the text and the language, so a person can fix the file.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime

from messages import i18n
from messages.i18n import LANGUAGES

MAX_QUESTIONS, MAX_OPTIONS, MIN_OPTIONS = 5, 9, 2
MAX_TITLE = 40  # a title is a line of the "Have your say" list
KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,11}$")
PREFER_NOT = "poll.prefer_not"
AUDIENCE_FIELDS = ("governorates", "delegations", "languages", "interests")
TOP_KEYS = {"keyword", "opens", "closes", "title", "audience", "questions"}
QUESTION_KEYS = {"text", "type", "options", "demographic", "min", "max"}


class PollError(ValueError):
    """A malformed definition; the message names the field."""


@dataclass(frozen=True)
class Question:
    text: dict              # lang -> text
    type: str = "choice"    # choice | number
    options: tuple = ()     # of lang -> text dicts; for a demographic question "prefer not to say" is first
    demographic: bool = False
    min: int = 0
    max: int = 0

    def labels(self, lang: str) -> list[str]:
        return [o[lang] for o in self.options]


@dataclass(frozen=True)
class Poll:
    keyword: str
    opens: str
    closes: str
    title: dict
    questions: tuple[Question, ...]
    audience: dict = field(default_factory=dict)
    id: int | None = None
    state: str = "draft"

    def to_data(self) -> dict:
        """The stored form (JSON): texts resolved, so a later catalog edit does not change a running poll."""
        return {"keyword": self.keyword, "opens": self.opens, "closes": self.closes, "title": self.title,
                "audience": self.audience,
                "questions": [{"text": q.text, "type": q.type, "options": list(q.options),
                               "demographic": q.demographic, "min": q.min, "max": q.max} for q in self.questions]}


def from_data(raw: dict, poll_id: int | None = None, state: str = "draft") -> Poll:
    """The stored form back (already checked when it was created)."""
    questions = tuple(Question(text=q["text"], type=q["type"], options=tuple(q["options"]),
                               demographic=q["demographic"], min=q["min"], max=q["max"]) for q in raw["questions"])
    return Poll(keyword=raw["keyword"], opens=raw["opens"], closes=raw["closes"], title=raw["title"],
                questions=questions, audience=raw.get("audience", {}), id=poll_id, state=state)


def parse_toml(text: str) -> Poll:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PollError(f"not valid TOML: {e}") from None
    return parse(raw)


def parse(raw: dict) -> Poll:
    """Build a Poll from a definition, raising PollError for what cannot even be read (shape, types, dates).

    Texts missing in a language are kept as empty: `problems` names them, and a poll with problems is not opened.
    """
    if not isinstance(raw, dict):
        raise PollError("a poll definition is a table")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise PollError(f"unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(TOP_KEYS))})")
    keyword = raw.get("keyword")
    if not isinstance(keyword, str) or not KEYWORD.match(keyword):
        raise PollError("keyword: expected 3 to 12 letters or digits, beginning with a letter (the SMS keyword)")
    opens, closes = _day(raw.get("opens"), "opens"), _day(raw.get("closes"), "closes")
    if closes < opens:
        raise PollError(f"closes: {closes} is before opens {opens}")
    questions = raw.get("questions")
    if not isinstance(questions, list) or not 1 <= len(questions) <= MAX_QUESTIONS:
        raise PollError(f"questions: expected 1 to {MAX_QUESTIONS} [[questions]]")
    return Poll(keyword=keyword.upper(), opens=opens, closes=closes, title=_text(raw.get("title"), "title"),
                questions=tuple(_question(q, n) for n, q in enumerate(questions, start=1)),
                audience=_audience(raw.get("audience", {})))


def _day(value, name: str) -> str:
    if isinstance(value, datetime):  # a TOML date-time: its day
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise PollError(f"{name}: expected a day as YYYY-MM-DD, got {value!r}") from None


def _text(value, where: str) -> dict:
    """A {ar, fr, en} table, or a catalog key whose text is taken in every language."""
    if isinstance(value, str):
        if not any(i18n.has(value, lang) for lang in LANGUAGES):
            raise PollError(f"{where}: '{value}' is not a key of the catalogs; give a table {{ ar = ..., fr = ..., "
                            f"en = ... }}")
        return {lang: i18n.t(lang, value) if i18n.has(value, lang) else "" for lang in LANGUAGES}
    if not isinstance(value, dict):
        raise PollError(f"{where}: expected a table {{ ar = ..., fr = ..., en = ... }} or a catalog key")
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        raise PollError(f"{where}: unknown language(s) {', '.join(sorted(map(str, unknown)))}")
    if not all(isinstance(v, str) for v in value.values()):
        raise PollError(f"{where}: every text must be a string")
    return {lang: " ".join(value.get(lang, "").split()) for lang in LANGUAGES}


def _question(raw, n: int) -> Question:
    where = f"question {n}"
    if not isinstance(raw, dict):
        raise PollError(f"{where}: expected a table")
    unknown = set(raw) - QUESTION_KEYS
    if unknown:
        raise PollError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    kind = raw.get("type", "choice")
    text = _text(raw.get("text"), f"{where} text")
    demographic = raw.get("demographic", False)
    if not isinstance(demographic, bool):
        raise PollError(f"{where}: 'demographic' must be true or false")
    if kind == "number":
        if "options" in raw or demographic:
            raise PollError(f"{where}: a number question has no options and cannot be demographic (use choices, "
                            f"such as age bands, so that 'prefer not to say' is offered)")
        low, high = raw.get("min", 0), raw.get("max")
        if not isinstance(low, int) or not isinstance(high, int) or isinstance(low, bool) or high < low:
            raise PollError(f"{where}: a number question needs whole numbers min <= max")
        if low < 0 or high > 99_999:
            raise PollError(f"{where}: min and max must be between 0 and 99999 (a keypad answer)")
        return Question(text=text, type="number", min=low, max=high)
    if kind != "choice":
        raise PollError(f"{where}: type must be \"choice\" or \"number\", got {kind!r}")
    options = raw.get("options")
    if not isinstance(options, list):
        raise PollError(f"{where}: a choice question needs options = [ ... ]")
    texts = [_text(o, f"{where} option {i}") for i, o in enumerate(options, start=1)]
    if demographic:
        texts.insert(0, {lang: i18n.t(lang, PREFER_NOT) for lang in LANGUAGES})
    return Question(text=text, options=tuple(texts), demographic=demographic)


def _audience(raw) -> dict:
    if not isinstance(raw, dict):
        raise PollError("audience: expected a table")
    unknown = set(raw) - set(AUDIENCE_FIELDS)
    if unknown:
        raise PollError(f"audience: unknown field(s) {', '.join(sorted(unknown))}")
    out = {}
    for name in AUDIENCE_FIELDS:
        values = raw.get(name, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise PollError(f"audience {name}: expected a list of codes")
        if values:
            out[name] = values
    return out
