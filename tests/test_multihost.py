"""Several gateway processes on one PostgreSQL, as on several hosts behind one aggregator URL (docs/operations.md).

Real programs: a throwaway PostgreSQL (tests/pgserver.py), `dalil dispatch` and `dalil serve` processes, the fake
Twilio on loopback. Whatever DALIL_TEST_DATABASE says, these run on PostgreSQL.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest
import requests

from fakes import FakeTwilio
from flows import directory
from gateway import initialize, outbox
from gateway.config import load
from harness import free_port
from messages import i18n
from programs import wait_for
from test_crash import write_config as crash_config
from test_fuzz_support import ServerProcess
from test_fuzz_support import write_config as write_config_text
from test_shared_sessions import LANGUAGE_CHOICE, WALK, shared_config_text, walk

pytestmark = pytest.mark.slow

NUMBER = "+21620123456"


@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def database(pg_database):
    return pg_database


def write_config(tmp_path, database: str, fake, **dispatcher) -> str:
    """The crash test's config (one fake Twilio, quick retries, short leases) on this database."""
    return crash_config(tmp_path, fake, database, "".join(f"{k} = {v!r}\n" for k, v in dispatcher.items()))


def dalil(config: str, *args: str, log=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "gateway.cli", "--config", config, *args],
                            stdout=log or subprocess.DEVNULL, stderr=log or subprocess.DEVNULL)


def queue(config: str, n: int, prefix: str = "m") -> None:
    ctx = initialize(load(config))
    db = ctx.db()
    for i in range(n):
        outbox.enqueue(db, NUMBER, f"{prefix} {i:05d}", kind="notice")


def states(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def leased_by(url: str, pid: int) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT body FROM outbox WHERE state = 'sending' AND lease_owner LIKE %s",
                                           [f"%:{pid}:%"])}


def test_ussd_hops_alternating_between_two_servers_on_postgresql_and_valkey_reach_the_same_screens(
        tmp_path, database, valkey):
    config = write_config_text(tmp_path, shared_config_text(valkey, database=database))
    ctx = initialize(load(str(config)))
    directory.load_demo(ctx.db())
    with ServerProcess(config, free_port()) as one, ServerProcess(config, free_port()) as other:
        for lang, choice in LANGUAGE_CHOICE.items():
            keys = [choice, *WALK]
            alone = walk([one.url], f"alone-{lang}", f"+2162040000{choice}", keys)
            shared = walk([one.url, other.url], f"shared-{lang}", f"+2162050000{choice}", keys)
            assert shared == alone, f"{lang}: the screens differ when hops alternate between two hosts"
            assert len(set(alone)) >= 8, alone
            assert alone[-1].startswith("CON " + i18n.t(lang, "help.need.title")), alone[-1]
        assert not [line for line in (one.text() + other.text()).splitlines() if "Traceback" in line]


