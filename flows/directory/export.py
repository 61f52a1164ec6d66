"""The directory as an HSDS 3.0 document (the shape import_hsds reads back), and the console's record lists."""
from __future__ import annotations

from flows.directory import store
from flows.directory.fields import BASE_LANG, EXT, LANGS
from flows.directory.importing import KINDS
from flows.directory.menus import area_name, texts

STATUS_OUT = {"active": "active", "retired": "inactive"}
_SAMPLE_NOTE = ("SAMPLE DATA for demonstrations: programmes, offices, addresses and phone numbers are "
                "illustrative, not verified offers.")


def list_all(db, kind: str) -> list[dict]:
    """Every record of a kind (organizations, services, locations), retired ones included, as HSDS objects."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    export = {"organizations": _export_organization, "services": _export_service, "locations": _export_location}
    return [export[kind](db, row) for row in store.all_rows(db, kind)]


def _hsds_text(row, prefix: str) -> tuple[str | None, dict | None]:
    """The French text for the HSDS field, and the other languages for x-dalil.translations."""
    values = texts(row, prefix)
    if values is None:
        return None, None
    return values[BASE_LANG], {lang: values[lang] for lang in LANGS if lang != BASE_LANG}


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


def _export_phones(db, column: str, owner: str) -> list[dict]:
    return [_compact({"id": r["id"], "number": r["number"], "type": r["type"]})
            for r in store.owned_rows(db, "phones", column, owner)]


def _export_schedules(db, column: str, owner: str) -> list[dict]:
    schedules = []
    for r in store.owned_rows(db, "schedules", column, owner):
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
    record.update(status=STATUS_OUT[row["status"]], minimum_age=row["minimum_age"],
                  maximum_age=row["maximum_age"], url=row["url"], email=row["email"],
                  attributes=[_attribute(db, sid, code) for code in store.category_codes(db, sid)],
                  phones=_export_phones(db, "service_id", sid),
                  schedules=_export_schedules(db, "service_id", sid))
    record[EXT] = _compact({"short_name": texts(row, "short_name"), "ussd_summary": texts(row, "ussd_summary"),
                            "translations": translations,
                            "national": bool(row["national"]) or None, "sample": bool(row["sample"]) or None})
    return _compact(record)


def _attribute(db, service_id: str, code: str) -> dict:
    name = store.term_name_fr(db, code)
    return {"id": f"{service_id}:{code}", "link_id": service_id, "link_entity": "service",
            "link_type": "category", "taxonomy_term_id": code,
            "taxonomy_term": {"id": code, "code": code, "name": name, "taxonomy": "dalil"}}


def export_hsds(db) -> dict:
    """The whole directory in the object shape import_hsds accepts (retired services included, as inactive)."""
    records = {kind: list_all(db, kind) for kind in KINDS}
    links = store.link_rows(db)
    everything = [r for kind in KINDS for r in records[kind]]
    sample = bool(everything) and all(r.get(EXT, {}).get("sample") for r in everything)
    return {"hsds_version": "3.0",
            "description": _SAMPLE_NOTE if sample else "Dalil directory export (HSDS 3.0 with x-dalil extension)",
            "sample": sample,
            **records,
            "service_at_locations": links}
