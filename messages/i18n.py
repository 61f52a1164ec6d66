"""Everything a person reads, in ar, fr and en, from the babel catalogs under messages/locale.

Catalogs are split by domain (one .po per package area: flows, delivery, referrals, campaigns, console) so that
each area's texts live together; msgids are symbolic keys ("menu.main.title"), so `flows check` can ask whether
a key exists in every language. The .po files are read directly with babel at start: no compile step to forget.
"""
from __future__ import annotations

import functools
from datetime import date, datetime
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LANGUAGES = ("ar", "fr", "en")
LOCALE_DIR = Path(__file__).parent / "locale"
# Tunisian Arabic and French locales write digits as 0-9, which is what a caller types on the keypad.
BABEL_LOCALES = {"ar": "ar_TN", "fr": "fr_TN", "en": "en"}


class MissingText(KeyError):
    pass


@functools.cache
def catalogs() -> dict[str, dict[str, str]]:
    out = {}
    for lang in LANGUAGES:
        texts = {}
        for po in sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po")):
            with po.open("rb") as f:
                for message in read_po(f, locale=lang):
                    if message.id and message.string:
                        texts[message.id] = message.string
        out[lang] = texts
    return out


def reload() -> None:
    catalogs.cache_clear()


def has(key: str, lang: str) -> bool:
    return key in catalogs()[lang]


def missing_languages(key: str) -> list[str]:
    return [lang for lang in LANGUAGES if key not in catalogs()[lang]]


def t(lang: str, key: str, /, **values) -> str:
    """The text for key in lang, with {placeholders} filled; raises MissingText rather than show a raw key."""
    try:
        text = catalogs()[lang][key]
    except KeyError:
        raise MissingText(f"no '{key}' in the {lang} catalog") from None
    return text.format(**values) if values else text


def number(value, lang: str) -> str:
    return format_decimal(value, locale=BABEL_LOCALES[lang])


def when(value: date | datetime, lang: str, fmt: str = "medium") -> str:
    if isinstance(value, datetime):
        return format_datetime(value, fmt, locale=BABEL_LOCALES[lang])
    return format_date(value, fmt, locale=BABEL_LOCALES[lang])


def plural(lang: str, key: str, n: int, /, **values) -> str:
    """The text for n of something, in the plural form babel's CLDR rules give for lang: Arabic has six (zero, one,
    two, few, many, other), French and English two. Keys are KEY.zero ... KEY.other; KEY.other is required and
    stands in for a form a language does not need. {n} is the number, written for lang."""
    form = Locale.parse(BABEL_LOCALES[lang]).plural_form(abs(n))
    chosen = f"{key}.{form}" if has(f"{key}.{form}", lang) else f"{key}.other"
    return t(lang, chosen, n=number(n, lang), **values)


def clock(value: datetime, lang: str, with_date: bool = True) -> str:
    """24-hour time without seconds (14:05), after the localized date: fr_TN's own pattern is 12-hour with
    seconds ("8:00:00 AM"), which no one in an office reads a schedule by."""
    hours = format_time(value, "HH:mm", locale=BABEL_LOCALES[lang])
    return f"{format_date(value, 'medium', locale=BABEL_LOCALES[lang])} {hours}" if with_date else hours


@functools.cache  # asked for every text of every screen; babel parses the locale each time
def is_rtl(lang: str) -> bool:
    return Locale.parse(BABEL_LOCALES[lang]).text_direction == "rtl"
