"""Numbers and codes that keep their order inside right-to-left text, on a phone's screen and in an SMS.

Phones lay out Arabic text with the Unicode bidirectional algorithm, paragraph direction right to left. There,
digits that follow Arabic letters become "Arabic numbers" (UBA rule W2), and only a *common* separator between
two of them keeps a run whole (W4): a no-break space, a colon, a comma, a full stop or a slash do; an ordinary
space, a hyphen or a plus sign do not. So "هاتف: +216 70 000 006" shows as "006 000 70 216+" and
"8:30-17:30" as "17:30-8:30". What this module does, only for right-to-left languages:

- a phone number is written the way it is dialled at home (national format for Tunisian numbers, the
  international "00" prefix for others, since a leading "+" would move to the far end) with no-break spaces
  between its digit groups;
- any other run of digits joined by a hyphen or a plus ("8:30-17:30", "2026-03-02") is opened with a
  left-to-right mark (U+200E), after which the digits are European numbers again and the run stays whole.

Both characters are UCS-2, which Arabic text is already, so they cost one unit each and no encoding change.
Left-to-right languages get their text back unchanged (a no-break space would turn a French SMS into UCS-2).
Latin codes such as "R-7K2M9P" need nothing: their letters are strong left-to-right characters.
"""
from __future__ import annotations

import functools
import re

import phonenumbers

from messages import i18n

NBSP = "\u00a0"
LRM = "\u200e"
# a phone number as people write it: an optional + or 00, then digits in groups of 2 or more (8 digits in all)
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\d[\d .]{6,16}\d(?![\w])")
# digits joined by a separator the bidi algorithm does not keep inside an Arabic number
_SPLIT_NUMBER = re.compile(r"(?<![\d\u200e])\d+(?:[:.,/]\d+)*(?:[-+\u2013]\d+(?:[:.,/]\d+)*)+")


@functools.lru_cache(maxsize=1024)
def phone(number: str, lang: str, region: str = "TN") -> str:
    """A phone number written so that it reads in order in `lang`'s text."""
    try:
        parsed = phonenumbers.parse(number.strip(), region)
    except phonenumbers.NumberParseException:
        return safe(number, lang)
    if not phonenumbers.is_possible_number(parsed):
        return safe(number, lang)
    home = phonenumbers.region_code_for_number(parsed) == region
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    text = phonenumbers.format_number(parsed, fmt)
    if not i18n.is_rtl(lang):
        return text
    text = re.sub(r"[^\d ]", " ", text.replace("+", "00 ", 1)).split()
    return NBSP.join(text)


def safe(text: str, lang: str) -> str:
    """`text` with every phone number and split number made to keep its order in right-to-left text."""
    if not text or not i18n.is_rtl(lang):
        return text
    text = _PHONE.sub(lambda m: phone(m.group(0), lang) if _looks_like_phone(m.group(0)) else m.group(0), text)
    return _SPLIT_NUMBER.sub(lambda m: LRM + m.group(0), text)


def _looks_like_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 8 <= len(digits) <= 15 and not re.search(r"\d:\d", candidate)
