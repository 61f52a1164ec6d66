"""A service as callers read it: a first screen with its title and phone number, a one-screen summary, and the
full text by SMS. The engine, the importer's summary check and `service.sms` all lay it out here.
"""
from __future__ import annotations

import functools
import string

from flows.render import BACK, KEEP_WHOLE, PAGE_BREAK, Budget, nav_line, option_piece, paginate, text_pieces
from messages import bidi, i18n
from messages.segments import fold

USSD_BUDGET = Budget(182, 80)  # the defaults of [ussd] screen_gsm7 / screen_ucs2
FOLDED_BY_DEFAULT = ("fr",)    # the default of [ussd] fold_accents


class _Vars(dict):
    """format_map source that leaves an unknown {placeholder} empty instead of failing the whole screen."""

    def __missing__(self, key):
        return ""


def layout(text: str, labels: list[str], lang: str, show=str, after: str = "") -> tuple[str, list]:
    """(title line, pieces) of a screen: its short first line, then its text, options and what follows them
    on pages of its own (a detail's summary). Numbers are made bidi-safe, then `show` (accent folding) applied."""
    return _layout(text, tuple(labels), lang, show, after)


@functools.lru_cache(maxsize=4096)  # the same screen in the same language, on nearly every hop
def _layout(text: str, labels: tuple, lang: str, show, after: str) -> tuple[str, list]:
    title, _, body = text.partition("\n")
    if len(title) > KEEP_WHOLE:  # a sentence, not a title: it is paginated like the rest
        title, body = "", text
    pieces = text_pieces(show(bidi.safe(body, lang)))
    pieces += [option_piece(n, show(label)) for n, label in enumerate(labels, start=1)]
    if after:
        pieces += [PAGE_BREAK] + text_pieces(show(bidi.safe(after, lang)))
    return show(bidi.safe(title, lang)), pieces


def title(service: dict, lang: str) -> str:
    """The same words in a list and at the top of the detail."""
    return (service.get("short_name") or {}).get(lang) or (service.get("name") or {}).get(lang, "")


def phone_line(service: dict, lang: str) -> str:
    number = service.get("phone")
    return i18n.t(lang, "detail.phone", phone=bidi.phone(number, lang)) if number else ""


def summary(service: dict, lang: str) -> str:
    return (service.get("ussd_summary") or {}).get(lang) or ""


def full_text(service: dict, lang: str) -> str:
    """A service's whole detail in one language, laid out by the catalog's detail.body, for an SMS."""
    fields = {k: (v.get(lang, "") if isinstance(v, dict) else v or "") for k, v in service.items()}
    fields["phone"] = bidi.phone(fields["phone"], lang) if fields.get("phone") else ""
    lines = []
    for line in i18n.t(lang, "detail.body").splitlines():
        names = [name for _, name, _, _ in string.Formatter().parse(line) if name]
        if names and not any(str(fields.get(name, "")).strip() for name in names):
            continue  # a line whose every field is empty ("Tel:" with no phone) is left out
        lines.append(bidi.safe(line.format_map(_Vars(fields)), lang))
    return "\n".join(lines)


def summary_problem(title_text: str, summary_text: str, lang: str) -> str | None:
    """Why a USSD summary would not fit one screen under its title with Back; None if it fits. (The detail
    shows Main menu too only where that costs no extra page.)"""
    show = fold if lang in FOLDED_BY_DEFAULT else str
    nav = [(BACK, show(i18n.t(lang, "nav.back")))]
    pieces = text_pieces(show(bidi.safe(summary_text, lang)))
    pages = paginate(pieces, nav, show(i18n.t(lang, "nav.more")), USSD_BUDGET, title=show(title_text),
                     hint=show(i18n.t(lang, "nav.invalid")))
    if len(pages) == 1:
        return None
    from messages.segments import screen_length
    encoding, units = screen_length(pages[0].title + "\n" + summary_text + "\n" + nav_line(nav))
    limit = USSD_BUDGET.gsm7 if encoding == "GSM-7" else USSD_BUDGET.ucs2
    return (f"does not fit one USSD screen under the title with its navigation ({units} of {limit} "
            f"{encoding} characters); the full text goes by SMS, keep here only what a caller needs first")
