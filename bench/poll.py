"""1,000 concurrent USSD respondents answering a 3-question poll, against bench/ussd.py's bare endpoint in the same
run; then the results of a poll with 100,000 respondents, against a GROUP BY over the same answers kept as rows.

    python3 bench/poll.py [--respondents 1000] [--connections 8] [--results 100000]

The gateway runs in its own process (waitress, as `dalil serve` runs it) with a fresh SQLite file, the demo
directory and an open poll (polls/demo/water.toml). All the respondents' sessions are open at once: the client
keeps them in one queue and a few keep-alive connections (an aggregator's) take the next hop of the next session,
so the server holds 1,000 live sessions. Both servers run at once and are measured in alternating rounds of 1,000
new respondents each (bench/ussd.py's interleaving). The respondents know the line (their language and area are
remembered, set up before the run): each session is the main menu, "Have your say", the poll, three answers and the last
screen. The bare endpoint gets the same number of hops.
Targets (issue 17): at least 0.5 of the bare endpoint's throughput, p99 under 25 ms, results in under 1 s.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import sys
import tempfile
import threading
import time
import re
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ussd import SERVE as BARE_SERVE, hop, interleaved, line, start_server, targets  # noqa: E402

from gateway.config import schema  # noqa: E402

SERVE = r"""
import sys
kind, port, folder, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
if kind == "bare":
    exec(BARE)
else:
    import logging, waitress
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    from gateway import create_app
    from flows import directory
    from polls import lifecycle
    app = create_app({"gateway": {"database": folder + "/bench.db", "keys_dir": folder + "/keys",
                                  "log_level": "WARNING"},
                      "channels": {"africastalking": {"webhook_token": "tok"}}, "dispatcher": {"enabled": False}})
    ctx = app.extensions["dalil"]
    directory.load_demo(ctx.db())
    poll_id, problems = lifecycle.create(ctx, ctx.db(), DEFINITION)
    assert not problems, problems
    from gateway import contacts
    secret = ctx.secret("contacts")
    for n in [*range(RESPONDENTS), *range(9_000_000, 9_000_100)]:  # callers who know the line: language, area
        contacts.remember(ctx.db(), contacts.contact_key(secret, f"+2162{n:07d}"), language="en",
                          governorate="tunis")
    lifecycle.open_poll(ctx, ctx.db(), poll_id)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)
