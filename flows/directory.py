"""The programme/service directory: organisations, services, locations, shaped after Open Referral HSDS 3.0.

Menus call the read functions (``governorates``, ``delegations``, ``list_services``, ``service``) on every USSD
hop, so they are single indexed queries. Texts come back as ``{"ar": ..., "fr": ..., "en": ...}``.

HSDS documents
--------------
``import_hsds`` accepts two shapes and ``export_hsds`` writes the second:

1. a list of HSDS service objects, each with its ``organization`` (or ``organization_id``) and its
   ``service_at_locations`` nested, each of those with its ``location`` (or ``location_id``);
2. an object with the arrays ``organizations``, ``services``, ``locations`` and ``service_at_locations``
   (items of the last are ``{"id", "service_id", "location_id"}``). Nesting as in 1 is also allowed here.
   A top-level ``"sample": true`` marks every record of the document as sample data.

Standard HSDS fields used: organization ``id, name, description, website, email, phones``; service ``id,
organization_id, name, description, status, eligibility_description, minimum_age, maximum_age, url, email,
phones, schedules, attributes`` (each attribute's ``taxonomy_term.code``, or ``taxonomy_term_id``, is one of
the Dalil codes in flows/store.py TAXONOMY); location ``id, name, latitude, longitude, addresses[0].address_1,
phones, schedules``; schedule ``id, description, freq, byday, opens_at, closes_at``; phone ``id, number, type``.
Other HSDS fields are ignored. Status ``active`` is kept; ``inactive``, ``defunct`` and ``temporarily closed``
become retired (exported as ``inactive``).

HSDS has one language per record, so Dalil adds an extension object ``"x-dalil"`` to each record:

- the standard text fields (``name``, ``description``, ``eligibility_description``, ``address_1``) hold the
  **French** text, so tools that ignore the extension still read a sensible directory;
- ``x-dalil.translations.<field>`` holds ``{"ar": ..., "en": ...}`` (a ``"fr"`` there must match the field);
  a location's address translations are under ``translations.address``;
- a service's ``x-dalil.short_name`` is ``{"ar", "fr", "en"}``, at most 24 characters each: its title in USSD
  lists and on the first screen of its detail (name and phone number), so a list and a detail never disagree;
- a service's ``x-dalil.ussd_summary`` is ``{"ar", "fr", "en"}`` (optional): what the detail's second screen
  shows, checked on import to fit one USSD screen under the title with its navigation (``flows.screen_text``);
  the full description, eligibility, hours and address go by SMS;
  ``x-dalil.national: true`` lists a service in every governorate (a service with no location is national);
- a location's ``x-dalil.governorate`` and ``x-dalil.delegation`` are area codes (``tataouine``,
  ``ben_guerdane``); without them the governorate is matched from ``addresses[0].state_province``;
- ``x-dalil.sample: true`` marks sample data.

Every text present must exist in all three languages. A bad document imports nothing: it raises
``DirectoryImportError`` naming the record (``services[3] (id "...")``) and the field. Importing the same ids
again updates them (upsert). A record's ``phones``, ``schedules`` and categories, and a service's locations
(its ``service_at_locations``, nested or top-level), are replaced when the document gives them, an empty
array clearing them; when the key is absent the stored ones are kept, so a console can edit a service's texts
without restating where it is offered.
"""
from __future__ import annotations

import json
import math
import re
import sqlite3
from pathlib import Path

from flows.store import sort_key
from gateway.store import transaction

LANGS = ("ar", "fr", "en")
BASE_LANG = "fr"  # the language of HSDS's own text fields
EXT = "x-dalil"
SHORT_NAME_MAX = 24
KINDS = ("organizations", "services", "locations")
DEMO_PACK = Path(__file__).parent / "demo" / "sample_directory.json"

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}")
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{2,29}")
_STATUS_IN = {"active": "active", "inactive": "retired", "defunct": "retired", "temporarily closed": "retired"}
_STATUS_OUT = {"active": "active", "retired": "inactive"}
_SAMPLE_NOTE = ("SAMPLE DATA for demonstrations: programmes, offices, addresses and phone numbers are "
                "illustrative, not verified offers.")


class DirectoryImportError(ValueError):
    """A document that cannot be imported; the message names the record (index and id) and the field."""


