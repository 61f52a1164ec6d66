"""`dalil backup` and `dalil restore` as an operator meets them: the Litestream config [backup] makes (read by the
real `litestream` binary), secrets kept out of what is printed, and every refusal one line naming the key and the
file, with nothing changed. The restore drill with a real server is tests/test_backup_drill.py."""
from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import backup, config as config_module
from gateway.cli import main
from harness import free_port
from test_fuzz_support import ROOT

pytestmark = pytest.mark.sqlite_only  # Litestream copies a SQLite file


def write(tmp_path: Path, backup_section: str, gateway: str = "") -> Path:
    path = tmp_path / "dalil.toml"
    path.write_text(f'[gateway]\ndatabase = "data/dalil.db"\nkeys_dir = "keys"\n{gateway}\n'
                    f'[backup]\n{backup_section}\n')
    return path


def dalil(path: Path, *args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["--config", str(path), *args], env=env)


@pytest.fixture
def initialized(tmp_path):
    def make(section: str, **kw) -> Path:
        path = write(tmp_path, section, **kw)
        result = dalil(path, "init")
        assert result.exit_code == 0, result.output
        return path
    return make


def test_backup_prints_the_litestream_config_and_the_systemd_unit(initialized, tmp_path):
    path = initialized('replica = "../second-disk/dalil"\nsync_interval_seconds = 0.5')
    result = dalil(path, "backup")
    assert result.exit_code == 0, result.output
    out = result.output
    replica = (tmp_path.parent / "second-disk" / "dalil").resolve()
    assert f'url: "{replica.as_uri()}"' in out  # relative to the config file's folder
    assert f'path: "{tmp_path / "data" / "dalil.db"}"' in out
    assert "sync-interval: 500ms" in out and "interval: 24h" in out and "retention: 24h" in out
    assert "at most 0.5 s behind" in out and "up to 48 h" in out
    assert f"--config {path} backup --run" in out and "Restart=always" in out
    assert "same disk" in out  # a temp folder beside the database: the warning an operator needs


