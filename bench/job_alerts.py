"""Match one job offer against 100,000 skills profiles and queue its alerts, against a plain SQL query of the same
matches in the same run.

    python bench/job_alerts.py [--profiles 100000] [--small 10000]

The profiles are spread over the 9 built-in trades, 3 levels, 5 governorates (delegations in Kairouan), the three
travel ranges and four availabilities, so one offer (construction, experienced, full time, a Kairouan delegation)
reaches about 1.4 % of them. The baseline is the floor for finding those people: one SELECT of the same rows
(trade, level, place, availability, alive) with fetchall, on the same table and index. Dalil's run does more: it
skips opted-out numbers, opens each sealed number, seals the alert to the sending process's key (gateway.outbox),
records the match and the prompt a one-key reply answers, in one transaction. Peak Python memory (tracemalloc) is
measured at two sizes to show it does not grow with the profiles (the matches are streamed, never a list).
Target: under 2 s for 100,000 profiles, memory flat. (Issue 18 named it bench/jobs.py; a script beside the other
benches cannot carry the name of the `jobs` package, which every bench imports through the config schema.)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from gateway import initialize  # noqa: E402
from gateway.config import load  # noqa: E402
from gateway.store import close_thread_connections, transaction  # noqa: E402
from jobs import matching, offers, profiles, store, taxonomy  # noqa: E402

TRADES = ("construction", "agriculture", "hospitality", "textiles", "care", "driving", "retail", "crafts", "it")
GOVERNORATES = ("kairouan", "medenine", "tataouine", "tunis", "sfax")


def fresh_ctx(workdir: Path, name: str, n: int):
    """A new database with n live profiles, numbers sealed as the flow seals them (setup, not measured)."""
    cfg = load({"gateway": {"database": str(workdir / f"{name}.db"), "keys_dir": str(workdir / "keys")},
                "campaigns": {"quiet_hours": ["00:00", "00:00"], "price_per_segment": 0.025},
                "dispatcher": {"enabled": False}})
    ctx = initialize(cfg)
    db = ctx.db()
    from flows import directory
    directory.load_demo(db)
    delegations = [d["code"] for d in directory.delegations(db, "kairouan")][:4]
    until = profiles.day_after(profiles.today(ctx), 90)
    box = profiles.box(ctx)
    rows = []
    for i in range(n):
        gov = GOVERNORATES[i % 5]
        deleg = delegations[(i // 5) % len(delegations)] if gov == "kairouan" else ""
        rows.append((f"k{i:07d}", box.encrypt(f"+2162{i:07d}".encode()), ("ar", "fr", "en")[i % 3],
                     TRADES[(i // 7) % 9], 1 + (i // 3) % 3, gov, deleg, taxonomy.TRAVEL[(i // 11) % 3],
                     taxonomy.AVAILABILITY[(i // 13) % 4], until))
    with transaction(db):
        db.conn.executemany("INSERT INTO job_profiles (key, sealed, language, trade, level, governorate, delegation, "
                            "travel, availability, expires_day) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    offer = {"trade": "construction", "level": 2, "kind": "full", "governorate": "kairouan",
             "delegation": delegations[0], "starts": profiles.day_after(profiles.today(ctx), 3),
             "ends": profiles.day_after(profiles.today(ctx), 30), "places": 5, "contact": "+21671000222",
             "contact_language": "fr", "texts": {"ar": "بناء مدرسة، 40 دينارا في اليوم",
                                                 "fr": "Chantier d'école, 40 DT par jour",
                                                 "en": "School building site, 40 TND a day"}}
    return ctx, offers.add(ctx, db, offer)


def plain_query(ctx, offer_id: int) -> int:
    """The baseline: the same people, found by one SELECT and fetched into a list."""
    db = ctx.db()
    o = store.offer(db, offer_id)
    rows = db.conn.execute(
        "SELECT key, sealed, language FROM job_profiles WHERE trade = ? AND level >= ? AND expires_day >= ? "
        "AND availability IN (?, 'any') AND (travel = 'anywhere' OR governorate = ? AND "
        "(travel = 'governorate' OR delegation IN ('', ?)))",
        [o["trade"], o["level"], profiles.today(ctx), o["kind"], o["governorate"], o["delegation"]]).fetchall()
    return len(rows)


def measure(n: int, workdir: Path) -> dict:
    ctx, offer_id = fresh_ctx(workdir, f"p{n}", n)
    started = time.perf_counter()
    baseline = plain_query(ctx, offer_id)
    base_s = time.perf_counter() - started
    preview_started = time.perf_counter()
    preview = matching.preview(ctx, ctx.db(), offer_id)
    preview_s = time.perf_counter() - preview_started
    tracemalloc.start()
    started = time.perf_counter()
    queued = matching.send_alerts(ctx, ctx.db(), offer_id)
    dalil_s = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert queued == baseline == preview["recipients"], (queued, baseline, preview["recipients"])
    in_outbox = ctx.db().execute("SELECT count(*) FROM outbox").fetchone()[0]
    assert in_outbox == queued
    close_thread_connections()
    return {"profiles": n, "matches": queued, "baseline_s": base_s, "preview_s": preview_s, "dalil_s": dalil_s,
            "peak_mb": peak / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(args.small, Path(tmp))
        big = measure(args.profiles, Path(tmp))
    for r in (small, big):
        print(f"{r['profiles']:>7,} profiles: {r['matches']:,} matches; "
              f"plain SQL query {r['baseline_s'] * 1000:.1f} ms; "
              f"preview {r['preview_s'] * 1000:.1f} ms; match + queue alerts {r['dalil_s']:.2f} s "
              f"({r['dalil_s'] / r['baseline_s']:.1f}x the query); peak Python memory {r['peak_mb']:.2f} MB")
    per_alert = big["dalil_s"] / max(big["matches"], 1) * 1000
    print(f"per alert: {per_alert:.2f} ms (open the number, check opt-out, seal, insert, record the match)")
    ok_time = big["dalil_s"] < 2.0
    ok_memory = big["peak_mb"] < 2 * small["peak_mb"] + 0.5
    print(f"target < 2 s: {'met' if ok_time else 'NOT met'}; memory flat (10x the profiles): "
          f"{'met' if ok_memory else 'NOT met'} ({small['peak_mb']:.2f} -> {big['peak_mb']:.2f} MB)")


if __name__ == "__main__":
    main()