"""

# A caller who knows the line (English, Tunis): the main menu, "Have your say" (6), the poll (1), Yes, 5 days,
# an age band, no result SMS.
SESSION = [None, "6", "1", "1", "5", "2", "2"]
ANSWER_HOPS = {3, 4, 5}  # the hops that answer a question (index in SESSION)


def definition() -> str:
    """The sample poll, open from yesterday for a month."""
    from datetime import date, timedelta
    today = date.today()
    text = (Path(__file__).parent.parent / "polls" / "demo" / "water.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^opens = .*$', f'opens = "{today - timedelta(days=1)}"', text)
    return re.sub(r'(?m)^closes = .*$', f'closes = "{today + timedelta(days=30)}"', text)


def start(kind: str, folder: str, threads: int, respondents: int):
    import ussd
    # the bare server is bench/ussd.py's, verbatim
    ussd.SERVE = f"BARE = {BARE_SERVE!r}\nDEFINITION = {definition()!r}\nRESPONDENTS = {respondents}\n" + SERVE
    return start_server(kind, folder, threads)


def run_client(port: int, respondents: int, connections: int, first: int, bare: bool) -> tuple[float, list, int]:
    """Every session open at once; connections take the next hop of the next session in the queue.
    Returns (seconds, latencies, answers)."""
    queue = collections.deque((first + n, 0) for n in range(respondents))
    lock = threading.Lock()
    latencies: list[float] = []
    answers = [0]

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            with lock:
                if not queue:
                    break
                n, step = queue.popleft()
            status, text, elapsed = hop(conn, f"poll-{n}", f"+2162{n:07d}", SESSION[1:step + 1])
            last = step + 1 == len(SESSION)
            if status != 200 or not text.startswith(b"END " if last and not bare else (b"CON ", b"END ")):
                raise SystemExit(f"bad answer at hop {step} of session {n}: {status} {text[:200]!r}")
            with lock:
                latencies.append(elapsed)
                answers[0] += step in ANSWER_HOPS
                if not last:
                    queue.append((n, step + 1))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, answers[0]


def measure(respondents: int, connections: int, threads: int, rounds: int = 3) -> dict:
    """Both servers at once, in alternating rounds (bench/ussd.py's interleaved): each round a new set of
    `respondents`, all their sessions open at once."""
    per_round = respondents
    answered = {"bare": 0, "dalil": 0}

    def one_round(kind, port, n):
        wall, latencies, answers = run_client(port, per_round, connections, n * per_round, kind == "bare")
        answered[kind] += answers
        return wall, latencies

    with tempfile.TemporaryDirectory() as folder:
        procs, servers = [], {}
        try:
            for kind in ("bare", "dalil"):
                proc, servers[kind] = start(kind, f"{folder}/{kind}", threads, respondents * rounds)
                procs.append(proc)
                run_client(servers[kind], min(100, respondents), connections, 9_000_000, kind == "bare")  # warm-up
            measured = interleaved(servers, one_round, rounds)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
    for kind, result in measured.items():
        seconds = result["hops"] / result["hops_per_s"]
        result.update(answers_per_s=answered[kind] / seconds, respondents=per_round, rounds=rounds)
    return measured


def results_time(respondents: int) -> dict:
    """Results of a poll with this many respondents (3 answers each), and the same counts from answer rows."""
    import random

    from gateway import initialize
    from gateway.config import load
    from gateway.store import transaction
    from polls import answers, lifecycle, results
    with tempfile.TemporaryDirectory() as folder:
        ctx = initialize(load({"gateway": {"database": folder + "/r.db", "keys_dir": folder + "/keys"}}))
        db = ctx.db()
        from flows import directory
        directory.load_demo(db)
        poll_id, _ = lifecycle.create(ctx, db, definition())
        lifecycle.open_poll(ctx, db, poll_id)
        poll = lifecycle.load(db, poll_id)
        rng = random.Random(17)
        governorates = [g[0] for g in db.execute("SELECT code FROM areas WHERE level = 'governorate'")]
        rows = []
        t0 = time.perf_counter()
        with transaction(db):
            for n in range(respondents):
                given = [rng.randint(1, 3), rng.randint(0, 31), rng.randint(1, 4)]
                gov, lang = rng.choice(governorates), rng.choice(("ar", "fr", "en"))
                answers.record(db, poll, f"+2162{n:07d}", given, gov, lang)
                rows += [(q, a, gov, lang) for q, a in enumerate(given, start=1)]
        fill = time.perf_counter() - t0
        t0 = time.perf_counter()
        built = results.build(db, poll, 5)
        results.csv_text(built, "fr")
        counters = time.perf_counter() - t0
        # the baseline: the same answers as rows (the design the counters avoid), counted with GROUP BY
        db.execute("CREATE TEMP TABLE answer_rows (question INTEGER, answer INTEGER, governorate TEXT, language TEXT)")
        db.conn.executemany("INSERT INTO answer_rows VALUES (?, ?, ?, ?)", rows)
        t0 = time.perf_counter()
        for dim in ("governorate", "language"):
            db.execute(f"SELECT question, answer, {dim}, count(*) FROM answer_rows GROUP BY 1, 2, 3").fetchall()  # noqa: S608
        grouped = time.perf_counter() - t0
        assert built["respondents"] == respondents
    return {"respondents": respondents, "answers": 3 * respondents, "results_s": counters,
            "group_by_rows_s": grouped, "recording_s": fill}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=1000, help="USSD sessions open at once")
    parser.add_argument("--connections", type=int, default=8, help="the aggregator's keep-alive connections")
    parser.add_argument("--threads", type=int, default=schema()["gateway"]["threads"].default,
                        help="waitress threads for both servers (default: the gateway's default)")
    parser.add_argument("--results", type=int, default=100_000, help="respondents for the results timing")
    args = parser.parse_args()
    measured = measure(args.respondents, args.connections, args.threads)
    bare, dalil = measured["bare"], measured["dalil"]
    ratio = dalil["hops_per_s"] / bare["hops_per_s"]
    print(line("bare Flask endpoint", bare))
    print(line("Dalil poll sessions", dalil, f"{dalil['answers_per_s']:.0f} answers/s   ({dalil['respondents']} "
                                             f"respondents at once, {dalil['rounds']} rounds, {dalil['hops']} hops, "
                                             f"{args.connections} connections, {args.threads} server threads)"))
    print(targets(ratio, dalil))
    timing = results_time(args.results)
    print(f"results             : {timing['results_s'] * 1000:.1f} ms for {timing['respondents']:,} respondents "
          f"({timing['answers']:,} answers), tables, suppression and CSV (target < 1 s); the same counts by "
          f"GROUP BY over answer rows: {timing['group_by_rows_s'] * 1000:.0f} ms "
          f"(ratio {timing['results_s'] / timing['group_by_rows_s']:.3f})")
    print(json.dumps({"dalil": dalil, "bare": bare, "ratio": round(ratio, 3), "results": timing}))


if __name__ == "__main__":
    main()
