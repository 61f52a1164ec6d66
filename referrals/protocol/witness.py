"""The C2SP tlog-witness add-checkpoint exchange, as both sides speak it: the request body the log builds, the
check and cosignature a witness (a CSO desk) answers with. Why desks are witnesses, and the gateway's record of
their cosignatures: referrals.witness."""
from __future__ import annotations

import base64
import binascii
import time

from referrals.protocol import merkle, note


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def witness_name(cso_id: str) -> str:
    return f"dalil-desk/{cso_id}"


def witness_key(cso_id: str, verify_key: bytes) -> note.Verifier:
    return note.verifier(witness_name(cso_id), verify_key, note.COSIGNATURE_V1)


# --- the log's side -------------------------------------------------------------------------------------------------

def add_checkpoint_body(tree: merkle.Tree, checkpoint: str, size: int, old: int) -> str:
    """The add-checkpoint request for a desk that last cosigned ``old`` entries."""
    if not 0 <= old <= size:
        return f"old {old}\n\n{checkpoint}"  # a desk that saw more than the log has: its witness answers 400
    proof = tree.consistency_proof(old, size) if old else []
    return f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + checkpoint


# --- the witness's side ---------------------------------------------------------------------------------------------

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