def test_two_dispatchers_on_one_database_never_send_a_row_twice(tmp_path, database, fake):
    config = write_config(tmp_path, database, fake)
    queue(config, 1500)
    log = open(tmp_path / "dispatch.log", "ab")
    procs = [dalil(config, "dispatch", "--until-empty", log=log) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, (tmp_path / "dispatch.log").read_text()
    received = Counter(fake.bodies())
    assert set(received) == {f"m {i:05d}" for i in range(1500)}
    assert max(received.values()) == 1, [b for b, n in received.items() if n > 1][:5]
    assert states(database) == {"sent": 1500}


def test_sigkill_of_one_dispatcher_mid_campaign_loses_nothing_and_the_other_finishes(tmp_path, database, fake):
    config = write_config(tmp_path, database, fake)
    queue(config, 2000, prefix="c")
    log = open(tmp_path / "dispatch.log", "ab")
    victim, survivor = dalil(config, "dispatch", log=log), dalil(config, "dispatch", "--until-empty", log=log)
    wait_for(lambda: len(fake.messages) >= 300, timeout=60, what="both dispatchers sending")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    in_flight = leased_by(database, victim.pid)
    assert survivor.wait(timeout=120) == 0, (tmp_path / "dispatch.log").read_text()
    received = Counter(fake.bodies())
    assert set(received) == {f"c {i:05d}" for i in range(2000)}  # nothing lost: the lease brought them back
    repeated = {b for b, n in received.items() if n > 1}
    assert repeated <= in_flight, repeated - in_flight  # repeats only among what the killed one had in flight
    assert states(database) == {"sent": 2000}


def test_an_idle_dispatcher_is_woken_by_notify_not_by_its_poll(tmp_path, database, fake):
    config = write_config(tmp_path, database, fake, listen_seconds=30.0)  # on PostgreSQL, the idle wait
    db = initialize(load(config)).db()
    log = open(tmp_path / "dispatch.log", "ab")
    proc = dalil(config, "dispatch", log=log)
    try:
        time.sleep(3.0)  # started, found nothing, waiting
        outbox.enqueue(db, NUMBER, "wake", kind="notice")
        queued_at = time.monotonic()
        wait_for(lambda: fake.bodies(), timeout=10, what="the message sent")
        assert time.monotonic() - queued_at < 3.0  # far from the 30 s poll
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_dalil_init_creates_the_schema_on_an_empty_postgresql_database_once(tmp_path, pg_server, fake):
    url = pg_server.new_database()
    config = write_config(tmp_path, url, fake)
    for _ in range(2):  # a second init, as on a second host, finds everything in place
        out = subprocess.run([sys.executable, "-m", "gateway.cli", "--config", config, "init", "--demo"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert "database ready" in out.stdout
    with psycopg.connect(url) as conn:
        versions = dict(conn.execute("SELECT package, version FROM schema_versions").fetchall())
        services = conn.execute("SELECT count(*) FROM services").fetchone()[0]
    assert set(versions) == {"gateway", "flows", "messages", "referrals", "polls", "jobs"}
    assert services > 0


def test_a_wrong_database_url_stops_serve_with_the_url_without_its_password(tmp_path, fake):
    port = free_port()
    config = write_config(tmp_path, f"postgresql://dalil:s3cret-pw@127.0.0.1:{port}/dalil", fake)
    out = subprocess.run([sys.executable, "-m", "gateway.cli", "--config", config, "serve", "--port",
                          str(free_port())], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"postgresql://dalil:***@127.0.0.1:{port}/dalil" in out.stderr
    assert "refused" in out.stderr.lower()
    assert "s3cret-pw" not in out.stdout + out.stderr
    assert "[gateway] database" in out.stderr and "dalil.toml" in out.stderr


def test_postgresql_restarted_under_load_answers_503_then_serves_again_and_loses_nothing(tmp_path, pg_server,
                                                                                           database, fake):
    config = write_config(tmp_path, database, fake)
    text = open(config).read().replace("[channels.africastalking]\nenabled = false",
                                       '[channels.africastalking]\nenabled = true\nusername = "sandbox"\n'
                                       'api_key = "k"\nwebhook_token = "at-token-3f9a"\nbase_url = "http://127.0.0.1:9"')
    open(config, "w").write(text)
    port = free_port()
    log = open(tmp_path / "serve.log", "ab")
    serve = dalil(config, "serve", "--port", str(port), log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(base), timeout=60, what="dalil serve")
        acknowledged, refused = [], []
        try:
            for i in range(30):
                if i == 10:
                    pg_server.stop("fast")
                if i == 15:
                    pg_server.start()
                    pg_server.wait_ready()
                status, reason = _sms(base, i)
                (acknowledged if status == 200 else refused).append((i, status, reason))
                time.sleep(0.05)
        finally:
            pg_server.start()  # for the tests after this one, whatever happened
        assert all(status == 503 and "storage unavailable" in reason for _, status, reason in refused), refused
        assert {i for i, _, _ in refused} and {i for i, _, _ in refused} <= set(range(10, 20))
        wait_for(lambda: _sms(base, 99)[0] == 200, timeout=30, what="service back on its own")
        with psycopg.connect(database) as conn:
            seen = conn.execute("SELECT count(*) FROM inbound_seen").fetchone()[0]
        assert seen >= len(acknowledged) + 1  # every acknowledged SMS was recorded
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=20)


def _up(base: str) -> bool:
    try:
        return requests.get(base + "/healthz", timeout=2).status_code in (200, 401, 403, 503)
    except requests.ConnectionError:
        return False


def _sms(base: str, i: int) -> tuple[int, str]:
    try:
        r = requests.post(base + "/hooks/africastalking/at-token-3f9a/sms", timeout=10, data={
            "from": f"+2162000{i:04d}", "to": "85000", "text": "INFO", "id": f"ATXid_mh_{i}",
            "date": "2026-11-30 10:00:00", "linkId": "", "networkCode": "60502"})
    except requests.ConnectionError as e:
        return 0, str(e)
    return r.status_code, r.text
