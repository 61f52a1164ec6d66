"""What menus read on every USSD hop: areas, categories, the services of a list, one service's detail.

Each is one or a few indexed queries (flows/directory/store.py). Texts come back as {"ar", "fr", "en"}.
"""
from __future__ import annotations

from flows.directory import store
from messages.i18n import LANGUAGES

LANGS = LANGUAGES


def texts(row, field: str) -> dict | None:
    """A text's three language columns (``name_ar``, ``name_fr``, ``name_en``), or None when all are empty."""
    values = {lang: row[f"{field}_{lang}"] for lang in LANGS}
    return values if any(values.values()) else None


def _area(row) -> dict:
    return {"code": row["code"], "name": texts(row, "name")}


def governorates(db) -> list[dict]:
    return [_area(r) for r in store.governorate_rows(db)]


def delegations(db, governorate_code: str) -> list[dict]:
    return [_area(r) for r in store.delegation_rows(db, governorate_code)]


def area_name(db, code: str) -> dict | None:
    row = store.area_row(db, code)
    return texts(row, "name") if row else None


def taxonomy(db) -> list[dict]:
    """The category codes with their names and kind (information or help)."""
    return [{"code": r["code"], "kind": r["kind"], "name": texts(r, "name")} for r in store.taxonomy_rows(db)]


def count_services(db) -> int:
    return store.count_services(db)


def list_services(db, categories: list[str], governorate: str | None) -> list[dict]:
    """Active services in any of `categories`, offered in `governorate` or nationally; local ones first.

    A service is national when flagged so or when it has no location. The order does not depend on the
    caller's language, so option numbers stay the same when someone switches language.
    """
    if not categories:
        return []
    return [{"id": r[0], "name": dict(zip(LANGS, r[1:4])), "short_name": dict(zip(LANGS, r[4:7]))}
            for r in store.listed_service_rows(db, categories, governorate)]


def service(db, service_id: str, governorate: str | None = None) -> dict | None:
    """One active service for a detail screen; None if unknown or retired.

    Address, schedule and phone come from the service's location in `governorate` when it has one there
    (else its first location); a national service without location has address None. Missing texts are None.
    """
    row = store.active_service_row(db, service_id)
    if row is None:
        return None
    location = store.main_location_row(db, service_id, governorate)
    org = store.organization_row(db, row["organization_id"])
    return {
        "id": row["id"],
        "name": texts(row, "name"),
        "short_name": texts(row, "short_name"),
        "ussd_summary": texts(row, "ussd_summary"),
        "description": texts(row, "description"),
        "eligibility": texts(row, "eligibility"),
        "schedule": _schedule_text(db, service_id, location),
        "address": texts(location, "address") if location else None,
        "location": texts(location, "name") if location else None,
        "governorate": location["governorate"] if location else None,
        "phone": _phone_number(db, row, location),
        "organization": texts(org, "name"),
        "categories": store.category_codes(db, service_id),
        "national": bool(row["national"]) or location is None,
        "url": row["url"],
        "sample": bool(row["sample"]),
    }


def _schedule_text(db, service_id: str, location) -> dict | None:
    owners = [("service_id", service_id)] + ([("location_id", location["id"])] if location else [])
    for column, owner in owners:
        row = store.first_schedule_row(db, column, owner)
        if row:
            return texts(row, "description")
    return None


def _phone_number(db, service_row, location) -> str | None:
    # the most specific public number: the service's own, then its office's, then its organisation's
    owners = [("service_id", service_row["id"])]
    owners += [("location_id", location["id"])] if location else []
    owners += [("organization_id", service_row["organization_id"])]
    for column, owner in owners:
        number = store.first_phone_number(db, column, owner)
        if number:
            return number
    return None
