"""The words of a profile and an offer: trades (built-in ones in the catalogs, staff-added ones in the database),
levels, how far a person travels, when they are free. Codes are stored; labels come from jobs.po."""
from __future__ import annotations

import re

from messages import i18n
from messages.i18n import LANGUAGES

LEVELS = (1, 2, 3)                                     # beginner, experienced, certified: an offer's level is a floor
TRAVEL = ("delegation", "governorate", "anywhere")
AVAILABILITY = ("full", "part", "seasonal", "any")     # a profile's; an offer's kind is one of the first three
KINDS = AVAILABILITY[:3]
TRADE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,23}$")
MAX_TRADE = 20                                          # characters of a trade's label: one line of the list


def trade_label(db_trades: list[tuple[str, dict | None]], code: str, lang: str) -> str:
    for known, labels in db_trades:
        if known == code:
            return labels[lang] if labels else i18n.t(lang, f"jobs.trade.{code}")
    return code


def trade_labels(db_trades: list[tuple[str, dict | None]], lang: str) -> list[tuple[str, str]]:
    return [(code, labels[lang] if labels else i18n.t(lang, f"jobs.trade.{code}")) for code, labels in db_trades]


def level_label(level: int, lang: str) -> str:
    return i18n.t(lang, f"jobs.level.{level}")


def check_trade(code: str, labels: dict, known: list[str]) -> list[str]:
    """What keeps a new trade out, naming the field and the language."""
    out = []
    if not TRADE_CODE.match(code or ""):
        out.append("code: 2 to 24 lower-case letters, digits or _, starting with a letter")
    elif code in known:
        out.append(f"code: {code} exists already")
    for lang in LANGUAGES:
        label = (labels.get(lang) or "").strip()
        if not label:
            out.append(f"label ({lang}): missing")
        elif len(label) > MAX_TRADE:
            out.append(f"label ({lang}): {len(label)} characters, at most {MAX_TRADE} (one line of the list)")
    return out
