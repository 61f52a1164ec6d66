"""Shared fixtures: a real SQLite file in a temp folder, the real app, and the real app behind waitress on loopback.

With ``DALIL_TEST_DATABASE=postgresql`` the apps run on PostgreSQL instead: one throwaway server per worker
(tests/pgserver.py) and a database per test, copied from a migrated template.

What every test would otherwise rebuild is built once per pytest-xdist worker: the migrated schema (a template
file, copied for each app) and cheaper scrypt for the console accounts tests create (the production cost is kept
and checked once, in tests/test_console.py).
"""
from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from gateway import create_app, schemas, store
from gateway.console import users
from gateway.store import close_thread_connections
from harness import BASE_CONFIG, LiveServer, deep_merge
from pgserver import BACKEND, PostgresServer

SCREENSHOTS = Path(__file__).parent / "screenshots"  # written by tests/browser/
PRODUCTION_HASH_METHOD = users.HASH_METHOD
# Tests create hundreds of accounts; at the production cost each takes a third of a second on 2 busy cores.
TEST_HASH_METHOD = "scrypt:1024:8:1"


@pytest.fixture(scope="session", autouse=True)
def cheap_test_passwords():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "HASH_METHOD", TEST_HASH_METHOD)
        yield


@pytest.fixture
def production_passwords(monkeypatch):
    """The gateway's own scrypt cost, for the test that checks it."""
    monkeypatch.setattr(users, "HASH_METHOD", PRODUCTION_HASH_METHOD)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory):
    """Every package's migrations applied once to an empty file, which each app's database starts as a copy of."""
    path = tmp_path_factory.mktemp("template") / "dalil.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    store.migrate(sqlite_utils.Database(conn), schemas())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()  # the last connection folds the WAL into the file: the copy is one whole file
    return path


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of this worker's, with a migrated template database ``dalil_template``."""
    with PostgresServer() as server:
        server.sql('CREATE DATABASE "dalil_template"')
        db = store.connect(server.url("dalil_template"))
        store.migrate(db, schemas())
        store.close_pools()
        yield server


@pytest.fixture
def pg_database(pg_server):
    """A fresh migrated PostgreSQL database, by URL; dropped after the test."""
    url = pg_server.new_database(template="dalil_template")
    yield url
    store.close_pools()
    pg_server.sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


SESSIONS_IN_VALKEY = os.environ.get("DALIL_TEST_SESSIONS") == "valkey"


@pytest.fixture(scope="session")
def suite_valkey(tmp_path_factory):
    """With DALIL_TEST_SESSIONS=valkey: one redis-server per xdist worker that every app of the suite keeps its
    sessions in ([sessions] url), emptied before each test."""
    from valkey_server import KEY_ENV, ValkeyServer, new_key
    with pytest.MonkeyPatch.context() as mp, ValkeyServer(tmp_path_factory.mktemp("suite-valkey")) as server:
        mp.setenv(KEY_ENV, new_key())
        yield server


@pytest.fixture
def make_config(tmp_path, request):
    base = BASE_CONFIG
    if SESSIONS_IN_VALKEY:  # the whole suite with shared sessions (docs/install.md, "Tests")
        server = request.getfixturevalue("suite_valkey")
        server.client().flushdb()
        base = deep_merge(BASE_CONFIG, {"sessions": {"url": server.url, "key": "env:DALIL_SESSIONS_KEY"}})

    def make(**sections) -> dict:
        cfg = deep_merge(base, sections)
        gw = cfg.setdefault("gateway", {})
        if BACKEND == "postgresql" and "database" not in gw:
            gw["database"] = request.getfixturevalue("pg_database")
        gw.setdefault("database", str(tmp_path / "dalil.db"))
        gw.setdefault("keys_dir", str(tmp_path / "keys"))
        gw.setdefault("log_file", str(tmp_path / "dalil.log"))
        return cfg
    return make


@pytest.fixture
def config(make_config):
    return make_config()


@pytest.fixture
def app(config, template_database):
    database = Path(config["gateway"]["database"])
    if store.is_file(config["gateway"]["database"]) and not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template_database, database)  # create_app then finds every migration applied
    app = create_app(config)
    yield app
    close_thread_connections()


@pytest.fixture
def demo_app(app):
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live(demo_app):
    with LiveServer(demo_app) as server:
        yield server


@pytest.fixture
def at_fake():
    """A fake Africa's Talking on loopback (tests/fakes.py)."""
    from fakes import FakeAfricasTalking
    with FakeAfricasTalking() as fake:
        yield fake


@pytest.fixture
def valkey(tmp_path, monkeypatch):
    """A throwaway redis-server keeping nothing on disk (tests/valkey_server.py), with $DALIL_SESSIONS_KEY set to a
    fresh key for "env:DALIL_SESSIONS_KEY" in configs (and the `dalil serve` processes a test starts)."""
    from valkey_server import KEY_ENV, ValkeyServer, new_key
    monkeypatch.setenv(KEY_ENV, new_key())
    with ValkeyServer(tmp_path) as server:
        yield server


def pytest_terminal_summary(terminalreporter):
    """At the end of the run, from every xdist worker: the figures tests record (the crash test's, the short
    soak's) and where the browser tests' screenshots are (here, since xdist's controller never loads
    tests/browser/conftest.py)."""
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, text in getattr(report, "user_properties", ()):
            if name == "figures" and report.when == "call":
                terminalreporter.write_line(text)
    shots = sorted(SCREENSHOTS.rglob("*.png")) if SCREENSHOTS.exists() else []
    if shots:
        terminalreporter.write_line(f"browser screenshots: {SCREENSHOTS} ({len(shots)} pages)")
