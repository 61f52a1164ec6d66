"""The CSO registry and routing: which organisation receives a referral.

A CSO is registered with the public half of a key pair made on its own machine (`dalil cso keygen`): an X25519
key that envelopes are sealed to, and an Ed25519 key that its desk signs requests with. The secret halves never
leave that machine. Registration returns a bearer token for the desk, shown once; the gateway keeps its SHA-256.

Routing picks among active CSOs that serve the need: first those naming the delegation, then the governorate,
then those serving everywhere ("*"); within the first level that has one with room, the least loaded relative
to its capacity. Load is counted from the referral rows (open states), not from anything about the person.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from gateway import contacts
from referrals import store

NEEDS = ("legal", "documents", "health", "shelter", "protection", "food", "work")  # the directory's "help" terms
EVERYWHERE = "*"
BUNDLE_PREFIX = "dalil-cso-1"
CSO_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")


class RegistryError(ValueError):
    pass


# --- keys, on the CSO's machine -----------------------------------------------------------------------------

def keygen(path: str | os.PathLike) -> str:
    """Write a new key pair file (mode 0600, never overwritten) and return the public bundle to register."""
    path = Path(path)
    box, sign = PrivateKey.generate(), SigningKey.generate()
    data = json.dumps({"version": 1, "box_secret": base64.b64encode(bytes(box)).decode(),
                       "sign_seed": base64.b64encode(bytes(sign)).decode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    return bundle(bytes(box.public_key), bytes(sign.verify_key))


def load_keys(path: str | os.PathLike) -> tuple[PrivateKey, SigningKey]:
    try:
        data = json.loads(Path(path).read_text())
        return (PrivateKey(base64.b64decode(data["box_secret"])), SigningKey(base64.b64decode(data["sign_seed"])))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegistryError(f"{path}: not a CSO key file ({e.__class__.__name__})") from None


def bundle(box_public: bytes, verify_key: bytes) -> str:
    enc = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    return f"{BUNDLE_PREFIX}:{enc(box_public)}:{enc(verify_key)}"


def parse_bundle(text: str) -> tuple[bytes, bytes]:
    try:
        prefix, box, verify = text.strip().split(":")
        dec = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))  # noqa: E731
        keys = dec(box), dec(verify)
    except ValueError:
        raise RegistryError("the public key must be the line `dalil cso keygen` printed (dalil-cso-1:...)") from None
    if prefix != BUNDLE_PREFIX or any(len(k) != 32 for k in keys):
        raise RegistryError("the public key must be the line `dalil cso keygen` printed (dalil-cso-1:...)")
    return keys


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
    if language not in ("ar", "fr", "en"):
        raise RegistryError("language must be ar, fr or en")


def register(db, cso_id: str, *, name: str, contact: str, needs: list[str], areas: list[str], capacity: int,
             public_bundle: str, notify_phone: str | None = None, language: str = "fr") -> str:
    """Add a CSO; returns its desk token (shown once, only its hash is kept)."""
    if not CSO_ID.match(cso_id):
        raise RegistryError("id: 2-32 lowercase letters, digits, - or _")
    if store.get_cso(db, cso_id):
        raise RegistryError(f"a CSO '{cso_id}' is already registered")
    if not name.strip() or not contact.strip():
        raise RegistryError("name and public contact are required: the person is told both")
    _check(needs, areas, capacity, language)
    box_key, verify_key = parse_bundle(public_bundle)
    if notify_phone:
        try:
            notify_phone = contacts.normalize(notify_phone)
        except contacts.BadNumber as e:
            raise RegistryError(f"caseworker phone: {e}") from None
    token = secrets.token_urlsafe(32)
    store.insert_cso(db, {"id": cso_id, "name": name.strip(), "contact": contact.strip(),
                          "notify_phone": notify_phone or None, "language": language, "box_key": box_key,
                          "verify_key": verify_key, "token_hash": token_hash(token), "needs": list(needs),
                          "areas": [a.strip() for a in areas], "capacity": capacity, "active": True})
    return token


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

def route(db, need: str, governorate: str | None, delegation: str | None) -> dict | None:
    """The CSO to receive a referral, or None when none serves this need here (or all are full)."""
    candidates = [c for c in store.list_csos(db, active_only=True) if need in c["needs"]]
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
