"""Subscribers from a CSV file: every row checked, all or nothing, with a report naming each bad row.

Columns (header row, any order, ``,`` or ``;`` or tab): ``phone`` and ``consent`` are required; ``language``,
``governorate``, ``delegation``, ``interests`` (separated by ``;``, ``|`` or spaces; empty: all) and
``consent_source`` (e.g. "paper form, Kairouan fair", logged with the consent) are optional. Consent must say
yes (yes, y, true, 1, oui, نعم, x): a row without it is an error, never a guess. Numbers are parsed by
phonenumbers, Tunisian unless written with a country code, and must be valid numbers.

Rows are counted as spreadsheets do (the header is row 1). Any error imports nothing. A number already
subscribed is left as it is, and a number that opted out (STOP) is never added back by an import: only the
person can opt in again. Both are listed in the report, and neither is an error.
"""
from __future__ import annotations

import contextlib
import csv
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import phonenumbers

from flows.directory import store as directory_store
from gateway import contacts
from gateway.store import transaction
from messages import store, subscribers
from messages.i18n import LANGUAGES
from messages.keywords import fold

REQUIRED = ("phone", "consent")
OPTIONAL = ("language", "governorate", "delegation", "interests", "consent_source")
YES = {"yes", "y", "true", "1", "oui", "o", "نعم", "x"}
LANGUAGE_NAMES = {"ar": "ar", "arabic": "ar", "arabe": "ar", "عربي": "ar", "العربية": "ar", "fr": "fr",
                  "french": "fr", "francais": "fr", "en": "en", "english": "en", "anglais": "en"}
MAX_ERRORS_SHOWN = 200
PROGRESS_EVERY = 1000


@dataclass
class ImportReport:
    rows: int = 0
    added: int = 0
    already_subscribed: list[int] = field(default_factory=list)  # row numbers
    opted_out: list[int] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, problem)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        out = [f"row {row}: {column}: {problem}" for row, column, problem in self.errors[:MAX_ERRORS_SHOWN]]
        if len(self.errors) > MAX_ERRORS_SHOWN:
            out.append(f"... and {len(self.errors) - MAX_ERRORS_SHOWN} more")
        return out


class ImportRejected(Exception):
    def __init__(self, report: ImportReport):
        self.report = report
        super().__init__(f"{len(report.errors)} bad row(s); nothing imported")


class _DryRun(Exception):
    pass


def import_csv(ctx, db, source, *, dry_run: bool = False, now: float | None = None, progress=None) -> ImportReport:
    """Import a CSV (a path or a text file object). Raises ImportRejected, with the report, on any bad row."""
    now = time.time() if now is None else now
    report = ImportReport()
    with _open(source) as f:
        reader = _reader(f, report)
        checker = _RowChecker(ctx, db)
        via = f"csv:{Path(source).name}" if isinstance(source, (str, Path)) else "csv"
        try:
            with transaction(db):
                _import_rows(ctx, db, reader, checker, report, via, now, progress)
                if report.errors:
                    raise ImportRejected(report)
                if dry_run:
                    raise _DryRun()
        except _DryRun:
            pass
    return report


def _open(source):
    """A path is opened here (Excel's BOM tolerated); a file object stays the caller's to close."""
    if isinstance(source, (str, Path)):
        return open(source, encoding="utf-8-sig", newline="")
    return contextlib.nullcontext(source)


def _reader(f, report: ImportReport) -> csv.DictReader:
    sample = f.read(4096)
    f.seek(0)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(f, dialect=dialect)
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        why = {"phone": "the number to text", "consent": "that the person agreed to receive messages"}
        report.errors += [(1, name, f"no '{name}' column (it must record {why[name]})") for name in missing]
        raise ImportRejected(report)
    return reader


def _import_rows(ctx, db, reader, checker: "_RowChecker", report: ImportReport, via: str, now: float,
                 progress) -> None:
    for row in reader:
        report.rows += 1
        line = reader.line_num
        clean = checker.check(line, row, report)
        if clean is not None:
            status = checker.existing(clean["phone"])
            if status == "active":
                report.already_subscribed.append(line)
            elif status == "opted_out":
                report.opted_out.append(line)
            elif not report.errors:  # once anything is wrong, only checking goes on
                _insert(db, clean, via, now)
                report.added += 1
        if progress and report.rows % PROGRESS_EVERY == 0:
            progress(report.rows)
    if progress:
        progress(report.rows)


