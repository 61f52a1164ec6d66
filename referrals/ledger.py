"""The transparency log of referral events, kept in the gateway's SQLite file.

Every event (created, fetched, accepted, declined, closed, expired, erased, erasure_requested) is one entry:
canonical JSON holding the event's kind, its day, a hash of the referral's id and, for "created", the hash of
the sealed envelope. No content, no CSO, no time finer than a day. Entries are the leaves of an RFC 6962 Merkle
tree (referrals.merkle); after each append the gateway signs the new tree head (size, root, day) with its
Ed25519 key and keeps it.

The operator of the gateway holds that key, so the gateway checking itself (`dalil ledger verify`) catches disk
corruption and clumsy edits, not a careful rewrite. That is what the CSO desks are for: each keeps the last head
it saw and asks for a consistency proof to the next one; a rewritten or forked history cannot produce one.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from gateway.store import transaction
from referrals import days, merkle, store

EVENTS = ("created", "fetched", "accepted", "declined", "closed", "expired", "erased", "erasure_requested")
HEAD_CONTEXT = b"dalil-tree-head-v1\n"


class DbNodes:
    """referrals.merkle's node store on the ledger_nodes table."""

    def __init__(self, db):
        self.db = db

    def get(self, level: int, index: int) -> bytes:
        return store.get_node(self.db, level, index)

    def put(self, level: int, index: int, value: bytes) -> None:
        store.put_node(self.db, level, index, value)


def ref_hash(referral_id: str) -> str:
    """What the log says about which referral: a hash of its random id, so the log can be shown to CSOs as is."""
    return hashlib.sha256(b"dalil-ref:" + referral_id.encode()).hexdigest()[:32]


def encode_event(kind: str, ref: str, day: str, envelope_hash: str | None = None) -> bytes:
    if kind not in EVENTS:
        raise ValueError(f"unknown ledger event {kind!r}")
    event = {"v": 1, "event": kind, "ref": ref, "day": day}
    if envelope_hash:
        event["envelope"] = envelope_hash
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


def decode_event(data: bytes) -> dict:
    event = json.loads(data)
    if not isinstance(event, dict) or event.get("v") != 1 or event.get("event") not in EVENTS:
        raise ValueError("not a ledger event")
    return event


# --- tree heads ---------------------------------------------------------------------------------------------

def head_message(size: int, root: bytes, day: str) -> bytes:
    return HEAD_CONTEXT + struct.pack(">Q", size) + root + day.encode()


def sign_head(key: SigningKey, size: int, root: bytes, day: str) -> bytes:
    return key.sign(head_message(size, root, day)).signature


def head_json(size: int, root: bytes, day: str, signature: bytes) -> dict:
    return {"tree_size": size, "root": root.hex(), "day": day, "signature": signature.hex()}


def check_head(verify_key: VerifyKey, head: dict) -> bool:
    """A head as served (head_json) carries a valid signature of the gateway."""
    try:
        size, root, day = int(head["tree_size"]), bytes.fromhex(head["root"]), str(head["day"])
        verify_key.verify(head_message(size, root, day), bytes.fromhex(head["signature"]))
        return len(root) == 32 and size >= 0
    except (KeyError, TypeError, ValueError, BadSignatureError):
        return False


# --- appending and reading ----------------------------------------------------------------------------------

def append(db, key: SigningKey, kind: str, referral_id: str, envelope: bytes | None = None,
           day: str | None = None) -> int:
    """Append one event and sign the new head, in one transaction (joins the caller's). Returns the entry index."""
    day = day or days.today()
    envelope_hash = hashlib.sha256(envelope).hexdigest() if envelope is not None else None
    data = encode_event(kind, ref_hash(referral_id), day, envelope_hash)
    with transaction(db):
        size = store.ledger_size(db)
        tree = merkle.Tree(DbNodes(db), size)
        store.insert_entry(db, size, data)
        tree.append(data)
        root = tree.root()
        store.insert_head(db, tree.size, root, day, sign_head(key, tree.size, root, day))
    return size


def current_head(db, key: SigningKey) -> dict:
    row = store.latest_head(db)
    if row is None:  # an empty log still has a signed head, so a desk can start from it
        day = days.today()
        return head_json(0, merkle.EMPTY_ROOT, day, sign_head(key, 0, merkle.EMPTY_ROOT, day))
    return head_json(*row)


def tree(db) -> merkle.Tree:
    return merkle.Tree(DbNodes(db), store.ledger_size(db))


def inclusion(db, index: int, size: int) -> list[str]:
    return [h.hex() for h in tree(db).inclusion_proof(index, size)]


def consistency(db, first: int, second: int) -> list[str]:
    return [h.hex() for h in tree(db).consistency_proof(first, second)]


# --- verification -------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    entries: int = 0
    heads: int = 0
    root: bytes = merkle.EMPTY_ROOT
    problems: list[str] = field(default_factory=list)
    first_bad_entry: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, entry: int | None, problem: str) -> None:
        self.problems.append(problem)
        if entry is not None and (self.first_bad_entry is None or entry < self.first_bad_entry):
            self.first_bad_entry = entry


def verify(db, verify_key: VerifyKey) -> Verdict:
    """Recompute every leaf, node and head from the entries; check every head's signature."""
    verdict = Verdict()
    rebuilt = merkle.Tree()
    for expected, (index, data) in enumerate(store.iter_entries(db)):
        if index != expected:
            verdict.bad(expected, f"entry {expected} is missing (the next one is {index})")
            break
        try:
            decode_event(data)
        except ValueError:
            verdict.bad(index, f"entry {index} is not a valid event")
        rebuilt.append(data)
    verdict.entries = rebuilt.size
    levels = rebuilt.store.levels
    seen = [0] * max(len(levels), 1)
    inner_mismatches = []  # an inner node that disagrees is a symptom; the leaf or head checks name the cause
    for level, index, value in store.iter_nodes(db):
        if level >= len(levels) or index >= len(levels[level]):
            verdict.bad(None, f"ledger node ({level}, {index}) covers entries that do not exist")
            continue
        seen[level] += 1
        if levels[level][index] != value:
            first = index << level
            if level == 0:
                verdict.bad(first, f"entry {first}: its data does not hash to the stored leaf")
            else:
                inner_mismatches.append(first)
                verdict.bad(None, f"entries {first}..{first + (1 << level) - 1}: stored node ({level}, {index}) "
                                  "does not match them")
    for level, row in enumerate(levels):
        if seen[level] != len(row):
            verdict.bad(None, f"{len(row) - seen[level]} stored node(s) missing at level {level}")
    previous = 0
    for size, root, day, signature in store.iter_heads(db):
        verdict.heads += 1
        if size > rebuilt.size:
            verdict.bad(None, f"head of size {size} is larger than the log ({rebuilt.size} entries)")
            continue
        if rebuilt.root(size) != root:
            # heads exist at every size, so the first bad one points at the entry just before it
            verdict.bad(size - 1 if size - 1 >= previous else None,
                        f"head of size {size}: its root does not match entries 0..{size - 1}")
        try:
            verify_key.verify(head_message(size, root, day), signature)
        except BadSignatureError:
            verdict.bad(None, f"head of size {size}: signature is not the gateway's")
        previous = size
    if verdict.first_bad_entry is None and inner_mismatches:
        verdict.first_bad_entry = min(inner_mismatches)
    verdict.root = rebuilt.root() if rebuilt.size else merkle.EMPTY_ROOT
    if verdict.problems and verdict.first_bad_entry is not None:
        verdict.problems.sort(key=lambda p: 0 if p.startswith(f"entry {verdict.first_bad_entry}") else 1)
    return verdict
