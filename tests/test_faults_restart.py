"""Faults: `dalil serve` stopped or killed in the middle of a campaign and of a USSD session, and a stop that
comes while the campaign scheduler is busy.

The server runs as operators run it (`dalil --config FILE serve`, a separate process) with its dispatcher
sending to a fake Twilio on loopback. What must hold: a queued campaign survives the restart and finishes; no
subscriber is lost; a clean stop (SIGTERM, what systemd and docker send) repeats nothing; a SIGKILL repeats at
most the message each worker had on the wire; the caller whose session the restart forgot gets a clean start
screen, never a 500.
"""
from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections import Counter

import pytest

from fakes import FakeTwilio
from gateway import initialize
from gateway.config import load
from gateway.store import close_thread_connections, transaction
from messages import campaigns
from test_fuzz_support import ServerProcess, assert_clean_log, assert_consistent, free_port, write_config

SUBSCRIBERS = 3000
WORKERS = 2


def config_text(fake: FakeTwilio | None, lease: float = 6.0) -> str:
    twilio = f"""
[channels.twilio]
enabled = true
account_sid = "{fake.account_sid}"
auth_token = "{fake.auth_token}"
from_number = "{fake.from_number}"
base_url = "{fake.url}"
timeout_seconds = 2.0
""" if fake else ""
    return f"""
[gateway]
database = "dalil.db"
keys_dir = "keys"
log_file = "dalil.log"
log_level = "INFO"
{twilio}
[channels.africastalking]
enabled = {"false" if fake else "true"}
webhook_token = "at-token-restart"

[dispatcher]
enabled = {"true" if fake else "false"}
workers = {WORKERS}
batch = 50
poll_seconds = 0.05
lease_seconds = {lease}
backoff_base_seconds = 0.05
backoff_max_seconds = 0.2

[campaigns]
quiet_hours = ["00:00", "00:00"]  # this test runs at any hour
"""


def queue_campaign(config_path, n: int = SUBSCRIBERS) -> int:
    """n subscribers (inserted the fast way: this is setup) and a campaign to all of them, queued."""
    ctx = initialize(load(str(config_path)))
    db = ctx.db()
    now = time.time()
    with transaction(db):
        db.conn.executemany(
            "INSERT INTO subscribers (phone, language, interests, status, created_at, updated_at, opted_in_at) "
            "VALUES (?, 'fr', 'jobs', 'active', ?, ?, ?)", [(f"+2162{i:07d}", now, now, now) for i in range(n)])
        db.conn.executemany("INSERT INTO consent_log (subscriber_id, at, action, channel, via) "
                            "SELECT id, ?, 'opt_in', 'import', 'test' FROM subscribers WHERE id = ?",
                            [(now, i + 1) for i in range(n)])
    cid = campaigns.create(ctx, db, name="Job fair", texts={"fr": "Salon de l'emploi samedi a Kairouan"},
                           fallback_language="fr")
    assert campaigns.send(ctx, db, campaigns.load(db, cid))["queued"] == n
    close_thread_connections()
    return cid