# -- reading: what menus call on every hop --------------------------------------------------------------------

def _texts(row, field: str) -> dict | None:
    texts = {lang: row[f"{field}_{lang}"] for lang in LANGS}
    return texts if any(texts.values()) else None


def _area(row) -> dict:
    return {"code": row["code"], "name": _texts(row, "name")}


def governorates(db) -> list[dict]:
    rows = db.query("SELECT code, name_ar, name_fr, name_en FROM areas "
                    "WHERE level = 'governorate' ORDER BY position")
    return [_area(r) for r in rows]


def delegations(db, governorate_code: str) -> list[dict]:
    rows = db.query("SELECT code, name_ar, name_fr, name_en FROM areas "
                    "WHERE level = 'delegation' AND parent_code = ? ORDER BY position", [governorate_code])
    return [_area(r) for r in rows]


def area_name(db, code: str) -> dict | None:
    row = next(db.query("SELECT name_ar, name_fr, name_en FROM areas WHERE code = ?", [code]), None)
    return _texts(row, "name") if row else None


def taxonomy(db) -> list[dict]:
    """The category codes with their names and kind (information or help)."""
    rows = db.query("SELECT code, kind, name_ar, name_fr, name_en FROM taxonomy_terms ORDER BY position")
    return [{"code": r["code"], "kind": r["kind"], "name": _texts(r, "name")} for r in rows]


def count_services(db) -> int:
    return db.execute("SELECT count(*) FROM services").fetchone()[0]


def list_services(db, categories: list[str], governorate: str | None) -> list[dict]:
    """Active services in any of `categories`, offered in `governorate` or nationally; local ones first.

    A service is national when flagged so or when it has no location. The order does not depend on the
    caller's language, so option numbers stay the same when someone switches language.
    """
    if not categories:
        return []
    names = {f"c{i}": code for i, code in enumerate(categories)}
    sql = f"""
        SELECT s.id, s.name_ar, s.name_fr, s.name_en, s.short_name_ar, s.short_name_fr, s.short_name_en,
               EXISTS (SELECT 1 FROM service_at_location sal JOIN locations l ON l.id = sal.location_id
                       WHERE sal.service_id = s.id AND (:gov IS NULL OR l.governorate = :gov)) AS local
        FROM services s
        WHERE s.status = 'active'
          AND EXISTS (SELECT 1 FROM service_taxonomy st
                      WHERE st.service_id = s.id AND st.term_code IN ({', '.join(':' + n for n in names)}))
          AND (local OR s.national
               OR NOT EXISTS (SELECT 1 FROM service_at_location sal WHERE sal.service_id = s.id))
        ORDER BY local DESC, s.sort_name, s.id
    """  # noqa: S608 (placeholders :c0, :c1 ... only; values bound)
    rows = db.execute(sql, {"gov": governorate, **names}).fetchall()
    return [{"id": r[0], "name": dict(zip(LANGS, r[1:4])), "short_name": dict(zip(LANGS, r[4:7]))}
            for r in rows]


def service(db, service_id: str, governorate: str | None = None) -> dict | None:
    """One active service for a detail screen; None if unknown or retired.

    Address, schedule and phone come from the service's location in `governorate` when it has one there
    (else its first location); a national service without location has address None. Missing texts are None.
    """
    row = next(db.query("SELECT * FROM services WHERE id = ? AND status = 'active'", [service_id]), None)
    if row is None:
        return None
    location = _main_location(db, service_id, governorate)
    org = next(db.query("SELECT * FROM organizations WHERE id = ?", [row["organization_id"]]))
    return {
        "id": row["id"],
        "name": _texts(row, "name"),
        "short_name": _texts(row, "short_name"),
        "ussd_summary": _texts(row, "ussd_summary"),
        "description": _texts(row, "description"),
        "eligibility": _texts(row, "eligibility"),
        "schedule": _schedule_text(db, service_id, location),
        "address": _texts(location, "address") if location else None,
        "location": _texts(location, "name") if location else None,
        "governorate": location["governorate"] if location else None,
        "phone": _phone_number(db, row, location),
        "organization": _texts(org, "name"),
        "categories": _categories(db, service_id),
        "national": bool(row["national"]) or location is None,
        "url": row["url"],
        "sample": bool(row["sample"]),
    }


