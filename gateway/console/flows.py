"""The flows: every screen with its validation result, and the texts of the flows editable in ar, fr and en.

A text is saved into the catalog (.po) that holds it, with babel, and the catalogs are reloaded: callers see it
on their next screen. After saving, ``flows check`` runs again; if the edit brought a new problem (a screen that
no longer fits, a lost {placeholder}) the catalogs are put back as they were and the problems are shown.
The page shows the screen budget live (182 GSM-7 / 80 UCS-2 characters) as one types (static/segments.js).
"""
from __future__ import annotations

import io
import logging
import os
import string
import threading
from pathlib import Path

from babel.messages.pofile import read_po, write_po
from flask import g, redirect, request, url_for

from flows import check as checker
from flows.definitions import Screen
from flows.render import BACK, MAIN, MORE, Budget, nav_line
from gateway.context import dalil
from gateway.console import bp, ui
from messages import i18n

log = logging.getLogger(__name__)

MAX_TEXT = 500
DEFAULT_DOMAIN = "flows.po"
_write_lock = threading.Lock()


def _keys_of(screen: Screen) -> list[str]:
    return [k for k in [screen.text, *(o.label for o in screen.options)] if k]


def _problems_by_screen(problems: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    per, general = {}, []
    for problem in problems:
        head, sep, rest = problem.partition(": screen '")
        if sep and "': " in rest:
            screen_id, _, text = rest.partition("': ")
            per.setdefault(screen_id, []).append(text)
        else:
            general.append(problem)
    return per, general


def editable_keys(flows) -> list[str]:
    keys = list(checker.ENGINE_KEYS)
    for screen in flows.screens.values():
        keys += [k for k in _keys_of(screen) if k not in keys]
    return keys


@bp.get("/flows")
@ui.area("flows")
def flows_page():
    flows, problems = _check()
    per_screen, general = _problems_by_screen(problems)
    files: dict[str, list[Screen]] = {}
    if flows:
        for screen in flows.screens.values():
            files.setdefault(screen.source, []).append(screen)
    return ui.render("flows.html", files=files, problems=problems, per_screen=per_screen, general=general,
                     engine_keys=checker.ENGINE_KEYS, text=_current_text, saved=request.args.get("saved"),
                     screens_by_id=flows.screens if flows else {}, flow_name=_flow_name)


def _flow_name(source: str) -> str:
    """A flow file by what it does for a caller ("Get help"), not its file name."""
    key = f"console.flows.file.{Path(source).stem}"
    return ui.t(key) if i18n.has(key, ui.lang()) else Path(source).stem


def _check():
    """`flows check` as this gateway's [ussd] screen sizes and fold_accents set it."""
    ussd = dalil().config["ussd"]
    return checker.check(budget=Budget(ussd["screen_gsm7"], ussd["screen_ucs2"]), folded=tuple(ussd["fold_accents"]))


def _current_text(key: str | None) -> str:
    if not key:
        return ""
    texts = i18n.catalogs()[ui.lang()]
    return texts.get(key, "")


# -- editing one text ---------------------------------------------------------------------------------------

def _placeholders(text: str) -> set[str] | None:
    """The {names} a text uses; None if its braces are broken (the engine would fail to fill it)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def _po_files(lang: str) -> list[Path]:
    return sorted((i18n.LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po"))


def _read(path: Path, lang: str):
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _write_text(lang: str, key: str, text: str, backups: dict[Path, bytes]) -> None:
    files = _po_files(lang)
    target = next((p for p in files if key in _read(p, lang)), None) or \
        (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / DEFAULT_DOMAIN)
    backups.setdefault(target, target.read_bytes() if target.exists() else b"")
    catalog = _read(target, lang) if target.exists() else None
    if catalog is None:
        from babel.messages.catalog import Catalog
        catalog = Catalog(locale=lang)
    if key in catalog:
        catalog[key].string = text  # keeps the message's place and comments
    else:
        catalog.add(key, text)
    buf = io.BytesIO()
    write_po(buf, catalog, width=0)  # width 0: lines are not re-wrapped, so the file's diff is the edit only
    tmp = target.with_suffix(".po.tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, target)


def _restore(backups: dict[Path, bytes]) -> None:
    for path, content in backups.items():
        if content:
            path.write_bytes(content)
        elif path.exists():
            path.unlink()
    i18n.reload()


def _screen_layout(flows, key: str, lang: str) -> dict | None:
    """The first screen showing `key`, laid out in `lang` with a marker where the text goes: the page
    JavaScript measures it live as one types. None if no screen uses the key (an engine text)."""
    sample = _Sample()
    for screen in flows.screens.values():
        if key not in _keys_of(screen):
            continue
        texts = i18n.catalogs()[lang]
        lines = []
        marker = "\u0000"
        if screen.text:
            lines.append(marker if screen.text == key else texts.get(screen.text, "").format_map(sample))
        for n, option in enumerate(screen.options, start=1):
            label = marker if option.label == key else texts.get(option.label, "")
            lines.append(f"{n}. {label}")
        nav = [] if screen.type == "end" else [nav_line([(BACK, texts.get("nav.back", "")),
                                                         (MAIN, texts.get("nav.main", ""))])]
        before, _, after = "\n".join(lines + nav).partition(marker)
        return {"screen": screen.id, "type": screen.type, "before": before, "after": after,
                "dynamic": screen.type in ("list", "areas", "detail"), "header": screen.text == key,
                "more": nav_line([(MORE, texts.get("nav.more", ""))])}
    return None


class _Sample(dict):
    def __missing__(self, key):
        return checker.SAMPLE_VALUE


@bp.route("/flows/texts/<key>", methods=["GET", "POST"])
@ui.area("flows")
def flow_text(key: str):
    flows, _ = _check()
    if flows is None or key not in editable_keys(flows):
        return ui.error_page(404, "console.error.404.title", "console.flows.unknown_key")
    catalogs = i18n.catalogs()
    values = {lang: catalogs[lang].get(key, "") for lang in i18n.LANGUAGES}
    errors = ui.Errors()
    new_problems: list[str] = []
    if request.method == "POST":
        values = {lang: (request.form.get(f"text_{lang}") or "").strip().replace("\r\n", "\n")
                  for lang in i18n.LANGUAGES}
        reference = next((catalogs[lang][key] for lang in ("en", "fr", "ar") if key in catalogs[lang]), None)
        wanted = _placeholders(reference) if reference else None
        for lang, text in values.items():
            field = f"text_{lang}"
            names = _placeholders(text)
            if not text:
                errors.add(field, "console.form.required")
            elif len(text) > MAX_TEXT:
                errors.add(field, "console.form.too_long", max=ui.number(MAX_TEXT))
            elif names is None:
                errors.add(field, "console.flows.braces")
            elif wanted is not None and names != wanted:
                errors.add(field, "console.flows.placeholders",
                           names=", ".join("{" + n + "}" for n in sorted(wanted)) or "—")
        if not errors:
            changed = [lang for lang in i18n.LANGUAGES if values[lang] != catalogs[lang].get(key)]
            with _write_lock:
                _, before = _check()
                backups: dict[Path, bytes] = {}
                try:
                    for lang in changed:
                        _write_text(lang, key, values[lang], backups)
                    i18n.reload()
                    _, after = _check()
                except Exception:
                    _restore(backups)
                    raise
                new_problems = [p for p in after if p not in before]
                if new_problems:
                    _restore(backups)
                    errors.add("form", "console.flows.would_break")
            if not errors:
                log.info("console: %s edited the text %s (%s)", g.user["username"], key, ", ".join(changed) or "-")
                return redirect(url_for("console.flows_page", saved=key), 303)
    layouts = {lang: _screen_layout(flows, key, lang) for lang in i18n.LANGUAGES}
    cfg = dalil().config["ussd"]
    return ui.render("flow_text.html", 422 if errors else 200, key=key, values=values, errors=errors,
                     layouts=layouts, new_problems=new_problems, budget_gsm=cfg["screen_gsm7"],
                     budget_ucs=cfg["screen_ucs2"], sample=checker.SAMPLE_VALUE)