def states(db_path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


@pytest.mark.slow  # servers killed mid-campaign
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_restart_in_the_middle_of_a_campaign_loses_nothing(tmp_path, fake, how):
    config = write_config(tmp_path, config_text(fake))
    cid = queue_campaign(config)
    db_path = tmp_path / "dalil.db"
    port = free_port()
    first = ServerProcess(config, port).start()
    try:
        wait_for(lambda: len(fake.messages) >= SUBSCRIBERS // 4, 30, "the campaign to be under way")
        code = first.stop(getattr(signal, how))
    finally:
        first.kill()
    at_stop = states(db_path)
    received_at_stop = len(fake.messages)
    assert 0 < received_at_stop < SUBSCRIBERS, "stopped too late to be in the middle"
    if how == "SIGTERM":
        # a clean stop: the server exits by itself and gives back what it had claimed
        assert code == 0, first.text()
        assert at_stop.get("sending", 0) == 0, at_stop
    second = ServerProcess(config, port).start()
    try:
        wait_for(lambda: states(db_path).get("queued", 0) + states(db_path).get("sending", 0) == 0, 60,
                 "the campaign to finish after the restart")
    finally:
        assert second.stop() == 0, second.text()
    received = Counter(m["to"] for m in fake.messages)
    expected = {f"+2162{i:07d}" for i in range(SUBSCRIBERS)}
    assert set(received) == expected, f"{len(expected - set(received))} subscriber(s) never got the message"
    repeats = sum(n - 1 for n in received.values())
    if how == "SIGTERM":
        assert repeats == 0, f"{repeats} message(s) sent twice across a clean restart"
    else:  # at-least-once: at most the message each worker had on the wire when it was killed
        assert repeats <= WORKERS, repeats
    ctx = initialize(load(str(config)))
    result = campaigns.results(ctx.db(), cid)
    assert (result["sent"], result["queued"], result["sending"], result["failed"]) == (SUBSCRIBERS, 0, 0, 0)
    assert_consistent(ctx.db())
    close_thread_connections()
    assert_clean_log(tmp_path / "dalil.log")


@pytest.mark.slow  # a server killed and started again
def test_a_restart_in_the_middle_of_a_ussd_session_gives_a_clean_start_screen(tmp_path):
    config = write_config(tmp_path, config_text(None))
    port = free_port()
    hook = "/hooks/africastalking/at-token-restart/ussd"
    caller = {"phoneNumber": "+21620123456", "serviceCode": "*216#"}
    with ServerProcess(config, port) as server:
        first = server.post(hook, data={**caller, "sessionId": "S-1", "text": ""})
        assert first.status_code == 200 and first.text.startswith("CON ")
        second = server.post(hook, data={**caller, "sessionId": "S-1", "text": "2"})  # Français
        assert second.status_code == 200 and second.text.startswith("CON ") and second.text != first.text
        assert server.stop() == 0, server.text()
    with ServerProcess(config, port) as server:
        # the next hop of the same session, as the aggregator sends it: every input so far
        resumed = server.post(hook, data={**caller, "sessionId": "S-1", "text": "2*1"})
        fresh = server.post(hook, data={**caller, "sessionId": "S-2", "text": ""})
        assert resumed.status_code == 200, resumed.text
        assert resumed.text == fresh.text and resumed.text.startswith("CON ")
        # and the session goes on from there: the caller's next key is read against the screen shown
        onward = server.post(hook, data={**caller, "sessionId": "S-1", "text": "2*1*1"})
        same = server.post(hook, data={**caller, "sessionId": "S-2", "text": "1"})
        assert onward.status_code == 200 and onward.text == same.text
        # the end-of-session notice for a session the restart forgot is fine too
        end = server.post("/hooks/africastalking/at-token-restart/ussd-end", data={"sessionId": "S-1"})
        assert end.status_code == 200
    assert_clean_log(tmp_path / "dalil.log")


def test_stopping_while_the_campaign_scheduler_is_busy_does_not_hang(make_config, monkeypatch):
    """APScheduler's shutdown waits for a running job while holding the lock that job needs to list its jobs:
    `dalil serve` hung for ever on Ctrl-C or SIGTERM if the periodic sync was running."""
    from messages.scheduler import CampaignScheduler
    ctx = initialize(load(make_config()))
    scheduler = CampaignScheduler(ctx)
    in_sync, release = threading.Event(), threading.Event()
    real_db = ctx.db

    class SlowContext:
        """The sync job's view of the gateway: its first database call waits until the stop has begun."""
        config = ctx.config

        def db(self):
            in_sync.set()
            release.wait(10)
            return real_db()

    scheduler.ctx = SlowContext()
    scheduler.start()
    assert in_sync.wait(10), "the sync job did not start"
    stopper = threading.Thread(target=scheduler.stop, daemon=True)
    stopper.start()
    time.sleep(0.3)  # the stop is under way while the job still runs
    release.set()
    stopper.join(15)
    assert not stopper.is_alive(), "CampaignScheduler.stop() deadlocked with its own sync job"
    close_thread_connections()