def _main_location(db, service_id: str, governorate: str | None):
    return next(db.query(
        "SELECT l.* FROM service_at_location sal JOIN locations l ON l.id = sal.location_id "
        "WHERE sal.service_id = ? ORDER BY l.governorate = ? DESC, l.name_fr, l.id LIMIT 1",
        [service_id, governorate]), None)


def _schedule_text(db, service_id: str, location) -> dict | None:
    owners = [("service_id", service_id)] + ([("location_id", location["id"])] if location else [])
    for column, owner in owners:
        row = next(db.query(f"SELECT * FROM schedules WHERE {column} = ? ORDER BY position, id LIMIT 1",  # noqa: S608 (fixed names, bound values)
                            [owner]), None)
        if row:
            return _texts(row, "description")
    return None


def _phone_number(db, service_row, location) -> str | None:
    # the most specific public number: the service's own, then its office's, then its organisation's
    owners = [("service_id", service_row["id"])]
    owners += [("location_id", location["id"])] if location else []
    owners += [("organization_id", service_row["organization_id"])]
    for column, owner in owners:
        row = db.execute(f"SELECT number FROM phones WHERE {column} = ? ORDER BY position, id LIMIT 1",  # noqa: S608 (fixed names, bound values)
                         [owner]).fetchone()
        if row:
            return row[0]
    return None


def _categories(db, service_id: str) -> list[str]:
    rows = db.execute("SELECT t.code FROM service_taxonomy st JOIN taxonomy_terms t ON t.code = st.term_code "
                      "WHERE st.service_id = ? ORDER BY t.position", [service_id])
    return [r[0] for r in rows]


# -- import ---------------------------------------------------------------------------------------------------

def _fail(where: str, field: str, problem: str):
    raise DirectoryImportError(f"{where}: {field}: {problem}")


def _where(collection: str, index: int | None, rec) -> str:
    name = collection if index is None else f"{collection}[{index}]"
    rid = rec.get("id") if isinstance(rec, dict) else None
    return f'{name} (id "{rid}")' if isinstance(rid, str) else name


def _record_id(rec: dict, where: str) -> str:
    rid = rec.get("id")
    if rid is None or rid == "":
        _fail(where, "id", "missing")
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        _fail(where, "id", f"expected up to 100 letters, digits or . _ : @ - (a UUID fits), got {rid!r}")
    return rid


def _child_id(rec: dict, where: str, label: str, default: str) -> str:
    """HSDS wants ids on phones, schedules and links too; Dalil derives one from the owner when absent."""
    rid = rec.get("id")
    if rid is None or rid == "":
        return default
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        _fail(where, label, f"expected up to 100 letters, digits or . _ : @ -, got {rid!r}")
    return rid


def _object(value, where: str, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, field, "expected an object")
    return value


