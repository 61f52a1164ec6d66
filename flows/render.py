"""Fitting a screen into a budget: pages of whole words and whole options, each with its navigation.

A USSD screen holds about 182 GSM-7 characters, but only 80 once any character needs UCS-2 (all Arabic, and a
French text with a single ê or ç). The budget is therefore chosen per page, from the page's own characters.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from messages.segments import screen_length

log = logging.getLogger(__name__)

MORE, BACK, MAIN = "98", "0", "00"


@dataclass(frozen=True)
class Budget:
    gsm7: int
    ucs2: int

    def fits(self, text: str) -> bool:
        encoding, units = screen_length(text)
        return units <= (self.gsm7 if encoding == "GSM-7" else self.ucs2)


@dataclass(frozen=True)
class Page:
    text: str
    numbers: tuple[int, ...]  # option numbers shown on this page
    more: bool


KEEP_WHOLE = 32  # a line this short (a phone number, an address, opening hours) never breaks across pages


def text_pieces(text: str) -> list[tuple[str, str, None]]:
    """A paragraph as (separator, word, None) pieces, so a page break only ever falls between words,
    and never inside a short line."""
    pieces = []
    for line in text.split("\n"):
        words = [line.strip()] if len(line) <= KEEP_WHOLE else line.split()
        for j, word in enumerate(w for w in words if w):
            pieces.append((" " if j else "\n", word, None))
    return pieces


def option_piece(number: int, label: str) -> tuple[str, str, int]:
    return ("\n", f"{number}. {label}", number)


def _join(pieces) -> str:
    return "".join((sep if k else "") + word for k, (sep, word, _) in enumerate(pieces))


def paginate(pieces: list, nav: list[str], more_label: str, budget: Budget) -> list[Page]:
    """Split pieces into pages that each fit the budget together with their navigation lines.

    ``nav`` (Back, Main menu) closes every page; ``more_label`` is added where another page follows.
    """
    pages, rest = [], list(pieces)
    while True:
        closing = "\n".join(nav)
        last_try = _join(rest) + ("\n" + closing if closing and rest else closing)
        if budget.fits(last_try):
            pages.append(Page(last_try, tuple(n for *_, n in rest if n), False))
            return pages
        closing_more = "\n".join([f"{MORE}. {more_label}", *nav])
        taken = 0
        while taken < len(rest) and budget.fits(_join(rest[:taken + 1]) + "\n" + closing_more):
            taken += 1
        if taken == 0:  # one word or option longer than a whole screen: show it alone rather than loop
            log.warning("a piece of %d characters does not fit a screen", len(rest[0][1]))
            taken = 1
        pages.append(Page(_join(rest[:taken]) + "\n" + closing_more, tuple(n for *_, n in rest[:taken] if n), True))
        rest = rest[taken:]
        rest[0] = ("", rest[0][1], rest[0][2])
