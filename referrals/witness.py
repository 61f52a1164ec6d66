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

from gateway.store import transaction
from referrals import csos, store
from referrals.protocol import note
from referrals.protocol.witness import Refused, witness_key


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
