"""Fitting a screen into a budget: pages of whole words and whole options, each with its navigation.

A USSD screen holds about 182 GSM-7 characters, but only 80 once any character needs UCS-2 (all Arabic, and a
French text with a single ê or ç). The budget is therefore chosen per page, from the page's own characters.
Every piece is measured once; a page's size is the running sum of its pieces (this runs on every hop).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from messages.segments import measure

log = logging.getLogger(__name__)

MORE, BACK, MAIN = "98", "0", "00"
KEEP_WHOLE = 32  # a line this short (a phone number, an address, opening hours) never breaks across pages


@dataclass(frozen=True)
class Budget:
    gsm7: int
    ucs2: int

    def fits(self, text: str) -> bool:
        return self.fits_size(*measure(text))

    def fits_size(self, gsm: bool, gsm_units: int, ucs_units: int) -> bool:
        return gsm_units <= self.gsm7 if gsm else ucs_units <= self.ucs2


@dataclass(frozen=True)
class Page:
    text: str
    numbers: tuple[int, ...]  # option numbers shown on this page
    more: bool


class _Size:
    """The running size of a page: whether it is all GSM-7, and its length in either encoding."""
    __slots__ = ("gsm", "gsm_units", "ucs_units")

    def __init__(self, gsm=True, gsm_units=0, ucs_units=0):
        self.gsm, self.gsm_units, self.ucs_units = gsm, gsm_units, ucs_units

    def plus(self, size: tuple[bool, int, int], separator: int) -> "_Size":
        return _Size(self.gsm and size[0], self.gsm_units + size[1] + separator, self.ucs_units + size[2] + separator)

    def fits(self, budget: Budget) -> bool:
        return budget.fits_size(self.gsm, self.gsm_units, self.ucs_units)


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


def _closing_size(lines: list[str]) -> _Size:
    size = _Size()
    for line in lines:
        size = size.plus(measure(line), 1)  # each closing line follows a newline
    return size


def paginate(pieces: list, nav: list[str], more_label: str, budget: Budget) -> list[Page]:
    """Split pieces into pages that each fit the budget together with their navigation lines.

    ``nav`` (Back, Main menu) closes every page; ``more_label`` is added where another page follows.
    """
    sizes = [measure(word) for _, word, _ in pieces]
    more_lines = [f"{MORE}. {more_label}", *nav]
    closing, closing_more = _closing_size(nav), _closing_size(more_lines)
    pages, start = [], 0
    while True:
        rest = pieces[start:]
        total = _Size()
        for k, size in enumerate(sizes[start:]):
            total = total.plus(size, 1 if k else 0)
        last = _Size(total.gsm and closing.gsm, total.gsm_units + closing.gsm_units - (0 if rest else 1),
                     total.ucs_units + closing.ucs_units - (0 if rest else 1))
        if last.fits(budget):
            text = "\n".join(filter(None, [_join(rest), *nav]))
            pages.append(Page(text, tuple(n for *_, n in rest if n), False))
            return pages
        taken, running = 0, _Size()
        for k, size in enumerate(sizes[start:]):
            candidate = running.plus(size, 1 if k else 0)
            with_closing = _Size(candidate.gsm and closing_more.gsm, candidate.gsm_units + closing_more.gsm_units,
                                 candidate.ucs_units + closing_more.ucs_units)
            if not with_closing.fits(budget):
                break
            running, taken = candidate, k + 1
        if taken == 0:  # one word or option longer than a whole screen: show it alone rather than loop
            log.warning("a piece of %d characters does not fit a screen", len(rest[0][1]))
            taken = 1
        page = rest[:taken]
        pages.append(Page("\n".join([_join(page), *more_lines]), tuple(n for *_, n in page if n), True))
        start += taken


@functools.lru_cache(maxsize=4096)
def _paginate_tuple(pieces: tuple, nav: tuple, more_label: str, budget: Budget) -> tuple[Page, ...]:
    return tuple(paginate(list(pieces), list(nav), more_label, budget))


def paginate_cached(pieces: list, nav: list[str], more_label: str, budget: Budget) -> list[Page]:
    """paginate, remembered: the same screen in the same language is laid out once, not on every hop."""
    return list(_paginate_tuple(tuple(pieces), tuple(nav), more_label, budget))
