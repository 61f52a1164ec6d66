"""The CSO registry and routing: which organisation receives a referral.

A CSO has a key pair made on its own machine (`dalil cso keygen`, referrals.protocol.cso_keys): an X25519 key
that envelopes are sealed to, and an Ed25519 key that its desk signs requests and cosignatures with. The secret
halves never leave that machine. The coordinator signs a registration file holding the public halves and the
CSO's public record (referrals.protocol.registry); the gateway takes only such a file, appends it to the
transparency log and keeps the row below as a cache of it. Registration returns a bearer token for the desk,
shown once; the gateway keeps its SHA-256.

A row is used (routing, erasure notices) only while it still matches the signed registration it points to, and
that registration verifies with the configured coordinator key: a row edited in the database is ignored.

Routing picks among active CSOs that serve the need: first those naming the delegation, then the governorate,
then those serving everywhere ("*"); within the first level that has one with room, the least loaded relative
to its capacity. Load is counted from the referral rows (open states), not from anything about the person.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets

from gateway import contacts
from gateway.store import transaction
from messages.i18n import LANGUAGES
from referrals import ledger, store
from referrals.protocol import events, note, registry
from referrals.protocol.cso_keys import RegistryError, parse_bundle

log = logging.getLogger(__name__)

NEEDS = ("legal", "documents", "health", "shelter", "protection", "food", "work")  # the directory's "help" terms
EVERYWHERE = "*"
CSO_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")


# --- the registry, on the gateway ---------------------------------------------------------------------------

def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def token_matches(cso: dict, token: str) -> bool:
    return hmac.compare_digest(cso["token_hash"], token_hash(token))


def _check(needs, areas, capacity, language) -> None:
    unknown = [n for n in needs if n not in NEEDS]
    if not needs or unknown:
        raise RegistryError(f"needs must be among {', '.join(NEEDS)}" + (f"; unknown: {', '.join(unknown)}"
                                                                           if unknown else ""))
    if not areas or any(not isinstance(a, str) or not a.strip() for a in areas):
        raise RegistryError("areas: at least one governorate or delegation code, or * for everywhere")
    if capacity < 1:
        raise RegistryError("capacity must be at least 1 open referral")
    if language not in LANGUAGES:
        raise RegistryError("language must be ar, fr or en")


def new_record(cso_id: str, *, name: str, contact: str, needs: list[str], areas: list[str], public_bundle: str,
               seq: int = 1, active: bool = True) -> dict:
    """A registration record as the coordinator signs it, checked the way the gateway will check it."""
    if not CSO_ID.match(cso_id):
        raise RegistryError("id: 2-32 lowercase letters, digits, - or _")
    if not name.strip() or not contact.strip():
        raise RegistryError("name and public contact are required: the person is told both")
    _check(needs, areas, 1, "fr")
    box_key, verify_key = parse_bundle(public_bundle)
    return {"cso": cso_id, "seq": seq, "active": active, "name": name.strip(), "contact": contact.strip(),
            "needs": list(needs), "areas": [a.strip() for a in areas], **registry.encode_keys(box_key, verify_key)}


def _accepted(db, coordinator: note.Verifier | None, registration: str) -> dict:
    if coordinator is None:
        raise RegistryError("[referrals] coordinator_key is not set: put the line `dalil coordinator keygen` "
                            "printed on the coordinator's machine there first")
    try:
        record = registry.verify(registration, coordinator)
    except registry.RegistrationError as e:
        raise RegistryError(str(e)) from None
    if not CSO_ID.match(str(record["cso"])):
        raise RegistryError("registration: id must be 2-32 lowercase letters, digits, - or _")
    try:
        _check(record["needs"], record["areas"], 1, "fr")
    except RegistryError as e:
        raise RegistryError(f"registration: {e}") from None
    return record


def _row_fields(record: dict) -> dict:
    return {"name": record["name"], "contact": record["contact"], "needs": list(record["needs"]),
            "areas": list(record["areas"]), "box_key": record["box_key"], "verify_key": record["verify_key"],
            "active": record["active"]}


def register(db, coordinator: note.Verifier | None, registration: str, *, capacity: int,
             notify_phone: str | None = None, language: str = "fr") -> str:
    """Add a CSO from a coordinator-signed registration (seq 1); returns its desk token (shown once)."""
    record = _accepted(db, coordinator, registration)
    cso_id = record["cso"]
    if store.get_cso(db, cso_id):
        raise RegistryError(f"a CSO '{cso_id}' is already registered: changes go through `dalil cso set`")
    if record["seq"] != 1:
        raise RegistryError(f"registration of '{cso_id}' is version {record['seq']}; a new CSO starts at 1")
    _check(record["needs"], record["areas"], capacity, language)
    if notify_phone:
        try:
            notify_phone = contacts.normalize(notify_phone)
        except contacts.BadNumber as e:
            raise RegistryError(f"caseworker phone: {e}") from None
    token = secrets.token_urlsafe(32)
    with transaction(db):
        index = ledger.append(db, "registration", cso=cso_id, note=registration)
        store.insert_cso(db, {"id": cso_id, **_row_fields(record), "notify_phone": notify_phone or None,
                              "language": language, "token_hash": token_hash(token), "capacity": capacity,
                              "registration_index": index})
    return token


def update(db, coordinator: note.Verifier | None, registration: str) -> dict:
    """Apply a coordinator-signed change (the next version of the CSO's record); returns the new record."""
    record = _accepted(db, coordinator, registration)
    current = store.get_cso(db, record["cso"])
    if current is None:
        raise RegistryError(f"no CSO '{record['cso']}': a new one is added with `dalil cso add`")
    previous = signed_record(db, current)
    expected = (previous["seq"] + 1) if previous else 1
    if record["seq"] != expected:
        raise RegistryError(f"registration of '{record['cso']}' is version {record['seq']}; the next one is "
                            f"{expected} (an older file cannot be applied again)")
    with transaction(db):
        index = ledger.append(db, "registration", cso=record["cso"], note=registration)
        store.update_cso(db, record["cso"], **_row_fields(record), registration_index=index)
    return record


def signed_record(db, cso: dict, coordinator: note.Verifier | None = None) -> dict | None:
    """The registration the row points to (checked against ``coordinator`` when given), or None."""
    index = cso.get("registration_index")
    data = store.get_entry(db, index) if isinstance(index, int) else None
    try:
        event = events.decode_event(data) if data else None
        if not event or event["event"] != "registration" or event.get("cso") != cso["id"]:
            return None
        return registry.verify(event["note"], coordinator) if coordinator else registry.read(event["note"])
    except (ValueError, KeyError, TypeError):
        return None


def valid(db, cso: dict, coordinator: note.Verifier | None) -> bool:
    """The row is what the coordinator signed: same keys, public record and state."""
    if coordinator is None:
        return False
    record = signed_record(db, cso, coordinator)
    if record is None:
        return False
    fields = _row_fields(record)
    return all(cso[k] == v for k, v in fields.items())


def usable(db, coordinator: note.Verifier | None) -> list[dict]:
    """Active CSOs whose row matches a valid registration: the only ones referrals and notices go to."""
    found = []
    for cso in store.list_csos(db, active_only=True):
        if valid(db, cso, coordinator):
            found.append(cso)
        else:
            log.error("referrals: CSO %s does not match its coordinator-signed registration; not used", cso["id"])
    return found


def set_capacity(db, cso_id: str, capacity: int) -> None:
    if not store.get_cso(db, cso_id):
        raise RegistryError(f"no CSO '{cso_id}'")
    if capacity < 1:
        raise RegistryError("capacity must be at least 1")
    store.update_cso(db, cso_id, capacity=capacity)


def new_token(db, cso_id: str) -> str:
    if not store.get_cso(db, cso_id):
        raise RegistryError(f"no CSO '{cso_id}'")
    token = secrets.token_urlsafe(32)
    store.update_cso(db, cso_id, token_hash=token_hash(token))
    return token


def public_view(cso: dict, load: int = 0) -> dict:
    """What may be shown of a CSO: no key material, no token hash."""
    return {"id": cso["id"], "name": cso["name"], "contact": cso["contact"], "needs": cso["needs"],
            "areas": cso["areas"], "capacity": cso["capacity"], "open": load, "active": cso["active"],
            "language": cso["language"], "caseworker_sms": bool(cso["notify_phone"])}


# --- routing ------------------------------------------------------------------------------------------------

def route(db, need: str, governorate: str | None, delegation: str | None,
          coordinator: note.Verifier | None) -> dict | None:
    """The CSO to receive a referral, or None when none serves this need here (or all are full)."""
    candidates = [c for c in usable(db, coordinator) if need in c["needs"]]
    if not candidates:
        return None
    load = store.open_load(db)
    for area in (delegation, governorate, EVERYWHERE):
        if not area:
            continue
        matching = [c for c in candidates if area in c["areas"] and load.get(c["id"], 0) < c["capacity"]]
        if matching:
            # least loaded relative to capacity; a random draw among equals so no CSO is always first
            return min(matching, key=lambda c: (load.get(c["id"], 0) / c["capacity"], secrets.randbits(16)))
    return None
