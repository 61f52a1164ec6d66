"""The transparency log of referral events and of the CSO registry, kept in the gateway's SQLite file.

Every event is one entry of canonical JSON: its kind and its day, and
- for referral events (created, fetched, accepted, declined, closed, expired, erased): a hash of the referral's
  id; "created" adds the hash of the sealed envelope and the fingerprint of the key it was sealed to;
- "registration": the coordinator's signed registration file, verbatim (referrals.protocol.registry);
- "erasure_requested": the fingerprints of the keys the notices were sealed to.
No content, no time finer than a day; the format is referrals.protocol.events, shared with the desks. Entries
are the leaves of an RFC 6962 Merkle tree (referrals.protocol.merkle).

The tree head is published as a C2SP checkpoint (referrals.protocol.note) signed with the gateway's key on a
schedule ([referrals] checkpoint_minutes), not at each append: a head per event would be a live feed of activity. The
operator holds that key, so the gateway checking itself (`dalil ledger verify`) catches disk corruption and clumsy
edits, not a careful rewrite. That is what the CSO desks are for: each reads every entry, checks registrations
against the coordinator key it pinned and "created" entries against the registry, and cosigns the checkpoint as
a witness (C2SP tlog-witness); a rewritten or forked history cannot be consistent with what a desk has seen.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from gateway.store import serialize, transaction
from referrals import store
from referrals.protocol import days, merkle, note
from referrals.protocol.events import decode_event, encode_event, ref_hash

LOCK = "referral log"  # appends and checkpoints one at a time (gateway.store.serialize)


class DbNodes:
    """referrals.protocol.merkle's node store on the ledger_nodes table."""

    def __init__(self, db):
        self.db = db

    def get(self, level: int, index: int) -> bytes:
        return store.get_node(self.db, level, index)

    def put(self, level: int, index: int, value: bytes) -> None:
        store.put_node(self.db, level, index, value)


# --- appending and reading ----------------------------------------------------------------------------------

def append(db, kind: str, referral_id: str | None = None, envelope: bytes | None = None, day: str | None = None,
           **fields) -> int:
    """Append one event (joins the caller's transaction). Returns the entry's index."""
    day = day or days.today()
    if referral_id is not None:
        fields["ref"] = ref_hash(referral_id)
    if envelope is not None:
        fields["envelope"] = hashlib.sha256(envelope).hexdigest()
    data = encode_event(kind, day, **fields)
    with transaction(db):
        serialize(db, LOCK)  # entries keep the order of their indexes, whichever gateway appends
        size = store.ledger_size(db)
        tree = merkle.Tree(DbNodes(db), size)
        store.insert_entry(db, size, data)
        tree.append(data)
    return size


def tree(db) -> merkle.Tree:
    return merkle.Tree(DbNodes(db), store.ledger_size(db))


def inclusion(db, index: int, size: int) -> list[str]:
    return [h.hex() for h in tree(db).inclusion_proof(index, size)]


def consistency(db, first: int, second: int) -> list[str]:
    return [h.hex() for h in tree(db).consistency_proof(first, second)]


# --- checkpoints --------------------------------------------------------------------------------------------

def log_verifier(origin: str, key: SigningKey) -> note.Verifier:
    """The checkpoint key as desks pin it: named by the log's origin line (tlog-checkpoint)."""
    return note.verifier(origin, bytes(key.verify_key))


def sign_checkpoint(db, key: SigningKey, origin: str) -> tuple[int, str]:
    """Sign a checkpoint of the log as it is now, unless the latest one already covers it. (size, note)."""
    with transaction(db):
        serialize(db, LOCK)
        size = store.ledger_size(db)
        text = note.checkpoint_text(origin, size, tree(db).root() if size else merkle.EMPTY_ROOT)
        latest = store.latest_checkpoint(db)
        if latest is not None and latest[1].startswith(text + "\n"):
            return latest
        signed = note.sign(text, origin, key)
        store.save_checkpoint(db, size, signed)
    return size, signed


def current_checkpoint(db, key: SigningKey, origin: str) -> tuple[int, str]:
    """The latest signed checkpoint; the first one is signed on demand so a desk can start from it."""
    latest = store.latest_checkpoint(db)
    if latest is None or not latest[1].startswith(origin + "\n"):
        return sign_checkpoint(db, key, origin)
    return latest


# --- verification -------------------------------------------------------------------------------------------

@dataclass
class Verdict:
    entries: int = 0
    checkpoint: int | None = None  # the size of the signed checkpoint checked
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


def verify(db, log_key: note.Verifier) -> Verdict:
    """Recompute every leaf and node from the entries; check the latest checkpoint's root and signature."""
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
    inner_mismatches = _check_nodes(db, rebuilt.store.levels, verdict)
    _check_checkpoint(db, log_key, rebuilt, verdict)
    if verdict.first_bad_entry is None and inner_mismatches:
        verdict.first_bad_entry = min(inner_mismatches)
    verdict.root = rebuilt.root() if rebuilt.size else merkle.EMPTY_ROOT
    if verdict.problems and verdict.first_bad_entry is not None:
        verdict.problems.sort(key=lambda p: 0 if p.startswith(f"entry {verdict.first_bad_entry}") else 1)
    return verdict


def _check_nodes(db, levels: list[list[bytes]], verdict: Verdict) -> list[int]:
    """Compare the stored nodes with the rebuilt ones. Returns the first entries under inner nodes that disagree:
    such a node is a symptom, and the leaf or head checks name the cause when they can."""
    seen = [0] * max(len(levels), 1)
    inner_mismatches = []
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
    return inner_mismatches


def _check_checkpoint(db, log_key: note.Verifier, rebuilt: merkle.Tree, verdict: Verdict) -> None:
    latest = store.latest_checkpoint(db)
    if latest is None:
        return
    size, signed = latest
    verdict.checkpoint = size
    try:
        cp = note.open_checkpoint(signed, log_key)
    except note.NoteError as e:
        verdict.bad(None, f"checkpoint of size {size}: {e}")
        return
    if cp.size > rebuilt.size:
        verdict.bad(None, f"checkpoint of size {cp.size} is larger than the log ({rebuilt.size} entries)")
    elif (rebuilt.root(cp.size) if cp.size else merkle.EMPTY_ROOT) != cp.root:
        verdict.bad(None, f"checkpoint of size {cp.size}: its root does not match entries 0..{cp.size - 1}")
