"""Importing an HSDS document (the format: flows/directory/__init__.py), all or nothing, and the console's
one-record edits, which are imports of one record."""
from __future__ import annotations

import json
from pathlib import Path

from flows.directory import fields, store
from gateway.store import IntegrityError
from flows.directory.batch import Batch
from flows.directory.fields import DirectoryImportError

KINDS = ("organizations", "services", "locations")
DEMO_PACK = Path(__file__).parent.parent / "demo" / "sample_directory.json"


def _read_document(db, data) -> Batch:
    if isinstance(data, list):
        data = {"services": data}
    if not isinstance(data, dict) or not any(k in data for k in (*KINDS, "service_at_locations")):
        raise DirectoryImportError("document: expected a list of HSDS services, or an object with "
                                   "organizations / services / locations / service_at_locations arrays")
    sample = data.get("sample", False)
    if not isinstance(sample, bool):
        raise DirectoryImportError(f"document: sample: expected true or false, got {sample!r}")
    batch = Batch(db, sample)
    # the order lets a service name an organisation or location given earlier in the same document
    for kind, read in (("organizations", batch.organization), ("locations", batch.location),
                       ("services", batch.service), ("service_at_locations", batch.link)):
        for i, rec in enumerate(fields.array(data.get(kind), "document", kind)):
            where = fields.record_name(kind, i, rec)
            if kind == "service_at_locations":
                rec = fields.object(rec, where, "(record)")
            read(rec, where)
    return batch


def import_hsds(db, data) -> dict:
    """Import an HSDS 3.0 document; all or nothing. Returns counts per kind."""
    batch = _read_document(db, data)
    records = {"organizations": batch.organizations, "locations": batch.locations, "services": batch.services}
    try:
        store.write(db, records, batch.categories, batch.linked, batch.links, batch.owned)
    except IntegrityError as e:
        raise DirectoryImportError(f"document: conflicts with the stored directory ({e}); nothing imported") from None
    return {kind: len(records[kind]) for kind in KINDS}


def load_demo(db) -> int:
    """Load the sample pack (SAMPLE DATA, clearly marked); loading it again changes nothing."""
    return import_hsds(db, json.loads(DEMO_PACK.read_text(encoding="utf-8")))["services"]


# -- the staff console ----------------------------------------------------------------------------------------

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
    return store.retire_service(db, service_id)
