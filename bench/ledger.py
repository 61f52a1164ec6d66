"""The referral transparency log: appends per second, checkpoint and witness costs, verification, proof sizes.

    python3 bench/ledger.py [--appends 5000] [--verify 100000] [--proof 1000000]

1. appends/s: `referrals.ledger.append` as the gateway calls it (one transaction per event: the entry and the
   Merkle nodes it completes; heads are no longer signed per event), on a SQLite file with the gateway's pragmas.
   Baseline in the same run: the same entries as bare one-row INSERTs, one transaction each.
2. a scheduled checkpoint (root, C2SP note, Ed25519 signature, written) on the log of (1), in ms and in appends.
3. the witness round trip in process: the gateway's add-checkpoint request (consistency proof from the previous
   cosigned size), the desk's checks and cosignature (tlog-witness), the gateway verifying and keeping it.
4. a whole desk sync over HTTP on loopback (waitress, two CSOs, the log of (1) already read, 10 new entries):
   inbox, entries, audit, cosignature. With desks syncing every 2 minutes, this bounds the detection window.
5. the time `dalil ledger verify` takes on a log of --verify events (every leaf and node, the checkpoint).
6. the size of an inclusion proof and of a consistency proof in a tree of --proof leaves (in memory, the same
   referrals.protocol.merkle code), checked against the root: logarithmic, ceil(log2 n) hashes of 32 bytes.
Target (issues 4, 11): at least 2,000 appends/s.
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

from gateway import schemas, store  # noqa: E402
from gateway.store import transaction  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402
from referrals import ledger  # noqa: E402
from referrals.protocol import events, merkle  # noqa: E402

KINDS = ("created", "fetched", "accepted", "closed")
TARGET = 2000
ORIGIN = "dalil.local/referrals"


def fresh_db(folder: str, name: str):
    db = store.connect(str(Path(folder) / name))
    store.migrate(db, schemas())
    return db


def bench_appends(folder: str, n: int) -> tuple[float, float, object]:
    db = fresh_db(folder, "appends.db")
    start = time.perf_counter()
    for i in range(n):
        ledger.append(db, KINDS[i % 4], f"referral-{i // 4}", day="2026-11-23")
    with_signing = n / (time.perf_counter() - start)

    base = fresh_db(folder, "baseline.db")
    data = [events.encode_event(KINDS[i % 4], "2026-11-23", ref=events.ref_hash(f"referral-{i // 4}"))
            for i in range(n)]
    start = time.perf_counter()
    for i, d in enumerate(data):
        with transaction(base):
            base.execute("INSERT INTO ledger_entries (idx, data) VALUES (?, ?)", [i, d])
    bare = n / (time.perf_counter() - start)
    return with_signing, bare, db


def bench_checkpoint(db, key: SigningKey, rounds: int = 50) -> float:
    """Seconds per checkpoint: one more entry each time, so every one is really signed and written."""
    took = 0.0
    for i in range(rounds):
        ledger.append(db, "closed", f"extra-{i}", day="2026-11-23")
        start = time.perf_counter()
        ledger.sign_checkpoint(db, key, ORIGIN)
        took += time.perf_counter() - start
    return took / rounds


def bench_witness(db, key: SigningKey, rounds: int = 50) -> float:
    """Seconds per add-checkpoint exchange, both sides, in process."""
    from referrals import witness
    from referrals.protocol import note, witness as witness_protocol
    log_key = ledger.log_verifier(ORIGIN, key)
    desk = SigningKey.generate()
    cso = {"id": "amal", "verify_key": bytes(desk.verify_key)}
    from referrals import store as referral_store
    referral_store.insert_cso(db, {"id": "amal", "name": "amal", "contact": "-", "notify_phone": None,
                                   "language": "fr", "box_key": bytes(32), "verify_key": cso["verify_key"],
                                   "token_hash": b"", "needs": ["legal"], "areas": ["*"], "capacity": 1,
                                   "active": True, "registration_index": None})
    last = None
    took = 0.0
    for i in range(rounds):
        ledger.append(db, "closed", f"witness-{i}", day="2026-11-23")
        size, signed = ledger.sign_checkpoint(db, key, ORIGIN)
        start = time.perf_counter()
        body = witness_protocol.add_checkpoint_body(ledger.tree(db), signed, size, last[0] if last else 0)
        cp, line = witness_protocol.add_checkpoint(body, log_key, last, witness_protocol.witness_name("amal"), desk)
        witness.record(db, log_key, cso, signed, line)
        took += time.perf_counter() - start
        last = (cp.size, cp.root)
        assert note.cosignatures(store_note(db), witness_protocol.witness_key("amal", cso["verify_key"]))
    return took / rounds


def store_cso_key(db) -> bytes:
    return db.execute("SELECT box_key FROM csos WHERE id = 'amal'").fetchone()[0]


def store_note(db) -> str:
    return db.execute("SELECT note FROM witness_cosignatures WHERE cso_id = 'amal'").fetchone()[0]


def network(folder: str):
    """A gateway under waitress on loopback with two CSOs registered by a coordinator, and their desks."""
    import threading

    import waitress

    from gateway import create_app
    from referrals import csos
    from referrals.protocol import cso_keys, registry
    from referrals.desk import home as desk_home
    from referrals.keyring import coordinator_key, log_key
    signer = registry.keygen(Path(folder) / "coordinator.key")
    name, ckey = registry.load_key(Path(folder) / "coordinator.key")
    app = create_app({"gateway": {"database": str(Path(folder) / "sync.db"), "keys_dir": str(Path(folder) / "keys"),
                                  "log_file": str(Path(folder) / "dalil.log")},
                      "dispatcher": {"enabled": False},
                      "referrals": {"coordinator_key": signer.vkey, "checkpoint_minutes": 0.0}})
    ctx = app.extensions["dalil"]
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}"
    desks = []
    for cso_id in ("amal", "basma"):
        home = Path(folder) / f"desk-{cso_id}"
        public = cso_keys.keygen(home / "cso.key")
        record = csos.new_record(cso_id, name=cso_id, contact="+216 71 000 000", needs=["legal"], areas=["*"],
                                 public_bundle=public)
        token = csos.register(ctx.db(), coordinator_key(ctx), registry.sign(name, ckey, record), capacity=10)
        desk_home.connect(home, url, cso_id, token, log_key(ctx).vkey, signer.vkey, "en")
        desks.append(desk_home.load(home))
    return ctx, server, desks


def bench_desk_sync(folder: str, entries: int) -> tuple[float, float]:
    """(seconds for a desk's first sync reading ``entries`` entries, seconds for a sync after 10 new ones)."""
    from referrals.protocol import registry
    from referrals.desk import client
    ctx, server, desks = network(folder)
    db = ctx.db()
    box_key = store_cso_key(db)
    with transaction(db):
        for i in range(entries):  # "created" entries sealed to amal's registered key, as intake writes them
            ledger.append(db, KINDS[i % 4], f"referral-{i // 4}", day="2026-11-23",
                          key=registry.key_fingerprint(box_key) if i % 4 == 0 else None)
    start = time.perf_counter()
    assert client.sync(desks[0]).ok
    first = time.perf_counter() - start
    client.sync(desks[1])
    took = []
    for _ in range(5):
        for i in range(10):
            ledger.append(db, "closed", f"later-{i}", day="2026-11-23")
        start = time.perf_counter()
        result = client.sync(desks[0])
        took.append(time.perf_counter() - start)
        assert result.ok and result.cosigned, result
    server.close()
    return first, sorted(took)[len(took) // 2]


def bench_window(folder: str, attacks: int, interval: float) -> list[float]:
    """Seconds from a tampered entry's append (a referral sealed to a key no CSO registered) to the first desk
    alert naming it, with two desks syncing every ``interval`` seconds from random phases."""
    import random
    import threading

    from referrals.desk import client
    from referrals.desk import store as desk_store
    ctx, server, desks = network(str(Path(folder) / "window"))
    stop = threading.Event()

    def loop(desk):
        stop.wait(random.uniform(0, interval))  # noqa: S311 (a phase, not a secret)
        while not stop.is_set():
            client.sync(desk)
            stop.wait(interval)

    threads = [threading.Thread(target=loop, args=(d,), daemon=True) for d in desks]
    for t in threads:
        t.start()
    db = ctx.db()
    latencies = []
    for k in range(attacks):
        time.sleep(random.uniform(0, interval))  # noqa: S311
        index = ledger.append(db, "created", f"stolen-{k}", envelope=b"x", key="0000-0000-0000-0000")
        start = time.perf_counter()
        while True:
            seen = False
            for desk in desks:
                with desk_store.connect(desk.db_path) as conn:
                    seen = seen or any(a["params"].get("entry") == index for a in desk_store.alerts(conn))
            if seen:
                break
            time.sleep(0.01)
        latencies.append(time.perf_counter() - start)
    stop.set()
    for t in threads:
        t.join()
    server.close()
    return latencies


def bench_verify(folder: str, n: int, key: SigningKey) -> tuple[float, float]:
    db = fresh_db(folder, "verify.db")
    start = time.perf_counter()
    chunk = 5000
    for first in range(0, n, chunk):  # the same append, batched in transactions so the setup is quick
        with transaction(db):
            for i in range(first, min(n, first + chunk)):
                ledger.append(db, KINDS[i % 4], f"referral-{i // 4}", day="2026-11-23")
    ledger.sign_checkpoint(db, key, ORIGIN)
    build = time.perf_counter() - start
    start = time.perf_counter()
    verdict = ledger.verify(db, ledger.log_verifier(ORIGIN, key))
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
    parser.add_argument("--window-attacks", type=int, default=20, help="0 skips the detection window")
    parser.add_argument("--window-interval", type=float, default=2.0, help="desk sync interval for it, seconds")
    args = parser.parse_args()
    key = SigningKey.generate()
    with tempfile.TemporaryDirectory() as folder:
        rate, bare, db = bench_appends(folder, args.appends)
        print(f"appends: {rate:,.0f}/s over {args.appends:,} events "
              f"(bare one-row insert baseline: {bare:,.0f}/s, ratio {rate / bare:.2f}); target >= {TARGET:,}/s: "
              f"{'OK' if rate >= TARGET else 'MISSED'}")
        per_append = 1 / rate
        checkpoint = bench_checkpoint(db, key)
        print(f"checkpoint (C2SP note, Ed25519) on {args.appends:,} entries: {checkpoint * 1000:.2f} ms "
              f"= {checkpoint / per_append:.1f} appends; one every 10 minutes")
        round_trip = bench_witness(db, key)
        print(f"witness round trip in process (add-checkpoint request, desk checks and cosigns, gateway verifies and "
              f"keeps it): {round_trip * 1000:.2f} ms = {round_trip / per_append:.1f} appends")
        first, incremental = bench_desk_sync(folder, args.appends)
        print(f"desk sync over HTTP, two CSOs: first sync reading {args.appends:,} entries {first:.2f} s; after 10 new "
              f"entries {incremental * 1000:.0f} ms (median of 5) = {incremental / per_append:.0f} appends; with "
              f"syncs every 120 s a tampered entry is seen within {120 + incremental:.1f} s")
        if args.window_attacks:
            lat, every = bench_window(folder, args.window_attacks, args.window_interval), args.window_interval
            mean = sum(lat) / len(lat)
            print(f"detection window: {len(lat)} tampered entries at random moments, two desks syncing every "
                  f"{every:g} s: first alert after {mean:.2f} s on average ({mean / every:.2f} of the interval), "
                  f"at most {max(lat):.2f} s ({max(lat) / every:.2f}); scaled to the default 120 s: "
                  f"{120 * mean / every:.0f} s on average, {120 * max(lat) / every:.0f} s at most here, 120 s + one "
                  "sync in the worst case (desks in phase)")
        took, build = bench_verify(folder, args.verify, key)
        print(f"verify {args.verify:,} events (leaves, nodes, the checkpoint): {took:.2f} s "
              f"(log built in {build:.1f} s)")
        store.close_thread_connections()
    inclusion, consistency, build = bench_proofs(args.proof)
    print(f"inclusion proof at {args.proof:,} leaves: {inclusion} hashes = {inclusion * 32} bytes "
          f"(ceil(log2 n) = {math.ceil(math.log2(args.proof))}); consistency proof from {args.proof // 2 + 12345:,}: "
          f"{consistency} hashes = {consistency * 32} bytes (tree built in memory in {build:.1f} s)")
    return 0 if rate >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