def _insert(db, clean: dict, via: str, now: float) -> None:
    sub_id = store.insert_subscriber(db, clean["phone"], clean["language"], clean["governorate"], clean["delegation"],
                                     ",".join(sorted(clean["interests"])), now)
    source = clean["consent_source"]
    subscribers.log_consent(db, sub_id, "opt_in", "import", f"{via}: {source}" if source else via, now)


class _RowChecker:
    """Turns a CSV row into clean values, or records what is wrong with it (row and column)."""

    def __init__(self, ctx, db):
        self.ctx, self.db = ctx, db
        self.region = ctx.config["sms"]["default_region"]
        self.default_language = ctx.config["gateway"]["default_language"]
        self.secret = ctx.secret("contacts")
        self.seen: dict[str, int] = {}
        self.governorates, self.delegations = self._areas()

    def _areas(self) -> tuple[dict, dict]:
        governorates, delegations = {}, {}
        for code, level, parent, *names in directory_store.area_rows(self.db):
            target = governorates if level == "governorate" else delegations
            for name in [code, code.replace("_", " "), *filter(None, names)]:
                target[fold(name)] = (code, parent)
        return governorates, delegations

    def check(self, line: int, row: dict, report: ImportReport) -> dict | None:
        errors_before = len(report.errors)

        def bad(column: str, problem: str) -> None:
            report.errors.append((line, column, problem))

        phone = self._phone(row.get("phone"), line, bad)
        self._consent(row.get("consent"), bad)
        language = self._language(row.get("language"), bad)
        governorate = self._area(row.get("governorate"), self.governorates, "governorate", bad)
        delegation = self._area(row.get("delegation"), self.delegations, "delegation", bad)
        if delegation and governorate and delegation[1] != governorate[0]:
            bad("delegation", f"{row['delegation'].strip()!r} is not in {governorate[0]}")
        if delegation and not governorate:
            governorate = (delegation[1], None)
        interests = self._interests(row.get("interests"), bad)
        if len(report.errors) > errors_before:
            return None
        return {"phone": phone, "language": language, "governorate": governorate and governorate[0],
                "delegation": delegation and delegation[0], "interests": interests,
                "consent_source": (row.get("consent_source") or "").strip()[:100]}

    def _phone(self, raw, line: int, bad) -> str | None:
        raw = (raw or "").strip()
        if not raw:
            bad("phone", "empty")
            return None
        try:
            e164 = contacts.normalize(raw, self.region)
            valid = phonenumbers.is_valid_number(phonenumbers.parse(e164))
        except contacts.BadNumber:
            valid = False
        if not valid:
            bad("phone", f"{raw!r} is not a valid phone number")
            return None
        if e164 in self.seen:
            bad("phone", f"{raw!r} is a duplicate of row {self.seen[e164]}")
            return None
        self.seen[e164] = line
        return e164

    def _consent(self, raw, bad) -> None:
        value = fold(raw or "")
        if not value:
            bad("consent", "empty: only people who agreed to receive messages can be added")
        elif value not in YES:
            bad("consent", f"{(raw or '').strip()!r} is not a yes (yes, oui, نعم, 1, x)")

    def _language(self, raw, bad) -> str | None:
        value = fold(raw or "")
        if not value:
            return self.default_language
        lang = LANGUAGE_NAMES.get(value)
        if lang not in LANGUAGES:
            bad("language", f"{(raw or '').strip()!r}: expected one of {', '.join(LANGUAGES)}")
        return lang

    def _area(self, raw, known: dict, column: str, bad):
        value = fold(raw or "")
        if not value:
            return None
        if value not in known:
            bad(column, f"unknown {column} {(raw or '').strip()!r}")
            return None
        return known[value]

    def _interests(self, raw, bad) -> set[str] | None:
        items = [fold(x) for x in re.split(r"[;|,\s]+", raw or "") if fold(x)]
        try:
            return subscribers.parse_interests(items or "all")
        except ValueError as e:
            bad("interests", str(e))
            return None

    def existing(self, phone: str) -> str | None:
        status = store.subscriber_status(self.db, phone)
        if status is not None:
            return status
        key = contacts.contact_key(self.secret, phone)
        if store.any_opt_out_key(self.db, key, subscribers.opt_out_mark(phone)):
            return "opted_out"  # said STOP, or erased their data (a coarse mark: see subscribers.opt_out_mark)
        return None
