"""The directory: services, organisations and locations (create, edit, retire), HSDS import and export.

Forms are checked here first, so each problem is named next to its field in the user's language; what passes
goes through flows.directory (the same checks an HSDS import makes), whose rare refusals are mapped back to a
field. Callers see an edit within the menu engine's directory cache time (30 s).
"""
from __future__ import annotations

import json
import logging
import re
import time

from flask import Response, g, redirect, request, url_for

from flows import directory as dirmod
from flows.directory import DirectoryImportError
from gateway import dalil
from gateway.console import bp, jobs, ui

log = logging.getLogger(__name__)

LANGS = ("ar", "fr", "en")
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}")
PHONE_RE = re.compile(r"\+?[0-9][0-9 ()./-]{2,29}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
URL_RE = re.compile(r"https?://\S+")
MAX_TEXT = 1000
TABS = ("services", "organizations", "locations")
EXT = dirmod.EXT


# -- reading forms ------------------------------------------------------------------------------------------

def _text(form, name: str, errors: ui.Errors, max_len: int = MAX_TEXT) -> str | None:
    value = (form.get(name) or "").strip()
    if len(value) > max_len:
        errors.add(name, "console.form.too_long", max=ui.number(max_len))
    return value or None


def _trilingual(form, prefix: str, errors: ui.Errors, required: bool, max_len: int = MAX_TEXT) -> dict | None:
    """The three languages of one text: all required, or (optional text) all or none."""
    texts = {lang: _text(form, f"{prefix}_{lang}", errors, max_len) for lang in LANGS}
    if not any(texts.values()):
        if required:
            for lang in LANGS:
                errors.add(f"{prefix}_{lang}", "console.form.required")
        return None
    for lang in LANGS:
        if not texts[lang]:
            errors.add(f"{prefix}_{lang}", "console.form.all_languages")
    return texts


def _record_id(form, errors: ui.Errors, table: str, creating: bool) -> str:
    rid = (form.get("id") or "").strip()
    if not rid:
        errors.add("id", "console.form.required")
    elif not ID_RE.fullmatch(rid):
        errors.add("id", "console.directory.id_format")
    elif creating and dalil().db().execute(f"SELECT 1 FROM {table} WHERE id = ?", [rid]).fetchone():
        errors.add("id", "console.directory.id_taken")
    return rid


def _optional(form, name: str, pattern: re.Pattern, errors: ui.Errors, key: str) -> str | None:
    value = _text(form, name, errors, 300)
    if value and not pattern.fullmatch(value):
        errors.add(name, key)
    return value


def _int(form, name: str, errors: ui.Errors, low: int, high: int) -> int | None:
    value = (form.get(name) or "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        errors.add(name, "console.form.whole_number")
        return None
    if not low <= number <= high:
        errors.add(name, "console.form.between", low=ui.number(low), high=ui.number(high))
    return number


def _float(form, name: str, errors: ui.Errors, low: float, high: float) -> float | None:
    value = (form.get(name) or "").strip().replace(",", ".")
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        errors.add(name, "console.form.number")
        return None
    if not low <= number <= high:
        errors.add(name, "console.form.between", low=ui.number(low), high=ui.number(high))
    return number


def _split(texts: dict | None) -> tuple[str | None, dict | None]:
    """HSDS keeps French in the standard field and the others in x-dalil.translations."""
    if not texts:
        return None, None
    return texts["fr"], {"ar": texts["ar"], "en": texts["en"]}


def _put(record: dict, translations: dict, field: str, texts: dict | None) -> None:
    base, others = _split(texts)
    if base is not None:
        record[field] = base
        translations[field] = others


# HSDS field paths in a DirectoryImportError message -> form field
_FIELD_PREFIXES = {"name": "name", "description": "description", "eligibility_description": "eligibility",
                   "address": "address", "addresses[0].address_1": "address"}


def _field_of(message: str) -> str:
    match = re.search(r'\)?: ([^:]+): ', message)
    path = match.group(1).strip() if match else ""
    if path.startswith(f"{EXT}.translations."):
        field, _, lang = path[len(EXT) + 14:].rpartition(".")
        return f"{_FIELD_PREFIXES.get(field, field)}_{lang}" if lang in LANGS else "form"
    if path.startswith(f"{EXT}.short_name."):
        return "short_" + path.rsplit(".", 1)[1]
    if path.startswith(f"{EXT}.ussd_summary."):
        return "summary_" + path.rsplit(".", 1)[1]
    if path in _FIELD_PREFIXES:
        return f"{_FIELD_PREFIXES[path]}_fr"
    if path.startswith("phones["):
        return "phone"
    if path.startswith("attributes"):
        return "categories"
    simple = {"id": "id", "organization_id": "organization_id", "url": "url", "email": "email",
              "website": "website", "minimum_age": "minimum_age", "maximum_age": "maximum_age",
              f"{EXT}.governorate": "governorate", f"{EXT}.delegation": "delegation"}
    return simple.get(path, "form")


def _save(errors: ui.Errors, upsert, record: dict) -> bool:
    try:
        upsert(dalil().db(), record)
    except DirectoryImportError as e:
        errors.add_text(_field_of(str(e)), ui.t("console.directory.refused", detail=str(e)))
        return False
    return True


def _phones(original: dict | None, number: str | None) -> list[dict]:
    """The form edits the first phone; any others the record had are kept."""
    rest = (original or {}).get("phones", [])[1:]
    return ([{"number": number, "type": "voice"}] if number else []) + rest


def _find(kind: str, rid: str) -> dict | None:
    return next((r for r in dirmod.list_all(dalil().db(), kind) if r["id"] == rid), None)


def _texts_of(record: dict, field: str, ext_field: str | None = None) -> dict:
    translations = record.get(EXT, {}).get("translations", {}).get(ext_field or field, {})
    return {"fr": record.get(field) or "", "ar": translations.get("ar", ""), "en": translations.get("en", "")}


def _prefill(values: dict, prefix: str, texts: dict) -> None:
    for lang in LANGS:
        values[f"{prefix}_{lang}"] = texts.get(lang) or ""


# -- choices for the forms ----------------------------------------------------------------------------------

def _choices() -> dict:
    db = dalil().db()
    governorates = dirmod.governorates(db)
    delegations = {gv["code"]: dirmod.delegations(db, gv["code"]) for gv in governorates}
    return {
        "organizations": [(o["id"], ui.text_of(_texts_of(o, "name"), o["id"]))
                          for o in dirmod.list_all(db, "organizations")],
        "locations": [(loc["id"], ui.text_of(_texts_of(loc, "name"), loc["id"]), loc.get(EXT, {}).get("governorate"))
                      for loc in dirmod.list_all(db, "locations")],
        "governorates": [(gv["code"], ui.text_of(gv["name"])) for gv in governorates],
        "delegations": {code: [(d["code"], ui.text_of(d["name"])) for d in items]
                        for code, items in delegations.items() if items},
        "taxonomy": [(term["code"], ui.text_of(term["name"]), term["kind"]) for term in dirmod.taxonomy(db)],
    }


# -- the list -----------------------------------------------------------------------------------------------

@bp.get("/directory")
@ui.area("directory")
def directory():
    tab = request.args.get("tab", "services")
    if tab not in TABS:
        tab = "services"
    db = dalil().db()
    query = (request.args.get("q") or "").strip()[:100]
    records = dirmod.list_all(db, tab)
    rows = []
    orgs = {o["id"]: ui.text_of(_texts_of(o, "name"), o["id"]) for o in dirmod.list_all(db, "organizations")} \
        if tab == "services" else {}
    areas = dict(_choices()["governorates"]) if tab == "locations" else {}
    terms = {code: name for code, name, _ in _choices()["taxonomy"]} if tab == "services" else {}
    for rec in records:
        names = _texts_of(rec, "name")
        if query and not any(query.casefold() in (v or "").casefold() for v in [rec["id"], *names.values()]):
            continue
        ext = rec.get(EXT, {})
        rows.append({
            "id": rec["id"], "name": ui.text_of(names, rec["id"]), "sample": ext.get("sample", False),
            "status": rec.get("status"), "organization": orgs.get(rec.get("organization_id"), ""),
            "categories": [terms.get(a["taxonomy_term_id"], a["taxonomy_term_id"]) for a in rec.get("attributes", [])],
            "governorate": areas.get(ext.get("governorate"), ""),
        })
    rows.sort(key=lambda r: (r["status"] == "retired" or r["status"] == "inactive", r["name"].casefold()))
    counts = {kind: db.execute(f"SELECT count(*) FROM {kind}").fetchone()[0] for kind in TABS}
    return ui.render("directory.html", tab=tab, rows=rows, query=query, counts=counts,
                     saved=request.args.get("saved"))


# -- services -----------------------------------------------------------------------------------------------

def _service_values(rec: dict, db) -> dict:
    values = {"id": rec["id"], "organization_id": rec.get("organization_id", ""),
              "status": rec.get("status", "active"), "url": rec.get("url", ""), "email": rec.get("email", ""),
              "minimum_age": rec.get("minimum_age", ""), "maximum_age": rec.get("maximum_age", ""),
              "phone": (rec.get("phones") or [{}])[0].get("number", ""),
              "national": rec.get(EXT, {}).get("national", False),
              "categories": [a["taxonomy_term_id"] for a in rec.get("attributes", [])],
              "locations": [r[0] for r in db.execute(
                  "SELECT location_id FROM service_at_location WHERE service_id = ? ORDER BY id", [rec["id"]])]}
    _prefill(values, "name", _texts_of(rec, "name"))
    _prefill(values, "short", rec.get(EXT, {}).get("short_name", {}))
    _prefill(values, "summary", rec.get(EXT, {}).get("ussd_summary", {}))
    _prefill(values, "description", _texts_of(rec, "description"))
    _prefill(values, "eligibility", _texts_of(rec, "eligibility_description"))
    return values


def _service_record(form, errors: ui.Errors, original: dict | None, choices: dict) -> dict:
    db = dalil().db()
    sid = original["id"] if original else _record_id(form, errors, "services", creating=True)
    org = form.get("organization_id", "")
    if org not in {o for o, _ in choices["organizations"]}:
        errors.add("organization_id", "console.form.choose")
    names = _trilingual(form, "name", errors, required=True, max_len=200)
    short = _trilingual(form, "short", errors, required=True, max_len=dirmod.SHORT_NAME_MAX)
    summary = _trilingual(form, "summary", errors, required=False)  # its fit on one screen: the importer's check
    description = _trilingual(form, "description", errors, required=True)
    eligibility = _trilingual(form, "eligibility", errors, required=False)
    known_terms = {code for code, _, _ in choices["taxonomy"]}
    categories = [c for c in form.getlist("categories") if c in known_terms]
    if not categories:
        errors.add("categories", "console.directory.categories_needed")
    known_locations = {loc for loc, _, _ in choices["locations"]}
    locations = [loc for loc in form.getlist("locations") if loc in known_locations]
    status = form.get("status", "active")
    if status not in ("active", "inactive"):
        errors.add("status", "console.form.choose")
    phone = _optional(form, "phone", PHONE_RE, errors, "console.form.phone")
    url = _optional(form, "url", URL_RE, errors, "console.form.url")
    email = _optional(form, "email", EMAIL_RE, errors, "console.form.email")
    low, high = _int(form, "minimum_age", errors, 0, 120), _int(form, "maximum_age", errors, 0, 120)
    if low is not None and high is not None and low > high:
        errors.add("maximum_age", "console.directory.age_order")
    link_ids = {loc: lid for lid, loc in db.execute(
        "SELECT id, location_id FROM service_at_location WHERE service_id = ?", [sid])} if original else {}
    translations: dict = {}
    record = {"id": sid, "organization_id": org, "status": status}
    _put(record, translations, "name", names)
    _put(record, translations, "description", description)
    _put(record, translations, "eligibility_description", eligibility)
    record.update({"url": url, "email": email, "minimum_age": low, "maximum_age": high,
                   "attributes": [{"taxonomy_term_id": c} for c in categories],
                   "phones": _phones(original, phone),
                   "service_at_locations": [{"id": link_ids.get(loc, f"{sid}@{loc}"), "location_id": loc}
                                            for loc in locations]})
    ext = (original or {}).get(EXT, {})
    record[EXT] = {"translations": translations, "short_name": short, "ussd_summary": summary or {},
                   "national": form.get("national") == "on", "sample": bool(ext.get("sample"))}
    return record


def _service_form(original: dict | None):
    choices = _choices()
    errors = ui.Errors()
    db = dalil().db()
    values = _service_values(original, db) if original else {"status": "active", "categories": [], "locations": []}
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k, "") for k in form}
        values.update(categories=form.getlist("categories"), locations=form.getlist("locations"),
                      national=form.get("national") == "on")
        if original:
            values["id"] = original["id"]
        record = _service_record(form, errors, original, choices)
        if not errors and _save(errors, dirmod.upsert_service, record):
            log.info("console: %s saved service %s", g.user["username"], record["id"])
            return redirect(url_for("console.directory", tab="services", saved=record["id"]), 303)
    return ui.render("service_form.html", 422 if errors else 200, values=values, errors=errors,
                     creating=original is None, choices=choices, short_max=dirmod.SHORT_NAME_MAX)


