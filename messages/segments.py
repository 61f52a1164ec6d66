"""GSM 03.38 encoding detection and SMS segment counting.

A message is GSM-7 when every character is in the default alphabet or its extension table (the extension
characters cost two septets: an escape and the character). Anything else makes the whole message UCS-2, counted
in UTF-16 code units. Concatenated messages lose room to the UDH: 153 septets or 67 units a part, and a
two-unit character (an escape pair, a surrogate pair) is never split across parts, as handsets do.
"""
from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"

_BASIC = frozenset(GSM7_BASIC) - {"\x1b"}
_EXT = frozenset(GSM7_EXTENSION)

SINGLE = {"GSM-7": 160, "UCS-2": 70}
PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class Segments:
    encoding: str
    characters: int
    segments: int

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "characters": self.characters, "segments": self.segments}


def is_gsm7(text: str) -> bool:
    return all(c in _BASIC or c in _EXT for c in text)


def non_gsm7_characters(text: str) -> list[str]:
    """The characters that force UCS-2, in order of first appearance (for warnings to campaign staff)."""
    seen = []
    for c in text:
        if c not in _BASIC and c not in _EXT and c not in seen:
            seen.append(c)
    return seen


def _unit_widths(text: str, encoding: str):
    if encoding == "GSM-7":
        return (2 if c in _EXT else 1 for c in text)
    return (2 if ord(c) > 0xFFFF else 1 for c in text)


def count(text: str) -> Segments:
    encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    widths = list(_unit_widths(text, encoding))
    total = sum(widths)
    if total <= SINGLE[encoding]:
        return Segments(encoding, total, 1 if text else 0)
    parts, used = 1, 0
    for w in widths:
        if used + w > PART[encoding]:
            parts, used = parts + 1, 0
        used += w
    return Segments(encoding, total, parts)


def measure(text: str) -> tuple[bool, int, int]:
    """(is GSM-7, length in septets if it is, length in UTF-16 units): both sizes in one pass."""
    gsm, ext, astral = True, 0, 0
    for c in text:
        if c in _BASIC:
            continue
        if c in _EXT:
            ext += 1
        else:
            gsm = False
            if ord(c) > 0xFFFF:
                astral += 1
    return gsm, len(text) + ext, len(text) + astral


def screen_length(text: str) -> tuple[str, int]:
    """(encoding, length in that encoding's units): how much of a USSD screen the text takes."""
    encoding = "GSM-7" if is_gsm7(text) else "UCS-2"
    return encoding, sum(_unit_widths(text, encoding))


def split_parts(text: str) -> list[str]:
    """The text cut where a handset would cut it into concatenated parts (count(text).segments of them), for a
    channel that builds the parts itself (gammu-smsd's SQL backend)."""
    seg = count(text)
    if seg.segments <= 1:
        return [text]
    parts, current, used = [], [], 0
    for c, w in zip(text, _unit_widths(text, seg.encoding)):
        if used + w > PART[seg.encoding]:
            parts.append("".join(current))
            current, used = [], 0
        current.append(c)
        used += w
    parts.append("".join(current))
    return parts


# What a French text loses to stay GSM-7: accented letters outside the GSM alphabet lose their accent (é, è, à,
# ù, ì, ò, É, Ç are in it and are kept), ligatures are written out, typographic quotes and spaces become ASCII.
_FOLD = str.maketrans({
    "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u", "ë": "e", "ï": "i", "ÿ": "y", "ç": "c",
    "Â": "A", "Ê": "E", "Î": "I", "Ô": "O", "Û": "U", "Ë": "E", "Ï": "I", "È": "E", "À": "A", "Ù": "U",
    "œ": "oe", "Œ": "OE", "æ": "ae", "’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"',
    "\u00a0": " ", "\u202f": " ", "–": "-", "—": "-", "…": "...",
})


def fold(text: str) -> str:
    """`text` with the characters that would force UCS-2 in a Latin-script language replaced by GSM-7 ones."""
    return text.translate(_FOLD)