def _array(value, where: str, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        _fail(where, field, "expected an array")
    return value


def _ext(rec: dict, where: str) -> dict:
    return _object(rec.get(EXT), where, EXT)


def _clean(value, where: str, label: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(where, label, f"expected a string, got {value!r}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # JSON's "\ud800" escapes decode to lone surrogates SQLite cannot store
            _fail(where, label, "not valid Unicode text (a lone surrogate escape)")
    return value.strip() or None


def _localized(where: str, field: str, base, given, required: bool, base_field: str | None) -> dict | None:
    """One text in ar, fr and en; `base` is the HSDS field's (French) value, `given` the translations object.

    `field` names the translations in messages; `base_field` names the HSDS field holding French, if any.
    """
    given = _object(given, where, field)
    texts = {lang: _clean(given.get(lang), where, f"{field}.{lang}") for lang in LANGS}
    base = _clean(base, where, base_field) if base_field else None
    if base is not None:
        if texts[BASE_LANG] not in (None, base):
            _fail(where, f"{field}.{BASE_LANG}", f"differs from {base_field}")
        texts[BASE_LANG] = base
    if not any(texts.values()):
        if required:
            _fail(where, base_field or field, "missing")
        return None
    for lang in LANGS:
        if not texts[lang]:
            label = base_field if lang == BASE_LANG and base_field else f"{field}.{lang}"
            _fail(where, label, f"missing the '{lang}' text (every text needs ar, fr and en)")
    return texts


def _translated(rec: dict, where: str, field: str, required: bool) -> dict | None:
    """A standard HSDS text field (French) with its x-dalil translations."""
    return _localized(where, f"{EXT}.translations.{field}", rec.get(field),
                      _translations(rec, where).get(field), required, field)


def _columns(prefix: str, texts: dict | None) -> dict:
    return {f"{prefix}_{lang}": (texts or {}).get(lang) for lang in LANGS}


def _flag(rec: dict, where: str, name: str) -> bool:
    value = _ext(rec, where).get(name, False)
    if not isinstance(value, bool):
        _fail(where, f"{EXT}.{name}", f"expected true or false, got {value!r}")
    return value


def _number(rec: dict, where: str, field: str):
    value = rec.get(field)
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        _fail(where, field, f"expected a number, got {value!r}")
    # Python's json reads NaN, Infinity and integers of any size; SQLite stores none of them (and an export
    # would not be JSON)
    if isinstance(value, float) and not math.isfinite(value) or isinstance(value, int) and abs(value) > 2**53:
        _fail(where, field, f"expected a finite number, got {value!r}")
    return value


class _Batch:
    """Everything a document holds, checked and turned into rows, before anything is written."""

    def __init__(self, db, sample: bool):
        self.db = db
        self.sample = sample
        self.terms = {r[0] for r in db.execute("SELECT code FROM taxonomy_terms")}
        self.areas = {r[0]: (r[1], r[2]) for r in db.execute("SELECT code, level, parent_code FROM areas")}
        self.organizations: dict[str, dict] = {}
        self.locations: dict[str, dict] = {}
        self.services: dict[str, dict] = {}
        self.categories: dict[str, list[str]] = {}
        self.links: dict[str, dict] = {}          # service_at_location rows by id
        self.linked: set[str] = set()             # services whose locations the document lists in full
        self.phones: dict[tuple, list] = {}       # (owner column, owner id) -> rows
        self.schedules: dict[tuple, list] = {}

    # organisations ----------------------------------------------------------------------------------------

    def organization(self, rec, where: str) -> str:
        if not isinstance(rec, dict):
            _fail(where, "(record)", "expected an object")
        oid = _record_id(rec, where)
        row = {"id": oid,
               **_columns("name", _translated(rec, where, "name", required=True)),
               **_columns("description", _translated(rec, where, "description", required=False)),
               "website": _clean(rec.get("website"), where, "website"),
               "email": _clean(rec.get("email"), where, "email"),
               "sample": int(self.sample or _flag(rec, where, "sample"))}
        self._keep(self.organizations, row, where)
        self._phones(rec, where, "organization_id", oid)
        return oid

    # locations --------------------------------------------------------------------------------------------

    def location(self, rec, where: str) -> str:
        if not isinstance(rec, dict):
            _fail(where, "(record)", "expected an object")
        lid = _record_id(rec, where)
        addresses = _array(rec.get("addresses"), where, "addresses")
        address = _object(addresses[0], where, "addresses[0]") if addresses else {}
        governorate, delegation = self._areas_of(rec, address, where)
        row = {"id": lid,
               **_columns("name", _translated(rec, where, "name", required=True)),
               **_columns("address", _localized(where, f"{EXT}.translations.address", address.get("address_1"),
                                                _translations(rec, where).get("address"), False,
                                                "addresses[0].address_1")),
               "governorate": governorate, "delegation": delegation,
               "latitude": _number(rec, where, "latitude"), "longitude": _number(rec, where, "longitude"),
               "sample": int(self.sample or _flag(rec, where, "sample"))}
        self._keep(self.locations, row, where)
        self._phones(rec, where, "location_id", lid)
        self._schedules(rec, where, "location_id", lid)
        return lid

    def _areas_of(self, rec: dict, address: dict, where: str) -> tuple[str, str | None]:
        ext = _ext(rec, where)
        governorate = ext.get("governorate") or self._governorate_named(address.get("state_province"))
        if not governorate:
            _fail(where, f"{EXT}.governorate", "missing (an area code such as 'tataouine')")
        if self._area(governorate)[0] != "governorate":
            _fail(where, f"{EXT}.governorate", f"unknown governorate code {governorate!r}")
        delegation = ext.get("delegation")
        if delegation is not None and self._area(delegation) != ("delegation", governorate):
            _fail(where, f"{EXT}.delegation", f"{delegation!r} is not a delegation of {governorate!r}")
        return governorate, delegation

    def _area(self, code) -> tuple:
        return self.areas.get(code, ("", None)) if isinstance(code, str) else ("", None)

    def _governorate_named(self, name) -> str | None:
        if not isinstance(name, str) or not name.strip():
            return None
        row = self.db.execute(
            "SELECT code, name_ar, name_fr, name_en FROM areas WHERE level = 'governorate'").fetchall()
        wanted = sort_key(name.strip())
        return next((r[0] for r in row if wanted in {sort_key(n) for n in r[1:]}), None)

    # services ---------------------------------------------------------------------------------------------

    def service(self, rec, where: str) -> str:
        if not isinstance(rec, dict):
            _fail(where, "(record)", "expected an object")
        sid = _record_id(rec, where)
        names = _translated(rec, where, "name", required=True)
        row = {"id": sid, "organization_id": self._organization_of(rec, where),
               **_columns("name", names),
               **_columns("short_name", short := self._short_name(rec, where)),
               **_columns("description", _translated(rec, where, "description", required=True)),
               **_columns("eligibility", _translated(rec, where, "eligibility_description", required=False)),
               "minimum_age": _number(rec, where, "minimum_age"),
               "maximum_age": _number(rec, where, "maximum_age"),
               "url": _clean(rec.get("url"), where, "url"),
               "email": _clean(rec.get("email"), where, "email"),
               "status": self._status(rec, where),
               "national": int(_flag(rec, where, "national")),
               "sample": int(self.sample or _flag(rec, where, "sample")),
               "sort_name": sort_key(names[BASE_LANG])}
        if "ussd_summary" in _ext(rec, where):  # absent: the stored summary is kept, as phones and schedules are
            row.update(_columns("ussd_summary", self._summary(rec, where, short)))
        self._keep(self.services, row, where)
        self.categories[sid] = self._categories(rec, where)
        self._phones(rec, where, "service_id", sid)
        self._schedules(rec, where, "service_id", sid)
        if "service_at_locations" in rec:
            self.linked.add(sid)  # even an empty list: the service is now offered at no location
        for i, link in enumerate(_array(rec.get("service_at_locations"), where, "service_at_locations")):
            self.link({**_object(link, where, f"service_at_locations[{i}]"), "service_id": sid},
                      f"{where} > service_at_locations[{i}]")
        return sid

    def _organization_of(self, rec: dict, where: str) -> str:
        if rec.get("organization") is not None:
            nested = rec["organization"]
            return self.organization(nested, f"{where} > {_where('organization', None, nested)}")
        oid = rec.get("organization_id")
        if not oid:
            _fail(where, "organization_id", "missing (or give a nested organization)")
        if not self._known(self.organizations, "organizations", oid):
            _fail(where, "organization_id", f"unknown organization {oid!r}")
        return oid

    def _short_name(self, rec: dict, where: str) -> dict:
        field = f"{EXT}.short_name"
        texts = _localized(where, field, None, _ext(rec, where).get("short_name"), True, None)
        for lang, text in texts.items():
            if len(text) > SHORT_NAME_MAX:
                _fail(where, f"{field}.{lang}", f"{len(text)} characters, at most {SHORT_NAME_MAX} fit a USSD list")
        return texts

    def _summary(self, rec: dict, where: str, titles: dict) -> dict | None:
        from flows.screen_text import summary_problem
        field = f"{EXT}.ussd_summary"
        texts = _localized(where, field, None, _ext(rec, where).get("ussd_summary"), False, None)
        for lang, text in (texts or {}).items():
            problem = summary_problem(titles[lang], text, lang)
            if problem:
                _fail(where, f"{field}.{lang}", problem)
        return texts

    def _status(self, rec: dict, where: str) -> str:
        status = rec.get("status", "active")
        if not isinstance(status, str) or status not in _STATUS_IN:
            _fail(where, "status", f"expected one of {', '.join(_STATUS_IN)}, got {status!r}")
        return _STATUS_IN[status]

    def _categories(self, rec: dict, where: str) -> list[str]:
        codes = []
        for i, attribute in enumerate(_array(rec.get("attributes"), where, "attributes")):
            attribute = _object(attribute, where, f"attributes[{i}]")
            term = _object(attribute.get("taxonomy_term"), where, f"attributes[{i}].taxonomy_term")
            code = term.get("code") or attribute.get("taxonomy_term_id")
            if not isinstance(code, str) or code not in self.terms:
                _fail(where, f"attributes[{i}].taxonomy_term.code",
                      f"unknown taxonomy code {code!r}; known: {', '.join(sorted(self.terms))}")
            if code not in codes:
                codes.append(code)
        if not codes:
            _fail(where, "attributes", "at least one taxonomy term (category) is needed to list the service")
        return codes

    # links, phones, schedules -----------------------------------------------------------------------------

    def link(self, rec: dict, where: str) -> None:
        sid = rec.get("service_id")
        if not self._known(self.services, "services", sid):
            _fail(where, "service_id", f"unknown service {sid!r}")
        if rec.get("location") is not None:
            nested = rec["location"]
            lid = self.location(nested, f"{where} > {_where('location', None, nested)}")
        else:
            lid = rec.get("location_id")
            if not self._known(self.locations, "locations", lid):
                _fail(where, "location_id", f"unknown location {lid!r}")
        link_id = _child_id(rec, where, "id", f"{sid}@{lid}")
        self.links[link_id] = {"id": link_id, "service_id": sid, "location_id": lid}
        self.linked.add(sid)

    def _phones(self, rec: dict, where: str, column: str, owner: str) -> None:
        if "phones" not in rec:
            return  # absent keeps the stored phones; an empty list removes them
        rows = []
        for i, phone in enumerate(_array(rec.get("phones"), where, "phones")):
            phone = _object(phone, where, f"phones[{i}]")
            number = _clean(phone.get("number"), where, f"phones[{i}].number")
            if not number or not _PHONE.fullmatch(number):
                _fail(where, f"phones[{i}].number", f"expected a phone number, got {phone.get('number')!r}")
            rows.append({"id": _child_id(phone, where, f"phones[{i}].id", f"{owner}:phone:{i}"),
                         column: owner, "number": number,
                         "type": _clean(phone.get("type"), where, f"phones[{i}].type"), "position": i})
        self.phones[(column, owner)] = rows

    def _schedules(self, rec: dict, where: str, column: str, owner: str) -> None:
        if "schedules" not in rec:
            return
        rows = []
        for i, schedule in enumerate(_array(rec.get("schedules"), where, "schedules")):
            at = f"{where} > schedules[{i}]"
            schedule = _object(schedule, where, f"schedules[{i}]")
            row = {"id": _child_id(schedule, at, "id", f"{owner}:schedule:{i}"), column: owner, "position": i,
                   **_columns("description", _translated(schedule, at, "description", required=True))}
            for key in ("freq", "byday", "opens_at", "closes_at"):
                row[key] = _clean(schedule.get(key), at, key)
            rows.append(row)
        self.schedules[(column, owner)] = rows

    def _known(self, batch_rows: dict, table: str, rid) -> bool:
        """Given earlier in this document, or already stored."""
        return isinstance(rid, str) and (rid in batch_rows or _exists(self.db, table, rid))

    def _keep(self, table: dict, row: dict, where: str) -> None:
        # nested documents repeat an organisation or location for each service: fine if it says the same
        if row["id"] in table and table[row["id"]] != row:
            _fail(where, "id", f"{row['id']!r} appears twice with different content")
        table[row["id"]] = row


def _translations(rec: dict, where: str) -> dict:
    return _object(_ext(rec, where).get("translations"), where, f"{EXT}.translations")


def _exists(db, table: str, rid: str) -> bool:
    return db.execute(f"SELECT 1 FROM {table} WHERE id = ?", [rid]).fetchone() is not None  # noqa: S608 (fixed names, bound values)


def _read_document(db, data) -> _Batch:
    if isinstance(data, list):
        data = {"services": data}
    if not isinstance(data, dict) or not any(k in data for k in (*KINDS, "service_at_locations")):
        raise DirectoryImportError("document: expected a list of HSDS services, or an object with "
                                   "organizations / services / locations / service_at_locations arrays")
    sample = data.get("sample", False)
    if not isinstance(sample, bool):
        raise DirectoryImportError(f"document: sample: expected true or false, got {sample!r}")
    batch = _Batch(db, sample)
    # the order lets a service name an organisation or location given earlier in the same document
    for kind, read in (("organizations", batch.organization), ("locations", batch.location),
                       ("services", batch.service), ("service_at_locations", batch.link)):
        for i, rec in enumerate(_array(data.get(kind), "document", kind)):
            where = _where(kind, i, rec)
            if kind == "service_at_locations":
                rec = _object(rec, where, "(record)")
            read(rec, where)
    return batch


def _upsert(db, table: str, row: dict) -> None:
    cols = list(row)
    db.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)}) "  # noqa: S608 (fixed names, bound values)
               f"ON CONFLICT(id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in cols if c != 'id')}",
               row)