@bp.route("/directory/services/new", methods=["GET", "POST"])
@ui.area("directory")
def service_new():
    return _service_form(None)


@bp.route("/directory/services/<sid>", methods=["GET", "POST"])
@ui.area("directory")
def service_edit(sid: str):
    original = _find("services", sid)
    if original is None:
        return ui.error_page(404, "console.error.404.title", "console.directory.not_found")
    return _service_form(original)


@bp.post("/directory/services/<sid>/retire")
@ui.area("directory")
def service_retire(sid: str):
    if not dirmod.retire_service(dalil().db(), sid):
        return ui.error_page(404, "console.error.404.title", "console.directory.not_found")
    log.info("console: %s retired service %s", g.user["username"], sid)
    return redirect(url_for("console.directory", tab="services", saved=sid), 303)


# -- organisations ------------------------------------------------------------------------------------------

def _organization_form(original: dict | None):
    errors = ui.Errors()
    if original:
        values = {"id": original["id"], "website": original.get("website", ""), "email": original.get("email", ""),
                  "phone": (original.get("phones") or [{}])[0].get("number", "")}
        _prefill(values, "name", _texts_of(original, "name"))
        _prefill(values, "description", _texts_of(original, "description"))
    else:
        values = {}
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k, "") for k in form}
        oid = original["id"] if original else _record_id(form, errors, "organizations", creating=True)
        values["id"] = oid
        translations: dict = {}
        record = {"id": oid}
        _put(record, translations, "name", _trilingual(form, "name", errors, required=True, max_len=200))
        _put(record, translations, "description", _trilingual(form, "description", errors, required=False))
        record.update(website=_optional(form, "website", URL_RE, errors, "console.form.url"),
                      email=_optional(form, "email", EMAIL_RE, errors, "console.form.email"),
                      phones=_phones(original, _optional(form, "phone", PHONE_RE, errors, "console.form.phone")))
        record[EXT] = {"translations": translations, "sample": bool((original or {}).get(EXT, {}).get("sample"))}
        if not errors and _save(errors, dirmod.upsert_organization, record):
            log.info("console: %s saved organisation %s", g.user["username"], oid)
            return redirect(url_for("console.directory", tab="organizations", saved=oid), 303)
    return ui.render("organization_form.html", 422 if errors else 200, values=values, errors=errors,
                     creating=original is None)


