"""The transparency log's entries as both sides read them: canonical JSON of one event, its kind and its day.

Referral events carry a hash of the referral's id (``ref_hash``), never the id; the gateway appends them
(referrals.ledger) and the desks decode and audit them (referrals.desk.audit) with these same functions.
"""
from __future__ import annotations

import hashlib
import json

EVENTS = ("created", "fetched", "accepted", "declined", "closed", "expired", "erased", "erasure_requested",
          "registration")


def ref_hash(referral_id: str) -> str:
    """What the log says about which referral: a hash of its random id, so the log can be shown to CSOs as is."""
    return hashlib.sha256(b"dalil-ref:" + referral_id.encode()).hexdigest()[:32]


def encode_event(kind: str, day: str, **fields) -> bytes:
    if kind not in EVENTS:
        raise ValueError(f"unknown ledger event {kind!r}")
    event = {"v": 1, "event": kind, "day": day, **{k: v for k, v in fields.items() if v is not None}}
    return json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def decode_event(data: bytes) -> dict:
    event = json.loads(data)
    if not isinstance(event, dict) or event.get("v") != 1 or event.get("event") not in EVENTS:
        raise ValueError("not a ledger event")
    return event