def _write(db, batch: _Batch) -> None:
    for table, rows in (("organizations", batch.organizations), ("locations", batch.locations),
                        ("services", batch.services)):
        for row in rows.values():
            _upsert(db, table, row)
    for sid, codes in batch.categories.items():
        db.execute("DELETE FROM service_taxonomy WHERE service_id = ?", [sid])
        db.conn.executemany("INSERT INTO service_taxonomy (term_code, service_id) VALUES (?, ?)",
                            [(code, sid) for code in codes])
    for sid in batch.linked:
        db.execute("DELETE FROM service_at_location WHERE service_id = ?", [sid])
    for row in batch.links.values():
        _upsert(db, "service_at_location", row)
    for table, owned in (("phones", batch.phones), ("schedules", batch.schedules)):
        for (column, owner), rows in owned.items():
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", [owner])  # noqa: S608 (fixed names, bound values)
            for row in rows:
                _upsert(db, table, row)


def import_hsds(db, data) -> dict:
    """Import an HSDS 3.0 document (see the module docstring); all or nothing. Returns counts per kind."""
    batch = _read_document(db, data)
    try:
        with transaction(db):
            _write(db, batch)
    except sqlite3.IntegrityError as e:
        raise DirectoryImportError(f"document: conflicts with the stored directory ({e}); nothing imported") from None
    return {"organizations": len(batch.organizations), "services": len(batch.services),
            "locations": len(batch.locations)}


