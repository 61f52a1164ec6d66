"""The directory: services, organisations and locations (create, edit, retire), HSDS import and export.

The forms are WTForms forms (directory_forms.py), so each problem is named next to its field in the user's
language; what passes goes through flows.directory (the same checks an HSDS import makes), whose rare refusals
carry the HSDS field they are about, shown next to the form's field for it. Callers see an edit within the menu
engine's directory cache time (30 s).
"""
from __future__ import annotations

import json
import logging
import time

from flask import Response, g, redirect, request, url_for

from flows import directory as dirmod
from flows.directory import DirectoryImportError
from gateway.context import dalil
from flows.directory import store as directory_store
from gateway.console import bp, jobs, ui
from gateway.console.directory_forms import EXT, LocationForm, OrganizationForm, ServiceForm, form_field
from messages.i18n import LANGUAGES as LANGS

log = logging.getLogger(__name__)

TABS = ("services", "organizations", "locations")


# -- saving forms ---------------------------------------------------------------------------------------------

def _save(errors: ui.Errors, upsert, record: dict) -> bool:
    try:
        upsert(dalil().db(), record)
    except DirectoryImportError as e:
        errors.add_text(form_field(e.field), ui.t("console.directory.refused", detail=str(e)))
        return False
    return True


def _find(kind: str, rid: str) -> dict | None:
    return next((r for r in dirmod.list_all(dalil().db(), kind) if r["id"] == rid), None)


def _texts_of(record: dict, field: str, ext_field: str | None = None) -> dict:
    translations = record.get(EXT, {}).get("translations", {}).get(ext_field or field, {})
    return {"fr": record.get(field) or "", "ar": translations.get("ar", ""), "en": translations.get("en", "")}


def _prefill(values: dict, prefix: str, texts: dict) -> None:
    for lang in LANGS:
        values[f"{prefix}_{lang}"] = texts.get(lang) or ""


def _posted(form) -> dict:
    """What was typed, to show again with the errors."""
    values = {k: request.form.get(k, "") for k in request.form}
    values["id"] = form.record_id()
    return values


def _save_posted(form, upsert, tab: str, what: str):
    """Validate and save a posted form; the redirect to the list once saved, else the form's errors."""
    errors = ui.Errors()
    if form.validate():
        record = form.record()
        if _save(errors, upsert, record):
            log.info("console: %s saved %s %s", g.user["username"], what, record["id"])
            return redirect(url_for("console.directory", tab=tab, saved=record["id"]), 303), errors
        return None, errors
    return None, form.field_errors()


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
    counts = {kind: directory_store.count(db, kind) for kind in TABS}
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
              "locations": list(directory_store.location_links(db, rec["id"]))}
    _prefill(values, "name", _texts_of(rec, "name"))
    _prefill(values, "short", rec.get(EXT, {}).get("short_name", {}))
    _prefill(values, "summary", rec.get(EXT, {}).get("ussd_summary", {}))
    _prefill(values, "description", _texts_of(rec, "description"))
    _prefill(values, "eligibility", _texts_of(rec, "eligibility_description"))
    return values


def _service_form(original: dict | None):
    choices = _choices()
    errors = ui.Errors()
    db = dalil().db()
    values = _service_values(original, db) if original else {"status": "active", "categories": [], "locations": []}
    if request.method == "POST":
        form = ServiceForm(request.form, original, db, choices)
        values = _posted(form)
        values.update(categories=request.form.getlist("categories"), locations=request.form.getlist("locations"),
                      national=request.form.get("national") == "on")
        saved, errors = _save_posted(form, dirmod.upsert_service, "services", "service")
        if saved:
            return saved
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
        form = OrganizationForm(request.form, original, dalil().db())
        values = _posted(form)
        saved, errors = _save_posted(form, dirmod.upsert_organization, "organizations", "organisation")
        if saved:
            return saved
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
        form = LocationForm(request.form, original, dalil().db(), choices)
        values = _posted(form)
        saved, errors = _save_posted(form, dirmod.upsert_location, "locations", "location")
        if saved:
            return saved
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