def test_the_config_is_one_litestream_reads(initialized, tmp_path):
    """The real binary parses what we write: a folder replica and an S3-compatible one with its endpoint."""
    for section in ('replica = "/srv/backup/dalil"',
                    'replica = "s3://dalil-backups/kairouan"\nendpoint = "http://127.0.0.1:9000"\nregion = "tn-1"'):
        cfg = config_module.load(initialized(section))
        plan = backup.plan(cfg, str(tmp_path / "dalil.toml"))
        proc, conf = backup.start(plan, "databases", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = proc.communicate(timeout=30)
        conf.close()
        assert proc.returncode == 0, out
        assert str(tmp_path / "data" / "dalil.db") in out
        assert ("s3" if "s3://" in section else "file") in out


def test_s3_credentials_are_never_printed_nor_written(initialized, tmp_path):
    env = {"BK_ID": "AKIA-test-key-id-7", "BK_SECRET": "s3cr3t-backup-key-do-not-print"}
    path = write(tmp_path, 'replica = "s3://dalil-backups/kairouan"\nendpoint = "https://s3.example.tn"\n'
                           'access_key_id = "env:BK_ID"\nsecret_access_key = "env:BK_SECRET"')
    assert dalil(path, "init", env=env).exit_code == 0
    result = dalil(path, "backup", env=env)
    assert result.exit_code == 0, result.output
    assert env["BK_SECRET"] not in result.output and env["BK_ID"] not in result.output
    assert "secret-access-key: ${DALIL_BACKUP_SECRET_ACCESS_KEY}" in result.output
    assert "hidden" in result.output
    plan = backup.plan(_load(path, env), str(path))
    assert env["BK_SECRET"] not in plan.yaml
    assert plan.env == {"DALIL_BACKUP_ACCESS_KEY_ID": env["BK_ID"], "DALIL_BACKUP_SECRET_ACCESS_KEY": env["BK_SECRET"]}


def _load(path, env):
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        return config_module.load(path)


@pytest.mark.parametrize("section,key,words", [
    ('replica = "gs://bucket/dalil"', "replica", "s3://bucket/path"),
    ('replica = "s3:///dalil"', "replica", "no bucket"),
    ('replica = "file://relative/dir"', "replica", "file:///absolute"),
    ('replica = "data"', "replica", "the database's own folder"),
    ('replica = "/srv/b"\nendpoint = "http://127.0.0.1:9000"', "endpoint", "only for an s3:// replica"),
    ('replica = "s3://b/p"\naccess_key_id = "AKIA1"', "secret_access_key", "set both keys"),
    ('replica = "/srv/b"\nsync_interval_seconds = 0', "sync_interval_seconds", "above 0"),
    ('replica = "/srv/b"\nretention_hours = -1', "retention_hours", "above 0"),
    ('replica = "/srv/b"\nsnapshot_hours = 24\nretention_hours = 700', "retention_hours", "caller_window_days"),
    ('replica = "/srv/b"\nsync_interval_seconds = "fast"', "sync_interval_seconds", "expected a number"),
    ('replica = "/srv/b"\nretension_hours = 24', "retension_hours", "unknown key"),
])
def test_a_bad_backup_section_names_the_key_and_the_file(tmp_path, section, key, words):
    path = write(tmp_path, section)
    for command in (("backup",), ("restore",), ("serve", "--port", "1")):
        result = dalil(path, *command)
        assert result.exit_code != 0, (command, result.output)
        assert str(path) in result.output and key in result.output and words in result.output, result.output
        assert "Traceback" not in result.output


def test_a_postgresql_gateway_is_sent_to_postgresqls_own_replication(tmp_path):
    path = tmp_path / "dalil.toml"
    path.write_text('[gateway]\ndatabase = "postgresql://dalil@127.0.0.1:9/dalil"\n[backup]\nreplica = "/srv/b"\n')
    result = dalil(path, "backup")
    assert result.exit_code != 0
    assert "[backup] replica" in result.output and "streaming replica" in result.output, result.output


def test_a_window_shorter_than_the_defaults_needs_a_shorter_retention(tmp_path):
    path = write(tmp_path, 'replica = "/srv/b"', gateway="caller_window_days = 1.5")
    result = dalil(path, "backup")
    assert result.exit_code != 0
    assert "[backup] retention_hours" in result.output and "48 hours" in result.output and "36 hours" in result.output


def test_backup_without_a_replica_says_which_key_to_set(initialized):
    result = dalil(initialized(""), "backup")
    assert result.exit_code == 1
    assert "[backup] replica: empty" in result.output


def test_restore_from_an_empty_replica_changes_nothing(initialized, tmp_path):
    (tmp_path / "empty").mkdir()
    path = initialized('replica = "empty"')
    db = tmp_path / "data" / "dalil.db"
    before = db.read_bytes()
    result = dalil(path, "restore", "--force")
    assert result.exit_code == 1
    assert "no backup of" in result.output and "Nothing was changed" in result.output
    assert db.read_bytes() == before
    result = dalil(path, "restore", "--to", str(tmp_path / "copy.db"))  # a folder never written either
    assert result.exit_code == 1 and not (tmp_path / "copy.db").exists()
    assert not list((tmp_path / "data").glob(".*restoring*"))


def test_restore_refuses_to_replace_a_database_or_to_run_under_a_server(initialized, tmp_path):
    path = initialized('replica = "replica"')
    result = dalil(path, "restore")
    assert result.exit_code == 1
    assert "dalil.db exists" in result.output and "--force" in result.output
    with socket.socket() as s:  # something listens on [gateway] port: a server may be running on the file
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        path.write_text(path.read_text().replace('keys_dir = "keys"', f'keys_dir = "keys"\nport = {port}'))
        result = dalil(path, "restore", "--force")
    assert result.exit_code == 1
    assert f"answers on 127.0.0.1:{port}" in result.output and "stop `dalil" in result.output


def test_durations_are_what_litestream_parses():
    assert [backup._duration(s) for s in (1.0, 0.5, 86400, 90, 5400, 0.0001)] == ["1s", "500ms", "24h", "90s",
                                                                                     "90m", "1ms"]


@pytest.fixture
def s3_store():
    """An S3-compatible store on loopback (moto's server mode), with an empty bucket; its keys are not checked."""
    import requests
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        assert requests.put(f"{url}/dalil-backups", timeout=10).status_code == 200
        yield url
    finally:
        server.stop()


@pytest.mark.slow  # Litestream against an S3 server
def test_an_s3_compatible_replica_is_written_and_restored(initialized, tmp_path, s3_store, monkeypatch):
    """The endpoint, region and keys as `dalil backup --run` gives them to Litestream, against a store on loopback;
    AWS_CA_BUNDLE (which stops Litestream 0.5) is left out and `dalil backup` says so."""
    monkeypatch.setenv("BK_ID", "AKIA-test")
    monkeypatch.setenv("BK_SECRET", "test-secret")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "no-such-bundle.pem"))
    path = initialized(f'replica = "s3://dalil-backups/kairouan"\nendpoint = "{s3_store}"\nregion = "us-east-1"\n'
                       f'access_key_id = "env:BK_ID"\nsecret_access_key = "env:BK_SECRET"\nsync_interval_seconds = 0.2')
    assert "AWS_CA_BUNDLE is left out" in dalil(path, "backup").output
    db = tmp_path / "data" / "dalil.db"
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES ('amira', 'x', 'admin', 0)")
    proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "--config", str(path), "backup", "--run"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        copy = tmp_path / "copy.db"
        while time.monotonic() < deadline:  # until the store has the row (restored copies are thrown away)
            time.sleep(1)
            copy.unlink(missing_ok=True)
            if dalil(path, "restore", "--to", str(copy)).exit_code == 0:
                with sqlite3.connect(copy) as conn:
                    if conn.execute("SELECT username FROM users").fetchall() == [("amira",)]:
                        break
        else:
            raise AssertionError("the row never reached the S3 store")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=40)
    assert proc.returncode == 0, out
    assert "type=s3" in out and "bucket=dalil-backups" in out and f"endpoint={s3_store}" in out
    assert "test-secret" not in out
