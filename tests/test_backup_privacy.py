"""What a replica keeps of an erased number, measured with the real programs (docs/privacy.md, "A backup").

`dalil serve` runs Litestream itself ([backup] run_with_serve) with a retention of seconds instead of hours. A
person texts JOIN (their number is stored: campaigns go to it), then ERASE. Litestream has by then shipped the
page images that held the number; the erasure zeroes them in the database (secure_delete) but the replica keeps
the older files until retention deletes them. The test decompresses every LTX file of the replica and of
Litestream's local folder beside the database and reports where the number is found after each step, and checks
that it is gone from the replica within snapshot_hours + retention_hours (plus Litestream's check intervals).
"""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from gateway import backup
from gateway.config import load
from replica_files import holding, office_config, sms, wait_until_shipped
from test_fuzz_support import ServerProcess, free_port, write_config

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]  # real servers, Litestream's retention; SQLite's pages

NUMBER = "+21620999417"
FORMS = [NUMBER, NUMBER[1:], NUMBER[4:]]
SNAPSHOT_SECONDS, RETENTION_SECONDS = 8.0, 8.0


def config_text() -> str:
    return office_config(f"""
[backup]
replica = "../second-disk"
sync_interval_seconds = 0.2
snapshot_hours = {SNAPSHOT_SECONDS / 3600}
retention_hours = {RETENTION_SECONDS / 3600}
run_with_serve = true
""")


def send(server, text: str, n: str) -> None:
    r = sms(server, NUMBER, text, n)
    assert r.status_code == 200, r.text


def where(office: Path, replica: Path) -> dict[str, list[str]]:
    data = office / "data"
    return {"replica": holding(replica, FORMS),
            "litestream's local folder": holding(data / ".dalil.db-litestream", FORMS),
            "database and WAL": [p.name for p in (data / "dalil.db", data / "dalil.db-wal")
                                 if p.exists() and any(f.encode() in p.read_bytes() for f in FORMS)]}


def litestream_pid(server) -> int:
    return int(re.search(r"backup: Litestream copies .* \(pid (\d+)\)", server.text()).group(1))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_an_erased_number_leaves_the_replica_with_retention(tmp_path, record_property):
    office = tmp_path / "office"
    office.mkdir()
    config = write_config(office, config_text())
    replica = tmp_path / "second-disk"
    server = ServerProcess(config, free_port()).start()
    plan = backup.plan(load(str(config)), str(config))
    steps = {}
    try:
        child = litestream_pid(server)
        send(server, "JOIN", "ATXid_priv_1")
        wait_until_shipped(plan)
        steps["joined"] = where(office, replica)
        assert steps["joined"]["replica"], "the scan finds the number where it is (the replica of a subscriber)"

        send(server, "ERASE", "ATXid_priv_2")
        wait_until_shipped(plan)
        erased_at = time.monotonic()
        steps["erased"] = where(office, replica)

        bound = SNAPSHOT_SECONDS + RETENTION_SECONDS + 15 + 30  # + Litestream's L0 check and L1 compaction
        while where(office, replica)["replica"] and time.monotonic() - erased_at < bound + 30:
            time.sleep(1)
        took = time.monotonic() - erased_at
        steps["after retention"] = where(office, replica)
    finally:
        code = server.stop(signal.SIGTERM)
    report = (f"backup privacy: an erased number in the replica after JOIN: {steps['joined']}; right after ERASE: "
              f"{steps.get('erased')}; {took:.0f} s later (snapshot {SNAPSHOT_SECONDS:g} s + retention "
              f"{RETENTION_SECONDS:g} s): {steps.get('after retention')}")
    record_property("figures", report)
    assert code == 0
    assert not steps["after retention"]["replica"], report
    assert took <= bound, report
    assert not alive(child), "Litestream outlived the server that started it"
