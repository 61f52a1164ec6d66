"""The referral transparency log: appends per second with signing, verification time, proof sizes.

    python3 bench/ledger.py [--appends 5000] [--verify 100000] [--proof 1000000]

1. appends/s: `referrals.ledger.append` as the gateway calls it (one transaction per event: the entry, the
   Merkle nodes it completes, a new tree head signed with Ed25519), on a SQLite file with the gateway's pragmas.
   Baseline in the same run: the same entries as bare one-row INSERTs, one transaction each.
2. the time `dalil ledger verify` takes on a log of --verify events (every leaf, node and signed head recomputed).
3. the size of an inclusion proof and of a consistency proof in a tree of --proof leaves (in memory, the same
   referrals.merkle code), checked against the root: logarithmic, ceil(log2 n) hashes of 32 bytes.
Target (issue 4): at least 2,000 appends/s with signing.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway import store  # noqa: E402
from gateway.store import transaction  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402
from referrals import ledger, merkle  # noqa: E402

KINDS = ("created", "fetched", "accepted", "closed")
TARGET = 2000


def fresh_db(folder: str, name: str):
    db = store.connect(str(Path(folder) / name))
    store.migrate(db)
    return db


def bench_appends(folder: str, n: int, key: SigningKey) -> tuple[float, float]:
    db = fresh_db(folder, "appends.db")
    start = time.perf_counter()
    for i in range(n):
        ledger.append(db, key, KINDS[i % 4], f"referral-{i // 4}", day="2026-11-23")
    with_signing = n / (time.perf_counter() - start)

    base = fresh_db(folder, "baseline.db")
    data = [ledger.encode_event(KINDS[i % 4], ledger.ref_hash(f"referral-{i // 4}"), "2026-11-23")
            for i in range(n)]
    start = time.perf_counter()
    for i, d in enumerate(data):
        with transaction(base):
            base.execute("INSERT INTO ledger_entries (idx, data) VALUES (?, ?)", [i, d])
    bare = n / (time.perf_counter() - start)
    return with_signing, bare


def bench_verify(folder: str, n: int, key: SigningKey) -> tuple[float, float]:
    db = fresh_db(folder, "verify.db")
    start = time.perf_counter()
    chunk = 5000
    for first in range(0, n, chunk):  # the same append, batched in transactions so the setup is quick
        with transaction(db):
            for i in range(first, min(n, first + chunk)):
                ledger.append(db, key, KINDS[i % 4], f"referral-{i // 4}", day="2026-11-23")
    build = time.perf_counter() - start
    start = time.perf_counter()
    verdict = ledger.verify(db, key.verify_key)
    took = time.perf_counter() - start
    assert verdict.ok and verdict.entries == n, verdict.problems[:3]
    return took, build


def bench_proofs(n: int) -> tuple[int, int, float]:
    start = time.perf_counter()
    tree = merkle.Tree()
    for i in range(n):
        tree.append_hash(hashlib.sha256(i.to_bytes(8, "big")).digest())
    build = time.perf_counter() - start
    root = tree.root()
    index = n // 3
    proof = tree.inclusion_proof(index)
    assert merkle.verify_inclusion(hashlib.sha256(index.to_bytes(8, "big")).digest(), index, n, proof, root)
    old = n // 2 + 12345
    consistency = tree.consistency_proof(old)
    assert merkle.verify_consistency(old, n, tree.root(old), root, consistency)
    return len(proof), len(consistency), build


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=5000)
    parser.add_argument("--verify", type=int, default=100_000)
    parser.add_argument("--proof", type=int, default=1_000_000)
    args = parser.parse_args()
    key = SigningKey.generate()
    with tempfile.TemporaryDirectory() as folder:
        rate, bare = bench_appends(folder, args.appends, key)
        print(f"appends with signing: {rate:,.0f}/s over {args.appends:,} events "
              f"(bare one-row insert baseline: {bare:,.0f}/s, ratio {rate / bare:.2f}); target >= {TARGET:,}/s: "
              f"{'OK' if rate >= TARGET else 'MISSED'}")
        took, build = bench_verify(folder, args.verify, key)
        print(f"verify {args.verify:,} events (leaves, nodes, {args.verify:,} signed heads): {took:.2f} s "
              f"(log built in {build:.1f} s)")
        store.close_thread_connections()
    inclusion, consistency, build = bench_proofs(args.proof)
    print(f"inclusion proof at {args.proof:,} leaves: {inclusion} hashes = {inclusion * 32} bytes "
          f"(ceil(log2 n) = {math.ceil(math.log2(args.proof))}); consistency proof from {args.proof // 2 + 12345:,}: "
          f"{consistency} hashes = {consistency * 32} bytes (tree built in memory in {build:.1f} s)")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
