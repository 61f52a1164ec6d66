"""Soak: USSD sessions, inbound SMS and a campaign at once, against the real server, for a bounded time.

    python3 bench/soak.py [--duration 120] [--sessions 200] [--sms-per-second 20] [--campaign 20000]

The gateway runs as operators run it: `dalil --config FILE serve` in its own process (waitress, the dispatcher
and the campaign scheduler inside), with the sample directory. Its dispatcher sends through Twilio to a fake
Twilio on loopback (tests/fakes.py, in a process of its own, recording every message it accepts). While
``--sessions`` callers walk USSD menus without pause (each on its own kept-alive connection, as an aggregator
holds them) and Africa's Talking posts inbound SMS (one in ten a re-send of an earlier one, as AT retries), a
campaign to ``--campaign`` subscribers is queued and sent. After ``--duration`` seconds the load stops and the
outbox gets up to ``--drain`` seconds to empty.

Printed: USSD hops/s, median and p99 latency; inbound SMS handled; messages the provider accepted; messages lost
(campaign subscribers who never got the blast, replies that never reached the provider, rows left unsent:
must be 0); duplicates; errors (non-200 answers, broken screens, timeouts, ERROR lines in the server's log);
and the server's peak memory (VmHWM in /proc/<pid>/status). Exit status 1 if anything was lost or failed.
Everything runs on 127.0.0.1; tests/test_soak_short.py runs a short form of it.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TOKEN = "soak-token"
CAMPAIGN_TEXT = "Salon de l'emploi samedi 9h a Kairouan: inscrivez-vous au bureau de l'emploi."
FIRST_CONTACT = ["3", "3"]  # English, then a governorate
BROWSE = ["1", "1", "1", "98", "0", "0"]  # main menu, jobs, a list, a detail, its next page, back twice
SMS_TEXTS = ["MENU", "1", "2", "HELP", "INFO", "AIDE", "0", "قائمة"]


# -- the fake provider, in its own process --------------------------------------------------------------------

def run_fake(ready, record_path: str) -> None:
    """FakeTwilio writing each accepted message as a JSON line (to, body), for the count at the end."""
    import fakes
    fake = fakes.FakeTwilio()
    lock = threading.Lock()
    out = open(record_path, "a", encoding="utf-8", buffering=1)
    record = fake._record

    def logged(message):
        record(message)
        with lock:
            out.write(json.dumps([message["to"], message["body"]], ensure_ascii=False) + "\n")
    fake._record = logged
    fake.start()
    ready.put((fake.port, fake.account_sid, fake.auth_token, fake.from_number))
    threading.Event().wait()


# -- setup ---------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, fake: tuple, workers: int) -> Path:
    port, sid, token, sender = fake
    path = folder / "dalil.toml"
    path.write_text(f"""
[gateway]
database = "soak.db"
keys_dir = "keys"
log_file = "soak.log"
log_level = "WARNING"

[channels.africastalking]
enabled = false
webhook_token = "{TOKEN}"

[channels.twilio]
enabled = true
account_sid = "{sid}"
auth_token = "{token}"
from_number = "{sender}"
base_url = "http://127.0.0.1:{port}"
timeout_seconds = 5.0
status_callback = false

[dispatcher]
workers = {workers}
batch = 50
poll_seconds = 0.05

