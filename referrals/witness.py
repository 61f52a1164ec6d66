"""Desks as witnesses of the log: the C2SP tlog-witness add-checkpoint exchange, both sides.

In tlog-witness the log POSTs ``old <size>``, the consistency proof lines, a blank line and the checkpoint to
the witness, which checks the checkpoint's signature and the proof from the size it last cosigned, and answers
with its cosignature line (c2sp.org/tlog-cosignature). Desks sit behind office NATs and are often offline, so the
gateway cannot call them: it puts that same request body in each desk's inbox answer, the desk runs it through
``add_checkpoint`` exactly as a witness endpoint would, and posts the answer back (POST /api/desk/cosign). The
gateway keeps the latest cosigned checkpoint of each desk.

A desk's cosignature carries one statement beyond the spec's: the desk also checked every registration and
every "created" and erasure entry up to that size against the coordinator's registry (referrals.desk.audit), and
found nothing wrong. It cosigns nothing while an alert stands.

Each desk cosigns with its Ed25519 request key (the message starts "cosignature/v1", which no desk request does),
under the name ``dalil-desk/<cso id>``, so its witness key is the one in its coordinator-signed registration.
"""
from __future__ import annotations

import base64
import binascii
import time

from gateway.store import transaction
from referrals import csos, merkle, note, store


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def witness_name(cso_id: str) -> str:
    return f"dalil-desk/{cso_id}"


def witness_key(cso_id: str, verify_key: bytes) -> note.Verifier:
    return note.verifier(witness_name(cso_id), verify_key, note.COSIGNATURE_V1)


# --- the gateway (the log's side) ---------------------------------------------------------------------------

def add_checkpoint_body(tree: merkle.Tree, checkpoint: str, size: int, old: int) -> str:
    """The add-checkpoint request for a desk that last cosigned ``old`` entries."""
    if not 0 <= old <= size:
        return f"old {old}\n\n{checkpoint}"  # a desk that saw more than the log has: its witness answers 400
    proof = tree.consistency_proof(old, size) if old else []
    return f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + checkpoint


def record(db, log_key: note.Verifier, cso: dict, checkpoint: str, cosignature: str) -> int:
    """Keep a desk's cosignature of one of our checkpoints; returns its size. Refused if either does not verify."""
    try:
        cp = note.open_checkpoint(checkpoint, log_key)
        signed = checkpoint + cosignature.strip("\n") + "\n"
        if not note.cosignatures(signed, witness_key(cso["id"], cso["verify_key"])):
            raise note.NoteError("the cosignature is not this desk's")
    except note.NoteError as e:
        raise Refused(400, f"cosignature refused: {e}") from None
    with transaction(db):
        store.save_cosignature(db, cso["id"], cp.size, signed)
    return cp.size


def cosigned(db, coordinator: note.Verifier | None) -> dict[str, int]:
    """Desk id -> size of the latest checkpoint it cosigned, counting only cosignatures that verify with the
    witness key of a CSO the coordinator registered (a row forged in the database counts for nothing)."""
    keys = {c["id"]: witness_key(c["id"], c["verify_key"]) for c in csos.usable(db, coordinator)}
    found = {}
    for cso_id, size, signed in store.cosignatures(db):
        if cso_id in keys and note.cosignatures(signed, keys[cso_id]):
            found[cso_id] = size
    return found


def cosigned_size(db, coordinator: note.Verifier | None) -> int:
    return max(cosigned(db, coordinator).values(), default=0)


def status(db, coordinator: note.Verifier | None) -> dict:
    """For `dalil status`: how many desks cosigned which size."""
    by_size: dict[int, int] = {}
    for size in cosigned(db, coordinator).values():
        by_size[size] = by_size.get(size, 0) + 1
    latest = store.latest_checkpoint(db)
    return {"checkpoint_size": latest[0] if latest else None, "log_size": store.ledger_size(db),
            "cosigned": [{"size": s, "desks": n} for s, n in sorted(by_size.items(), reverse=True)]}


# --- the desk (the witness's side) --------------------------------------------------------------------------

def parse_request(body: str) -> tuple[int, list[bytes], str]:
    head, sep, checkpoint = body.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise Refused(400, "an add-checkpoint body starts with an old size line")
    old = lines[0][4:]
    if not (old.isascii() and old.isdigit()) or (old != "0" and old.startswith("0")):
        raise Refused(400, "the old size is a decimal number without leading zeroes")
    if len(lines) - 1 > 63:
        raise Refused(400, "more than 63 consistency proof lines")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except (ValueError, binascii.Error):
        raise Refused(400, "a consistency proof line is one base64 hash") from None
    return int(old), proof, checkpoint


def add_checkpoint(body: str, log_key: note.Verifier, last: tuple[int, bytes] | None, name: str, key,
                   now: float | None = None) -> tuple[note.Checkpoint, str]:
    """Check an add-checkpoint request against the latest cosigned (size, root); return the checkpoint and the
    cosignature line. Refused with the status tlog-witness assigns to each failure."""
    old, proof, signed = parse_request(body)
    try:
        text, sigs = note.split(signed)
        cp = note.parse_checkpoint(text)
    except note.NoteError as e:
        raise Refused(400, str(e)) from None
    if cp.origin != log_key.name:
        raise Refused(404, f"unknown log {cp.origin!r}")
    try:
        note.open_checkpoint(signed, log_key)
    except note.NoteError:
        raise Refused(403, "the checkpoint is not signed by the log's key") from None
    if old > cp.size:
        raise Refused(400, f"old size {old} is larger than the checkpoint's {cp.size}")
    last_size, last_root = last or (0, merkle.EMPTY_ROOT)
    if old != last_size:
        raise Refused(409, f"{last_size}\n")
    if old == cp.size and cp.root != last_root:
        raise Refused(409, f"{last_size}\n")
    if old and not merkle.verify_consistency(old, cp.size, last_root, cp.root, proof):
        raise Refused(422, "the consistency proof does not verify")
    if not old and proof:
        raise Refused(422, "the proof must be empty when the old size is 0")
    return cp, note.cosign(cp.text, name, key, int(now if now is not None else time.time()))