def load_demo(db) -> int:
    """Load the sample pack (SAMPLE DATA, clearly marked); loading it again changes nothing."""
    return import_hsds(db, json.loads(DEMO_PACK.read_text(encoding="utf-8")))["services"]


# -- staff console ------------------------------------------------------------------------------------------

def upsert_service(db, data: dict) -> str:
    """Create or replace one service, given as an HSDS service object (nested organisation/locations allowed)."""
    import_hsds(db, {"services": [data]})
    return data["id"]


def upsert_organization(db, data: dict) -> str:
    import_hsds(db, {"organizations": [data]})
    return data["id"]


def upsert_location(db, data: dict) -> str:
    import_hsds(db, {"locations": [data]})
    return data["id"]


def retire_service(db, service_id: str) -> bool:
    """Stop listing a service, keeping its record (an HSDS export shows it as inactive). False if unknown."""
    with transaction(db):
        return db.execute("UPDATE services SET status = 'retired' WHERE id = ?", [service_id]).rowcount > 0


def list_all(db, kind: str) -> list[dict]:
    """Every record of a kind (organizations, services, locations), retired ones included, as HSDS objects."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    export = {"organizations": _export_organization, "services": _export_service, "locations": _export_location}
    return [export[kind](db, row) for row in db.query(f"SELECT * FROM {kind} ORDER BY id")]  # noqa: S608 (fixed names, bound values)


# -- export ---------------------------------------------------------------------------------------------------

def _hsds_text(row, prefix: str) -> tuple[str | None, dict | None]:
    """The French text for the HSDS field, and the other languages for x-dalil.translations."""
    texts = _texts(row, prefix)
    if texts is None:
        return None, None
    return texts[BASE_LANG], {lang: texts[lang] for lang in LANGS if lang != BASE_LANG}


def _put_texts(record: dict, row, fields: dict[str, str]) -> dict:
    """Set each HSDS field from its columns and gather the translations; fields maps HSDS field -> prefix."""
    translations = {}
    for field, prefix in fields.items():
        base, others = _hsds_text(row, prefix)
        if base is not None:
            record[field] = base
            translations[field] = others
    return translations


def _compact(record: dict) -> dict:
    return {k: v for k, v in record.items() if v not in (None, [], {})}


def _owned(db, table: str, column: str, owner: str) -> list:
    return list(db.query(f"SELECT * FROM {table} WHERE {column} = ? ORDER BY position, id", [owner]))  # noqa: S608 (fixed names, bound values)


def _export_phones(db, column: str, owner: str) -> list[dict]:
    return [_compact({"id": r["id"], "number": r["number"], "type": r["type"]})
            for r in _owned(db, "phones", column, owner)]


def _export_schedules(db, column: str, owner: str) -> list[dict]:
    schedules = []
    for r in _owned(db, "schedules", column, owner):
        record = {"id": r["id"]}
        translations = _put_texts(record, r, {"description": "description"})
        record.update({k: r[k] for k in ("freq", "byday", "opens_at", "closes_at")})
        record[EXT] = {"translations": translations}
        schedules.append(_compact(record))
    return schedules


def _export_organization(db, row) -> dict:
    record = {"id": row["id"]}
    translations = _put_texts(record, row, {"name": "name", "description": "description"})
    record.update(website=row["website"], email=row["email"],
                  phones=_export_phones(db, "organization_id", row["id"]),
                  **{EXT: _compact({"translations": translations, "sample": bool(row["sample"]) or None})})
    return _compact(record)


def _export_location(db, row) -> dict:
    record = {"id": row["id"]}
    translations = _put_texts(record, row, {"name": "name"})
    address_fr, address_others = _hsds_text(row, "address")
    governorate = _area_fr(db, row["governorate"])
    record["addresses"] = [_compact({"id": f"{row['id']}:address", "location_id": row["id"],
                                     "address_1": address_fr, "city": _area_fr(db, row["delegation"]),
                                     "state_province": governorate, "country": "TN",
                                     "address_type": "physical"})]
    if address_others:
        translations["address"] = address_others
    record.update(latitude=row["latitude"], longitude=row["longitude"],
                  phones=_export_phones(db, "location_id", row["id"]),
                  schedules=_export_schedules(db, "location_id", row["id"]))
    record[EXT] = _compact({"governorate": row["governorate"], "delegation": row["delegation"],
                            "translations": translations, "sample": bool(row["sample"]) or None})
    return _compact(record)


def _area_fr(db, code: str | None) -> str | None:
    name = area_name(db, code) if code else None
    return name[BASE_LANG] if name else None


def _export_service(db, row) -> dict:
    sid = row["id"]
    record = {"id": sid, "organization_id": row["organization_id"]}
    translations = _put_texts(record, row, {"name": "name", "description": "description",
                                            "eligibility_description": "eligibility"})
    record.update(status=_STATUS_OUT[row["status"]], minimum_age=row["minimum_age"],
                  maximum_age=row["maximum_age"], url=row["url"], email=row["email"],
                  attributes=[_attribute(db, sid, code) for code in _categories(db, sid)],
                  phones=_export_phones(db, "service_id", sid),
                  schedules=_export_schedules(db, "service_id", sid))
    record[EXT] = _compact({"short_name": _texts(row, "short_name"), "ussd_summary": _texts(row, "ussd_summary"),
                            "translations": translations,
                            "national": bool(row["national"]) or None, "sample": bool(row["sample"]) or None})
    return _compact(record)


def _attribute(db, service_id: str, code: str) -> dict:
    name = db.execute("SELECT name_fr FROM taxonomy_terms WHERE code = ?", [code]).fetchone()[0]
    return {"id": f"{service_id}:{code}", "link_id": service_id, "link_entity": "service",
            "link_type": "category", "taxonomy_term_id": code,
            "taxonomy_term": {"id": code, "code": code, "name": name, "taxonomy": "dalil"}}


def export_hsds(db) -> dict:
    """The whole directory in the object shape import_hsds accepts (retired services included, as inactive)."""
    records = {kind: list_all(db, kind) for kind in KINDS}
    links = [dict(r) for r in db.query("SELECT id, service_id, location_id FROM service_at_location ORDER BY id")]
    everything = [r for kind in KINDS for r in records[kind]]
    sample = bool(everything) and all(r.get(EXT, {}).get("sample") for r in everything)
    return {"hsds_version": "3.0",
            "description": _SAMPLE_NOTE if sample else "Dalil directory export (HSDS 3.0 with x-dalil extension)",
            "sample": sample,
            **records,
            "service_at_locations": links}