@bp.route("/directory/organizations/new", methods=["GET", "POST"])
@ui.area("directory")
def organization_new():
    return _organization_form(None)


@bp.route("/directory/organizations/<oid>", methods=["GET", "POST"])
@ui.area("directory")
def organization_edit(oid: str):
    original = _find("organizations", oid)
    if original is None:
        return ui.error_page(404, "console.error.404.title", "console.directory.not_found")
    return _organization_form(original)


# -- locations ----------------------------------------------------------------------------------------------

def _location_form(original: dict | None):
    choices = _choices()
    errors = ui.Errors()
    if original:
        ext = original.get(EXT, {})
        address = (original.get("addresses") or [{}])[0]
        values = {"id": original["id"], "governorate": ext.get("governorate", ""),
                  "delegation": ext.get("delegation", ""), "latitude": original.get("latitude", ""),
                  "longitude": original.get("longitude", ""),
                  "phone": (original.get("phones") or [{}])[0].get("number", "")}
        _prefill(values, "name", _texts_of(original, "name"))
        others = ext.get("translations", {}).get("address", {})
        _prefill(values, "address", {"fr": address.get("address_1", ""), "ar": others.get("ar", ""),
                                     "en": others.get("en", "")})
    else:
        values = {}
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k, "") for k in form}
        lid = original["id"] if original else _record_id(form, errors, "locations", creating=True)
        values["id"] = lid
        governorate = form.get("governorate", "")
        if governorate not in dict(choices["governorates"]):
            errors.add("governorate", "console.form.choose")
        delegation = form.get("delegation") or None
        if delegation and delegation not in dict(choices["delegations"].get(governorate, [])):
            errors.add("delegation", "console.directory.delegation_mismatch")
        translations: dict = {}
        record = {"id": lid}
        _put(record, translations, "name", _trilingual(form, "name", errors, required=True, max_len=200))
        address = _trilingual(form, "address", errors, required=False, max_len=300)
        if address:
            record["addresses"] = [{"address_1": address["fr"], "country": "TN"}]
            translations["address"] = {"ar": address["ar"], "en": address["en"]}
        record.update(latitude=_float(form, "latitude", errors, -90, 90),
                      longitude=_float(form, "longitude", errors, -180, 180),
                      phones=_phones(original, _optional(form, "phone", PHONE_RE, errors, "console.form.phone")))
        record[EXT] = {"translations": translations, "governorate": governorate, "delegation": delegation,
                       "sample": bool((original or {}).get(EXT, {}).get("sample"))}
        if not errors and _save(errors, dirmod.upsert_location, record):
            log.info("console: %s saved location %s", g.user["username"], lid)
            return redirect(url_for("console.directory", tab="locations", saved=lid), 303)
    return ui.render("location_form.html", 422 if errors else 200, values=values, errors=errors,
                     creating=original is None, choices=choices)