[campaigns]
quiet_hours = ["00:00", "00:00"]  # the soak runs at any hour
""", encoding="utf-8")
    return path


def subscriber_number(i: int) -> str:
    return f"+2162{i:07d}"


def prepare(config: Path, subscribers: int) -> None:
    """The sample directory and the subscribers (inserted the fast way: this is setup, not measured)."""
    from flows import directory
    from gateway import initialize
    from gateway.config import load
    from gateway.store import close_thread_connections, transaction
    ctx = initialize(load(str(config)))
    db = ctx.db()
    directory.load_demo(db)
    now = time.time()
    with transaction(db):
        db.conn.executemany(
            "INSERT INTO subscribers (phone, language, governorate, interests, status, created_at, updated_at, "
            "opted_in_at) VALUES (?, 'fr', 'kairouan', 'jobs', 'active', ?, ?, ?)",
            ((subscriber_number(i), now, now, now) for i in range(subscribers)))
        db.execute("INSERT INTO consent_log (subscriber_id, at, action, channel, via) "
                   "SELECT id, ?, 'opt_in', 'import', 'soak' FROM subscribers", [now])
    close_thread_connections()


def queue_campaign(config: Path) -> tuple[int, int, float]:
    """Queue the campaign while the server is under load, as `dalil campaign send` would from another process."""
    from gateway import initialize
    from gateway.config import load
    from gateway.store import close_thread_connections
    from messages import campaigns
    ctx = initialize(load(str(config)))
    db = ctx.db()
    started = time.perf_counter()
    cid = campaigns.create(ctx, db, name="Soak job fair", texts={"fr": CAMPAIGN_TEXT}, fallback_language="fr",
                           audience={"governorates": ["kairouan"]})
    queued = campaigns.send(ctx, db, campaigns.load(db, cid))["queued"]
    elapsed = time.perf_counter() - started
    close_thread_connections()
    return cid, queued, elapsed


def start_server(config: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "gateway.cli", "--config", str(config), "init"], cwd=str(ROOT), env=env,
                   check=True, capture_output=True, timeout=60)  # `serve` never creates a database
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "--config", str(config), "serve", "--port",
                             str(port)], cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


# -- load ----------------------------------------------------------------------------------------------------

class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: Counter = Counter()
        self.sms = 0

    def hop(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] += 1


def post(conn_box: list, port: int, path: str, fields: dict) -> tuple[int, bytes]:
    body = urllib.parse.urlencode(fields)
    for attempt in (1, 2):
        conn = conn_box[0]
        try:
            conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            return response.status, response.read()
        except (ConnectionError, http.client.HTTPException) as e:  # a dropped keep-alive: reconnect once
            conn.close()
            conn_box[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            if attempt == 2:
                raise e
    raise AssertionError("unreachable")


def ussd_caller(worker: int, port: int, stop: threading.Event, tally: Tally) -> None:
    """One caller after another on this line: the first session is a first contact, later ones return."""
    box = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)]
    phone = f"+2165{worker:07d}"
    session_no = 0
    while not stop.is_set():
        keys = (FIRST_CONTACT if session_no == 0 else []) + BROWSE
        session = f"soak-{worker}-{session_no}"
        typed: list[str] = []
        for key in [None, *keys]:
            if stop.is_set():
                break
            if key is not None:
                typed.append(key)
            started = time.perf_counter()
            try:
                status, text = post(box, port, f"/hooks/africastalking/{TOKEN}/ussd",
                                    {"sessionId": session, "phoneNumber": phone, "serviceCode": "*216#",
                                     "text": "*".join(typed)})
            except (OSError, http.client.HTTPException):
                tally.error("ussd: connection or timeout")
                continue
            tally.hop(time.perf_counter() - started)
            if status != 200:
                tally.error(f"ussd: HTTP {status}")
            elif not text.startswith((b"CON ", b"END ")):
                tally.error("ussd: screen without CON/END")
        try:
            post(box, port, f"/hooks/africastalking/{TOKEN}/ussd-end", {"sessionId": session, "status": "Success"})
        except (OSError, http.client.HTTPException):
            tally.error("ussd-end: connection or timeout")
        session_no += 1
    box[0].close()


def sms_sender(index: int, port: int, per_second: float, stop: threading.Event, tally: Tally,
               rng: random.Random) -> None:
    """One of several senders (a post waits for its answer, so one alone cannot keep the rate under load)."""
    box = [http.client.HTTPConnection("127.0.0.1", port, timeout=30)]
    sent: list[dict] = []
    next_at = time.perf_counter()
    while not stop.is_set():
        if sent and rng.random() < 0.1:
            fields = rng.choice(sent)  # Africa's Talking posting it again
        else:
            n = len(sent)
            fields = {"from": f"+2169{index:03d}{n % 5000:04d}", "to": "20880", "text": rng.choice(SMS_TEXTS),
                      "id": f"soak-sms-{index}-{n}", "date": time.strftime("%Y-%m-%d %H:%M:%S")}
            sent.append(fields)
        try:
            status, _ = post(box, port, f"/hooks/africastalking/{TOKEN}/sms", fields)
            if status != 200:
                tally.error(f"sms: HTTP {status}")
            else:
                with tally.lock:
                    tally.sms += 1
        except (OSError, http.client.HTTPException):
            tally.error("sms: connection or timeout")
        next_at += 1.0 / per_second
        stop.wait(max(0.0, next_at - time.perf_counter()))
    box[0].close()


# -- the run ---------------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def peak_memory_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def run(duration: float = 120.0, sessions: int = 200, sms_per_second: float = 20.0, campaign: int = 20_000,
        drain: float = 120.0, workers: int = 2, seed: int | None = None, quiet: bool = False) -> dict:
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="dalil-soak-") as tmp:
        folder = Path(tmp)
        records = folder / "provider.jsonl"
        records.touch()
        ready = multiprocessing.Queue()
        fake = multiprocessing.Process(target=run_fake, args=(ready, str(records)), daemon=True)
        fake.start()
        try:
            config = write_config(folder, ready.get(timeout=20), workers)
            prepare(config, campaign)
            port = free_port()
            server = start_server(config, port)
            result: dict = {"errors": {}}
            try:
                say(f"server pid {server.pid} on 127.0.0.1:{port}; {sessions} USSD callers, {sms_per_second:g} "
                    f"SMS/s, a campaign to {campaign:,} subscribers, {duration:g} s")
                result = _load(config, port, server, duration, sessions, sms_per_second, drain, rng, say)
            finally:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    result["errors"]["server did not stop on SIGTERM"] = 1
            result.update(_count(folder, records, campaign, result))
        finally:
            fake.terminate()
            fake.join(5)
    return result


def _load(config, port, server, duration, sessions, sms_per_second, drain, rng, say) -> dict:
    stop, tally = threading.Event(), Tally()
    threads = [threading.Thread(target=ussd_caller, args=(w, port, stop, tally), daemon=True) for w in range(sessions)]
    senders = max(1, int(sms_per_second // 2))
    threads += [threading.Thread(target=sms_sender, args=(i, port, sms_per_second / senders, stop, tally,
                                                          random.Random(rng.random())), daemon=True)
                for i in range(senders)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(min(2.0, duration / 4))  # the callers are on the line when the campaign is queued
    cid, queued, queue_seconds = queue_campaign(config)
    say(f"campaign {cid}: {queued:,} messages queued in {queue_seconds:.2f} s while under load")
    time.sleep(max(0.0, duration - (time.perf_counter() - started)))
    stop.set()
    for t in threads:
        t.join(40)
    load_seconds = time.perf_counter() - started
    peak_during_load = peak_memory_kb(server.pid)
    db = config.parent / "soak.db"
    drain_started = time.perf_counter()
    while time.perf_counter() - drain_started < drain:
        with sqlite3.connect(db) as conn:
            waiting = conn.execute("SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')").fetchone()[0]
        if not waiting:
            break
        time.sleep(0.25)
    hops = len(tally.latencies)
    return {"duration_s": round(load_seconds, 1), "sessions": sessions, "hops": hops,
            "hops_per_s": round(hops / load_seconds, 1), "p50_ms": round(percentile(tally.latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(tally.latencies, 0.99) * 1000, 1), "sms_posted": tally.sms,
            "campaign_id": cid, "campaign_queued": queued, "campaign_queue_s": round(queue_seconds, 2),
            "drain_s": round(time.perf_counter() - drain_started, 1),
            "server_peak_memory_mb": round((peak_memory_kb(server.pid) or peak_during_load or 0) / 1024, 1),
            "errors": dict(tally.errors)}


def _count(folder: Path, records: Path, campaign: int, result: dict) -> dict:
    received = [tuple(json.loads(line)) for line in records.read_text(encoding="utf-8").splitlines() if line]
    with sqlite3.connect(folder / "soak.db") as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        replies = conn.execute("SELECT count(*) FROM outbox WHERE kind != 'blast'").fetchone()[0]
        inbound = conn.execute("SELECT count(*) FROM inbound_seen").fetchone()[0]
    blasts = Counter(to for to, body in received if body == CAMPAIGN_TEXT)
    reply_count = sum(1 for to, body in received if body != CAMPAIGN_TEXT)
    missing_blasts = sum(1 for i in range(campaign) if subscriber_number(i) not in blasts)
    unsent = sum(n for state, n in states.items() if state not in ("sent", "delivered"))
    lost = missing_blasts + max(0, replies - reply_count) + unsent
    log = (folder / "soak.log").read_text(encoding="utf-8", errors="replace") if (folder / "soak.log").exists() else ""
    errors = dict(result.get("errors", {}))
    log_errors = sum(1 for line in log.splitlines() if " ERROR " in line or "Traceback" in line)
    if log_errors:
        errors["server log: ERROR lines"] = log_errors
    return {"inbound_sms_handled": inbound, "replies_queued": replies, "messages_delivered": len(received),
            "campaign_received": sum(blasts.values()), "duplicates": sum(n - 1 for n in blasts.values()) +
            max(0, reply_count - replies), "lost": lost, "outbox": states, "errors": errors,
            "error_count": sum(errors.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (default 120)")
    parser.add_argument("--sessions", type=int, default=200, help="concurrent USSD callers (default 200)")
    parser.add_argument("--sms-per-second", type=float, default=20.0, help="inbound SMS rate (default 20)")
    parser.add_argument("--campaign", type=int, default=20_000, help="subscribers the campaign goes to")
    parser.add_argument("--drain", type=float, default=120.0, help="seconds the outbox gets to empty afterwards")
    parser.add_argument("--workers", type=int, default=2, help="[dispatcher] workers in the server")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    r = run(args.duration, args.sessions, args.sms_per_second, args.campaign, args.drain, args.workers, args.seed)
    print(f"USSD             {r['hops']:,} hops from {r['sessions']} concurrent callers in {r['duration_s']} s: "
          f"{r['hops_per_s']:,.0f} hops/s, median {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
    print(f"inbound SMS      {r['sms_posted']:,} posts (1 in 10 a re-send), {r['inbound_sms_handled']:,} handled, "
          f"{r['replies_queued']:,} replies queued")
    print(f"campaign         {r['campaign_queued']:,} queued in {r['campaign_queue_s']} s under load")
    print(f"provider         {r['messages_delivered']:,} messages accepted; outbox drained "
          f"{r['drain_s']} s after the load: {r['outbox']}")
    print(f"lost             {r['lost']}   (must be 0)")
    print(f"duplicates       {r['duplicates']}")
    print(f"errors           {r['error_count']}   {r['errors'] or ''}")
    print(f"server memory    {r['server_peak_memory_mb']} MB peak resident (VmHWM)")
    print(json.dumps(r))
    return 0 if r["lost"] == 0 and r["error_count"] == 0 and r["duplicates"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
