"""Reading one field of an imported HSDS record: ids, texts in three languages, numbers, flags. Every failure
is a DirectoryImportError naming the record (``services[3] (id "...")``) and the field."""
from __future__ import annotations

import math
import re

from messages.i18n import LANGUAGES

LANGS = LANGUAGES
BASE_LANG = "fr"  # the language of HSDS's own text fields
EXT = "x-dalil"

# a record id, and a phone number as written in a record: the importer and the console's forms check the same
RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}")
PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{2,29}")


class DirectoryImportError(ValueError):
    """A document that cannot be imported; the message names the record (index and id) and the field, and
    ``record`` and ``field`` hold them (None for the document as a whole), so a form can show it by its field."""

    def __init__(self, message: str, record: str | None = None, field: str | None = None):
        super().__init__(message)
        self.record, self.field = record, field


def fail(where: str, field: str, problem: str):
    raise DirectoryImportError(f"{where}: {field}: {problem}", where, field)


def record_name(collection: str, index: int | None, rec) -> str:
    name = collection if index is None else f"{collection}[{index}]"
    rid = rec.get("id") if isinstance(rec, dict) else None
    return f'{name} (id "{rid}")' if isinstance(rid, str) else name


def record_id(rec: dict, where: str) -> str:
    rid = rec.get("id")
    if rid is None or rid == "":
        fail(where, "id", "missing")
    if not isinstance(rid, str) or not RECORD_ID.fullmatch(rid):
        fail(where, "id", f"expected up to 100 letters, digits or . _ : @ - (a UUID fits), got {rid!r}")
    return rid


def child_id(rec: dict, where: str, label: str, default: str) -> str:
    """HSDS wants ids on phones, schedules and links too; Dalil derives one from the owner when absent."""
    rid = rec.get("id")
    if rid is None or rid == "":
        return default
    if not isinstance(rid, str) or not RECORD_ID.fullmatch(rid):
        fail(where, label, f"expected up to 100 letters, digits or . _ : @ -, got {rid!r}")
    return rid


def object(value, where: str, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail(where, field, "expected an object")
    return value


def array(value, where: str, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        fail(where, field, "expected an array")
    return value


def ext(rec: dict, where: str) -> dict:
    return object(rec.get(EXT), where, EXT)


def clean(value, where: str, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        fail(where, label, f"expected a string, got {value!r}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # JSON's "\ud800" escapes decode to lone surrogates SQLite cannot store
            fail(where, label, "not valid Unicode text (a lone surrogate escape)")
    return value.strip() or None


def localized(where: str, field: str, base, given, required: bool, base_field: str | None) -> dict | None:
    """One text in ar, fr and en; `base` is the HSDS field's (French) value, `given` the translations object.

    `field` names the translations in messages; `base_field` names the HSDS field holding French, if any.
    """
    given = object(given, where, field)
    texts = {lang: clean(given.get(lang), where, f"{field}.{lang}") for lang in LANGS}
    base = clean(base, where, base_field) if base_field else None
    if base is not None:
        if texts[BASE_LANG] not in (None, base):
            fail(where, f"{field}.{BASE_LANG}", f"differs from {base_field}")
        texts[BASE_LANG] = base
    if not any(texts.values()):
        if required:
            fail(where, base_field or field, "missing")
        return None
    for lang in LANGS:
        if not texts[lang]:
            label = base_field if lang == BASE_LANG and base_field else f"{field}.{lang}"
            fail(where, label, f"missing the '{lang}' text (every text needs ar, fr and en)")
    return texts


def translated(rec: dict, where: str, field: str, required: bool) -> dict | None:
    """A standard HSDS text field (French) with its x-dalil translations."""
    return localized(where, f"{EXT}.translations.{field}", rec.get(field),
                      translations(rec, where).get(field), required, field)


def columns(prefix: str, texts: dict | None) -> dict:
    return {f"{prefix}_{lang}": (texts or {}).get(lang) for lang in LANGS}


def flag(rec: dict, where: str, name: str) -> bool:
    value = ext(rec, where).get(name, False)
    if not isinstance(value, bool):
        fail(where, f"{EXT}.{name}", f"expected true or false, got {value!r}")
    return value


def number(rec: dict, where: str, field: str):
    value = rec.get(field)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        fail(where, field, f"expected a number, got {value!r}")
    # Python's json reads NaN, Infinity and integers of any size; SQLite stores none of them (and an export
    # would not be JSON)
    if isinstance(value, float) and not math.isfinite(value) or isinstance(value, int) and abs(value) > 2**53:
        fail(where, field, f"expected a finite number, got {value!r}")
    return value


def translations(rec: dict, where: str) -> dict:
    return object(ext(rec, where).get("translations"), where, f"{EXT}.translations")
