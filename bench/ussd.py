"""USSD hops through the real server, against a bare Flask endpoint under the same server, in the same run.

    python3 bench/ussd.py [--hops 2000] [--concurrency 8] [--valkey] [--processes N] [--database postgresql]

Each server runs in its own process (waitress, as `dalil serve` runs it) with a fresh SQLite file and the demo
directory; the client walks whole sessions (language, area, menu, list, detail, back) with keep-alive
connections, as an aggregator does. Both servers run at once and are measured in alternating rounds, so that a
change in the machine's load during the run weighs on both. Prints hops/s and p99 latency for both, and their
ratios.
Targets (issues 2 and 12): p99 under 25 ms, and at least 0.6 of the bare endpoint's throughput.

``--valkey`` runs Dalil with ``[sessions] url`` on a throwaway redis-server (tests/valkey_server.py: loopback, a
temp folder, nothing on disk); ``--processes N`` runs N Dalil servers on one SQLite file sharing that Valkey, each
session's hops going round them in turn (docs/operations.md, "Shared sessions in Valkey"), and adds the ratio
per process. ``--database postgresql`` puts Dalil's database on a throwaway PostgreSQL server (tests/pgserver.py:
loopback, a temp folder, fsync on) instead of a SQLite file; issue 16 compares 1, 2 and 4 processes on PostgreSQL
and Valkey with one process on SQLite.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import ExitStack
from pathlib import Path

from gateway.config import schema

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests"))  # tests/valkey_server.py

SERVE = r"""
import json, logging, sys, waitress
logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth is 1" on every burst: expected here
kind, port, folder, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
sessions = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}  # [sessions]: url and key of a Valkey
if kind == "bare":
    from flask import Flask, Response
    app = Flask("bare")
    @app.post("/hooks/africastalking/tok/ussd")
    def ussd():
        return Response("CON Dalil\n1. Jobs and training\n2. Start a business", mimetype="text/plain")
else:
    from gateway import create_app
    from flows import directory
    import os
    database = os.environ.get("BENCH_DATABASE") or folder + "/bench.db"
    app = create_app({"gateway": {"database": database, "keys_dir": folder + "/keys",
                                  "log_level": "WARNING"},
                      "channels": {"africastalking": {"webhook_token": "tok"}}, "dispatcher": {"enabled": False},
                      **({"sessions": sessions} if sessions else {})})
    if not directory.count_services(app.extensions["dalil"].db()):  # the first of several processes loads it
        directory.load_demo(app.extensions["dalil"].db())
waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)
"""

# One session: first contact (language, area), main menu, jobs and training, a detail, its summary, back twice,
# another detail.
FIRST_CONTACT = ["3", "3"]
BROWSE = ["1", "1", "98", "0", "0", "2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, folder: str, threads: int, sessions: dict | None = None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    os.makedirs(folder, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", SERVE, kind, str(port), folder, str(threads),
                             *([json.dumps(sessions)] if sessions else [])], env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{kind} server did not start")


def hop(conn: http.client.HTTPConnection, session_id: str, phone: str, inputs: list[str]) -> tuple[int, bytes, float]:
    """One USSD request as Africa's Talking sends it (every input so far, joined by *): status, body, seconds."""
    body = urllib.parse.urlencode({"sessionId": session_id, "phoneNumber": phone, "serviceCode": "*216#",
                                   "text": "*".join(inputs)})
    t0 = time.perf_counter()
    conn.request("POST", "/hooks/africastalking/tok/ussd", body, {"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    text = response.read()
    return response.status, text, time.perf_counter() - t0


def run_client(port: int | list[int], hops: int, concurrency: int, first: int = 0) -> tuple[float, list[float]]:
    """Walk sessions numbered from `first` (each a new caller: a number the server has not heard) until `hops`;
    with several ports (servers sharing sessions), each session's hops go round them in turn."""
    ports = port if isinstance(port, list) else [port]
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [hops]
    session_ids = iter(range(first, 10**9))

    def take() -> bool:
        with lock:
            if remaining[0] <= 0:
                return False
            remaining[0] -= 1
            return True

    def worker():
        conns = [http.client.HTTPConnection("127.0.0.1", p, timeout=10) for p in ports]
        while True:
            with lock:
                n = next(session_ids)
            phone = f"+2162{n % 10_000_000:07d}"
            inputs: list[str] = []
            for i, key in enumerate([None] + FIRST_CONTACT + BROWSE):
                if key is not None:
                    inputs.append(key)
                if not take():
                    for conn in conns:
                        conn.close()
                    return
                status, text, elapsed = hop(conns[(n + i) % len(conns)], f"bench-{n}", phone, inputs)
                if status != 200 or not text.startswith((b"CON ", b"END ")):
                    raise SystemExit(f"bad answer {status}: {text[:200]!r}")
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def summary(wall: float, latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {"hops": len(ordered), "hops_per_s": len(ordered) / wall, "p99_ms": p99(ordered) * 1000,
            "median_ms": ordered[len(ordered) // 2] * 1000}


def interleaved(servers: dict, run_round, rounds: int) -> dict:
    """Both servers up at once, measured in alternating rounds (bare, dalil, bare, ...): a machine whose load
    changes during the run (other work, CPU frequency) weighs on both alike, not on whichever ran second.
    run_round(kind, port, round_no) -> (seconds, latencies)."""
    walls = {kind: 0.0 for kind in servers}
    latencies: dict[str, list[float]] = {kind: [] for kind in servers}
    for n in range(rounds):
        for kind, port in servers.items():
            wall, lat = run_round(kind, port, n)
            walls[kind] += wall
            latencies[kind] += lat
    return {kind: summary(walls[kind], latencies[kind]) for kind in servers}


def measure(hops: int, concurrency: int, threads: int, rounds: int = 5, valkey: bool = False,
            processes: int = 1, database: str = "sqlite") -> dict:
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        procs, servers, sessions = [], {}, None
        if database == "postgresql":
            from pgserver import PostgresServer
            os.environ["BENCH_DATABASE"] = stack.enter_context(PostgresServer(fsync=True)).new_database()
        if valkey or processes > 1:
            from valkey_server import ValkeyServer
            server = stack.enter_context(ValkeyServer(Path(folder)))
            sessions = {"url": server.url, "key": secrets.token_hex(32)}
        try:
            proc, servers["bare"] = start_server("bare", f"{folder}/bare", threads)
            procs.append(proc)
            servers["dalil"] = []
            for _ in range(processes):  # one after the other: the first creates the database
                proc, port = start_server("dalil", f"{folder}/dalil", threads, sessions)
                procs.append(proc)
                servers["dalil"].append(port)
            for kind in ("bare", "dalil"):
                run_client(servers[kind], min(200, hops), concurrency, 9_000_000)  # warm-up: imports, caches
            # every round new callers: a number heard in an earlier round would skip first contact
            return interleaved(servers, lambda kind, port, n: run_client(port, hops // rounds, concurrency,
                                                                           n * 1_000_000), rounds)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)


def line(label: str, result: dict, extra: str = "") -> str:
    return (f"{label:<20}: {result['hops_per_s']:8.0f} hops/s   p99 {result['p99_ms']:6.2f} ms   "
            f"median {result['median_ms']:5.2f} ms   {extra}").rstrip()


def targets(ratio: float, result: dict, floor: float = 0.5) -> str:
    return (f"throughput ratio    : {ratio:.2f} of the bare endpoint (target >= {floor})\n"
            f"p99 latency         : {result['p99_ms']:.2f} ms (target < 25 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hops", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8, help="sessions in flight at once")
    parser.add_argument("--threads", type=int, default=schema()["gateway"]["threads"].default,
                        help="waitress threads for both servers (default: the gateway's default)")
    parser.add_argument("--valkey", action="store_true",
                        help="Dalil with [sessions] url on a throwaway redis-server (sessions sealed in Valkey)")
    parser.add_argument("--processes", type=int, default=1,
                        help="Dalil servers sharing one database and one Valkey (implies --valkey)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="Dalil's database: a SQLite file, or a throwaway PostgreSQL server")
    args = parser.parse_args()
    measured = measure(args.hops, args.concurrency, args.threads, valkey=args.valkey, processes=args.processes,
                       database=args.database)
    bare, dalil = measured["bare"], measured["dalil"]
    ratio = dalil["hops_per_s"] / bare["hops_per_s"]
    shared = args.valkey or args.processes > 1
    print(line("bare Flask endpoint", bare))
    print(line("Dalil USSD flows", dalil, f"({dalil['hops']} hops, {args.concurrency} concurrent sessions, "
                                          f"{args.threads} server threads, {args.processes} process(es), "
                                          f"sessions {'in Valkey' if shared else 'in memory'}, {args.database})"))
    print(targets(ratio, dalil, floor=0.6))  # issue 12 raised the line's own floor
    if args.processes > 1:
        print(f"ratio per process   : {ratio / args.processes:.2f} ({args.processes} processes on one machine's cores)")
    print(json.dumps({"dalil": dalil, "bare": bare, "ratio": round(ratio, 3), "processes": args.processes,
                      "sessions": "valkey" if shared else "memory", "database": args.database}))


if __name__ == "__main__":
    main()
