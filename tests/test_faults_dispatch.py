"""Faults on the sending side: a provider that hangs past its timeout, the clock jumping forward or back while
messages are queued, and two dispatcher processes on one database file.

What must hold: every queued message reaches the provider; nothing is sent twice except, where the at-least-once
design allows it (docs/channels.md), the one message a worker had on the wire at the fault; the dispatcher keeps
sending the others while one request hangs; and a clock step does not park the queue for the size of the step.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from fakes import FakeTwilio
from gateway import initialize, outbox
from gateway.config import load
from gateway.dispatcher import DispatcherPool
from gateway.store import close_thread_connections, transaction
from test_fuzz_support import ROOT, assert_clean_log, assert_consistent

TN = "+21620123456"
FAST = {"poll_seconds": 0.01, "backoff_base_seconds": 0.05, "backoff_max_seconds": 0.3, "circuit_failures": 3,
        "circuit_open_seconds": 0.5, "lease_seconds": 4.0, "workers": 2, "batch": 20}


@pytest.fixture
def twilio():
    with FakeTwilio(hang_seconds=3.0) as fake:
        yield fake


@pytest.fixture
def make_ctx(make_config):
    def make(fake, timeout=0.5, **dispatcher):
        channels = {"twilio": fake.channel_config(timeout_seconds=timeout), "africastalking": {"enabled": False}}
        return initialize(load(make_config(channels=channels, dispatcher={**FAST, **dispatcher})))
    yield make
    close_thread_connections()


def queue(db, n: int, prefix: str = "m") -> list[int]:
    with transaction(db):
        return [outbox.enqueue(db, TN, f"{prefix} {i:04d}", kind="notice") for i in range(n)]


def run_until_sent(ctx, n: int, timeout: float, during=None) -> float:
    """Run the dispatcher pool until n messages are sent (or the timeout); ``during(pool)`` runs meanwhile."""
    pool = DispatcherPool(ctx).start()
    started = time.monotonic()
    try:
        if during:
            during(pool)
        db = ctx.db()
        while time.monotonic() - started < timeout:
            if outbox.counts_by_state(db).get("sent", 0) >= n:
                break
            time.sleep(0.02)
    finally:
        pool.stop()
        pool.join(10)
    return time.monotonic() - started


# -- a hanging provider ---------------------------------------------------------------------------------------

def test_a_provider_hanging_past_the_timeout_holds_up_one_message_not_the_queue(make_ctx, twilio):
    ctx = make_ctx(twilio, timeout=0.5)
    db = ctx.db()
    twilio.fail_next("hang", seconds=3.0)  # the first request gets no answer for 3 s; our timeout is 0.5 s
    queue(db, 300)
    progress = {}

    def watch(pool):
        time.sleep(0.45)  # while the first request still hangs
        progress["during_hang"] = len(twilio.messages)

    elapsed = run_until_sent(ctx, 300, timeout=20, during=watch)
    assert progress["during_hang"] >= 20, "the other worker stopped sending while one request hung"
    assert outbox.counts_by_state(db) == {"sent": 300}, f"not all sent after {elapsed:.1f}s"
    received = Counter(twilio.bodies())
    assert set(received) == {f"m {i:04d}" for i in range(300)} and max(received.values()) == 1
    retried = db.execute("SELECT attempts, error FROM outbox WHERE attempts > 1").fetchall()
    assert retried == [(2, None)], "the timed-out message was retried once and then went"
    assert_consistent(db)


def test_a_provider_that_keeps_hanging_opens_the_circuit_and_nothing_is_lost(make_ctx, twilio):
    ctx = make_ctx(twilio, timeout=0.3, circuit_failures=2, circuit_open_seconds=0.5)
    db = ctx.db()
    twilio.fail_always("hang", seconds=1.0)
    queue(db, 40)
    pool = DispatcherPool(ctx).start()
    try:
        time.sleep(2.0)  # hangs, timeouts, the circuit opens and closes again
        hung = len(twilio.messages)
        states = outbox.counts_by_state(db)
        twilio.clear()
        deadline = time.monotonic() + 20
        while outbox.counts_by_state(db).get("sent", 0) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        pool.stop()
        pool.join(10)
    assert hung == 0 and set(states) <= {"queued", "sending"}, states  # waiting, none failed or expired
    assert outbox.counts_by_state(db) == {"sent": 40}
    assert sorted(twilio.bodies()) == [f"m {i:04d}" for i in range(40)]
    assert_clean_log(ctx.config["gateway"]["log_file"])


# -- the clock jumping ----------------------------------------------------------------------------------------

class SteppedClock:
    """time.time() plus an offset the test changes, as NTP or an operator stepping the clock does."""

    def __init__(self, real):
        self.real, self.offset = real, 0.0

    def __call__(self):
        return self.real() + self.offset


@pytest.mark.parametrize("steps, failures", [([+7200.0], 3), ([-7200.0], 3), ([-7200.0], 0),
                                             ([+3600.0, -7200.0, +3600.0], 3)],
                         ids=["forward-2h", "back-2h", "back-2h-rate-limited", "forward-back-forward"])
def test_the_clock_jumping_while_messages_are_queued_loses_and_parks_nothing(make_ctx, twilio, monkeypatch, steps,
                                                                            failures):
    """A rate limit (its bucket empty), retries in backoff and an open circuit are in play when the clock steps;
    the queue must drain in seconds, not wait out the step."""
    clock = SteppedClock(time.time)
    monkeypatch.setattr(time, "time", clock)
    ctx = make_ctx(twilio, timeout=0.5, rate_segments_per_second={"twilio": 80}, circuit_failures=2,
                   circuit_open_seconds=1.0)
    db = ctx.db()
    n = 240
    queue(db, n)

    def jumps(pool):
        for step in steps:
            deadline = time.monotonic() + 5
            while len(twilio.messages) < n // (len(steps) + 2) * (steps.index(step) + 1) and \
                    time.monotonic() < deadline:
                time.sleep(0.01)
            if failures:  # retries in backoff and an open circuit at the moment of the step
                twilio.fail_next("error", times=failures)
                time.sleep(0.05)
            clock.offset += step

    elapsed = run_until_sent(ctx, n, timeout=25, during=jumps)
    states = outbox.counts_by_state(db)
    assert states == {"sent": n}, f"after {elapsed:.1f}s and clock steps {steps}: {states}"
    received = Counter(twilio.bodies())
    assert set(received) == {f"m {i:04d}" for i in range(n)}
    repeats = sum(c - 1 for c in received.values())
    # a forward step past the lease can make a worker's in-flight message look abandoned: at most one per worker
    assert repeats <= sum(1 for s in steps if s > 0) * FAST["workers"], repeats
    assert_consistent(db)


def test_an_empty_rate_bucket_refills_after_the_clock_is_set_back(make_ctx, twilio, monkeypatch):
    """The shared token bucket (rate_buckets) is stamped with the wall clock: set back an hour, an empty bucket
    refilled only once the clock had caught up, and the channel sent nothing for that hour."""
    from gateway.dispatcher import SharedBucket
    clock = SteppedClock(time.time)
    monkeypatch.setattr(time, "time", clock)
    ctx = make_ctx(twilio)
    bucket = SharedBucket(ctx, "twilio", 20.0)
    assert bucket.try_take(20) == 0.0  # empty now
    clock.offset -= 3600
    stop = threading.Event()
    started = time.monotonic()
    assert bucket.take(1, stop, deadline=time.time() + 5), "no token within 5 s of a clock set back"
    assert time.monotonic() - started < 1.0


# -- two dispatchers on one file ------------------------------------------------------------------------------

def test_two_dispatcher_processes_on_one_database_never_send_a_message_twice(tmp_path, twilio):
    config = tmp_path / "dalil.toml"
    config.write_text(f"""
