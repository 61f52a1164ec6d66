"""Fitting a screen into a budget: pages of whole words and whole options, all laid out the same way.

A USSD screen holds about 182 GSM-7 characters, but only 80 once any character needs UCS-2 (all Arabic, and a
French text with a single ê or ç). The budget is therefore chosen per page, from the page's own characters.

Every page of a screen has one layout: a title line (the screen's short first line, repeated on every page, so a
caller on page 3 still knows where they are), the page's share of the text and options, and one navigation line
("98.More 0.Back 00.Menu"; More only where a page follows). The whole screen is cut once, so an option is on
exactly one page whichever page is shown first. The title line is sized for the longer of the title and the
"wrong key" hint, so that a wrong key shows the same page with the hint in the title's place, without moving a
single option to another page.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from messages.segments import measure

log = logging.getLogger(__name__)

MORE, BACK, MAIN = "98", "0", "00"
KEEP_WHOLE = 32  # a line this short (a phone number, an address, opening hours) never breaks across pages
PAGE_BREAK = ("\f", "", None)  # a piece that starts a new page (a detail's summary after its choices)


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
    title: str
    body: str
    nav: str
    numbers: tuple[int, ...]  # option numbers shown on this page: the only ones it accepts
    more: bool

    @property
    def text(self) -> str:
        return self.show()

    def show(self, hint: str | None = None) -> str:
        return "\n".join(filter(None, [hint or self.title, self.body, self.nav]))


class _Size:
    """The running size of a page: whether it is all GSM-7, and its length in either encoding."""
    __slots__ = ("gsm", "gsm_units", "ucs_units")

    def __init__(self, gsm=True, gsm_units=0, ucs_units=0):
        self.gsm, self.gsm_units, self.ucs_units = gsm, gsm_units, ucs_units

    def plus(self, size, separator: int) -> "_Size":
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


def nav_line(entries) -> str:
    """Navigation on one line: '98.More 0.Back 00.Menu'."""
    return " ".join(f"{key}.{label}" for key, label in entries)


def _join(pieces) -> str:
    return "".join((sep if k else "") + word for k, (sep, word, _) in enumerate(pieces))


def _slot_size(title: str, hint: str) -> _Size:
    """Room for the title line, or the hint shown in its place: the larger of the two, plus its newline."""
    sizes = [measure(s) for s in (title, hint) if s]
    if not sizes:
        return _Size()
    return _Size(all(s[0] for s in sizes), max(s[1] for s in sizes) + 1, max(s[2] for s in sizes) + 1)


def _with(size: _Size, line: str) -> _Size:
    return size.plus(measure(line), 1) if line else size


def paginate(pieces: list, nav: list[tuple[str, str]], more_label: str, budget: Budget,
             title: str = "", hint: str = "") -> list[Page]:
    """Cut pieces into pages that each fit the budget with the title (or hint) line and the navigation line.

    ``nav`` is (key, label) pairs closing every page; (98, more_label) leads them where another page follows.
    Room for the hint is set aside only if some page could not show it in place of the title.
    """
    sizes = [measure(word) for _, word, _ in pieces]
    pages = _cut(pieces, sizes, nav, more_label, budget, title, _slot_size(title, ""))
    if hint and not all(budget.fits(page.show(hint)) for page in pages):
        pages = _cut(pieces, sizes, nav, more_label, budget, title, _slot_size(title, hint))
    return pages


def _cut(pieces, sizes, nav, more_label: str, budget: Budget, title: str, slot: _Size) -> list[Page]:
    last_nav = nav_line(nav)
    more_nav = nav_line([(MORE, more_label), *nav])
    pages: list[Page] = []
    start = 0
    while True:
        end = _page_end(pieces, sizes, start, _with(slot, more_nav), budget)
        rest_end = _page_end(pieces, sizes, start, _with(slot, last_nav), budget)
        if rest_end == len(pieces) and not _break_before(pieces, start, len(pieces)):
            pages.append(_page(title, pieces[start:], last_nav, False))
            return pages
        if end == start:  # one word or option longer than a whole screen: show it alone rather than loop
            log.warning("a piece of %d characters does not fit a screen", len(pieces[start][1]))
            end = start + 1
        pages.append(_page(title, pieces[start:end], more_nav, True))
        start = end
        while start < len(pieces) and pieces[start] == PAGE_BREAK:
            start += 1


def _break_before(pieces, start: int, end: int) -> bool:
    return any(p == PAGE_BREAK for p in pieces[start:end])


def _page_end(pieces, sizes, start: int, closing: _Size, budget: Budget) -> int:
    """How far from `start` a page can go with `closing` (title and navigation) included; stops at a break."""
    running, end = closing, start
    for k in range(start, len(pieces)):
        if pieces[k] == PAGE_BREAK:
            return end
        candidate = running.plus(sizes[k], 1 if k > start else 0)
        if not candidate.fits(budget):
            return end
        running, end = candidate, k + 1
    return end


def _page(title: str, pieces, nav: str, more: bool) -> Page:
    pieces = [p for p in pieces if p != PAGE_BREAK]
    return Page(title, _join(pieces), nav, tuple(n for *_, n in pieces if n), more)


@functools.lru_cache(maxsize=4096)
def _paginate_tuple(pieces: tuple, nav: tuple, more_label: str, budget: Budget, title: str,
                    hint: str) -> tuple[Page, ...]:
    return tuple(paginate(list(pieces), list(nav), more_label, budget, title, hint))


def paginate_cached(pieces: list, nav: list, more_label: str, budget: Budget, title: str = "",
                    hint: str = "") -> list[Page]:
    """paginate, remembered: the same screen in the same language is laid out once, not on every hop."""
    return list(_paginate_tuple(tuple(pieces), tuple(nav), more_label, budget, title, hint))