@bp.route("/directory/locations/new", methods=["GET", "POST"])
@ui.area("directory")
def location_new():
    return _location_form(None)


@bp.route("/directory/locations/<lid>", methods=["GET", "POST"])
@ui.area("directory")
def location_edit(lid: str):
    original = _find("locations", lid)
    if original is None:
        return ui.error_page(404, "console.error.404.title", "console.directory.not_found")
    return _location_form(original)


# -- import and export --------------------------------------------------------------------------------------

def _import_work(raw: bytes):
    def work(job: jobs.Job) -> dict:
        job.progress(0, 3, "console.import.step.reading")
        try:
            data = json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise jobs.JobFailed("console.import.not_utf8") from None
        except json.JSONDecodeError as e:
            raise jobs.JobFailed("console.import.bad_json",
                                 f"line {e.lineno}, column {e.colno}: {e.msg}") from None
        records = sum(len(data.get(k) or []) for k in (*dirmod.KINDS, "service_at_locations")
                      if isinstance(data, dict) and isinstance(data.get(k), list)) \
            if isinstance(data, dict) else len(data) if isinstance(data, list) else 0
        job.progress(1, 3, "console.import.step.checking", records=records)
        try:
            counts = dirmod.import_hsds(dalil().db(), data)
        except DirectoryImportError as e:
            raise jobs.JobFailed("console.import.rejected", str(e)) from None
        job.progress(3, 3, "console.import.step.done")
        log.info("console: directory import: %s", counts)
        return counts
    return work


@bp.route("/directory/import", methods=["GET", "POST"])
@ui.area("directory")
def directory_import():
    errors = ui.Errors()
    if request.method == "POST":
        upload = request.files.get("file")
        raw = upload.read() if upload else b""
        if not upload or not upload.filename:
            errors.add("file", "console.import.no_file")
        elif not raw.strip():
            errors.add("file", "console.import.empty")
        else:
            log.info("console: %s started a directory import (%d bytes)", g.user["username"], len(raw))
            job = jobs.start("import", _import_work(raw), next_endpoint="console.directory")
            return redirect(url_for("console.job_page", job_id=job.id), 303)
    return ui.render("import.html", 422 if errors else 200, errors=errors)


@bp.get("/directory/export")
@ui.area("directory")
def directory_export():
    data = dirmod.export_hsds(dalil().db())
    stamp = time.strftime("%Y%m%d")
    return Response(json.dumps(data, ensure_ascii=False, indent=1), mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="dalil-directory-{stamp}.json"'})