[gateway]
database = "dalil.db"
keys_dir = "keys"
log_file = "dalil.log"
log_level = "WARNING"

[channels.twilio]
enabled = true
account_sid = "{twilio.account_sid}"
auth_token = "{twilio.auth_token}"
from_number = "{twilio.from_number}"
base_url = "{twilio.url}"
timeout_seconds = 2.0

[channels.africastalking]
enabled = false

[dispatcher]
workers = 2
batch = 10
poll_seconds = 0.02
rate_segments_per_second = {{twilio = 400}}
""")
    ctx = initialize(load(str(config)))
    n = 2000
    queue(ctx.db(), n)
    close_thread_connections()
    command = [sys.executable, "-m", "gateway.cli", "--config", str(config), "dispatch", "--until-empty"]
    procs = [subprocess.Popen(command, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(2)]
    outputs = [p.communicate(timeout=90)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    with sqlite3.connect(tmp_path / "dalil.db") as conn:
        owners = conn.execute("SELECT count(DISTINCT provider_id) FROM outbox").fetchone()
        states = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
    received = Counter(twilio.bodies())
    assert states == {"sent": n} and owners == (n,)
    assert len(received) == n and max(received.values()) == 1, "a message went out twice"
    assert_consistent(tmp_path / "dalil.db")
    assert_clean_log(tmp_path / "dalil.log")
    assert all("Traceback" not in o for o in outputs), outputs
