"""`dalil migrate-to postgresql://…`: an office gateway's SQLite database copied into PostgreSQL, then served from it.

Real parts: a SQLite gateway made by `dalil init --demo` and used (an account, subscribers, a queued message, a
referral CSO), the worker's throwaway PostgreSQL (tests/pgserver.py), the `dalil` command.
"""
from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from gateway import create_app, initialize, outbox, store
from gateway.cli import main
from gateway.config import load
from gateway.console import users
from messages import subscribers

pytestmark = pytest.mark.slow  # a database copied table by table


@pytest.fixture
def office(tmp_path):
    """A used office gateway on SQLite: its config file and its context."""
    path = tmp_path / "dalil.toml"
    path.write_text('[gateway]\ndatabase = "dalil.db"\nkeys_dir = "keys"\n[dispatcher]\nenabled = false\n'
                    '[channels.africastalking]\nwebhook_token = "at-tok"\n')
    assert CliRunner().invoke(main, ["--config", str(path), "init", "--demo"]).exit_code == 0
    ctx = initialize(load(str(path)))
    db = ctx.db()
    users.create(db, "amina", "a-long-enough-passphrase", "admin", "ar")
    for i in range(5):
        subscribers.subscribe(db, f"+2162000000{i}", language="ar", channel="sms", via="keyword:JOIN")
    outbox.enqueue(db, "+21620000001", "Bienvenue", kind="notice")
    store.close_thread_connections()
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def rows(url: str, sql: str):
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_a_used_office_gateway_is_copied_and_served_from_postgresql(office, pg_server):
    url = pg_server.new_database()
    result = run("--config", office, "migrate-to", url)
    assert result.exit_code == 0, result.output
    assert "copied" in result.output and "Now set [gateway] database" in result.output
    source = store.connect(str(office.parent / "dalil.db"))
    for table in ("services", "subscribers", "consent_log", "outbox", "users", "areas", "taxonomy_terms"):
        here = source.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        assert rows(url, f"SELECT count(*) FROM {table}")[0][0] == here > 0, table  # noqa: S608
    assert rows(url, "SELECT body FROM outbox") == [("Bienvenue",)]
    # served from PostgreSQL: the account logs in, the directory lists, a new row gets a fresh id
    app = create_app({**load(str(office)), "gateway": {**load(str(office))["gateway"], "database": url}})
    db = app.extensions["dalil"].db()
    assert users.authenticate(db, "AMINA", "a-long-enough-passphrase") is not None  # case-blind, as on SQLite
    new_id = outbox.enqueue(db, "+21620000002", "Encore", kind="notice")
    assert new_id == max(r[0] for r in rows(url, "SELECT id FROM outbox"))
    assert new_id > rows(url, "SELECT min(id) FROM outbox")[0][0]
    client, screens = app.test_client(), []
    for text in ("", "2", "2*1", "2*1*1"):  # French, Kairouan, the main menu's first entry: a list of services
        hop = client.post("/hooks/africastalking/at-tok/ussd", data={
            "sessionId": "m1", "phoneNumber": "+21620000009", "serviceCode": "*216#", "text": text})
        assert hop.status_code == 200, hop.get_data(as_text=True)
        screens.append(hop.get_data(as_text=True))
    names = {name for (name,) in rows(url, "SELECT short_name_fr FROM services")}
    assert screens[-1].startswith("CON ") and any(name in screens[-1] for name in names), screens
    store.close_pools()


def test_a_database_that_already_holds_a_gateway_is_refused_and_left_as_it_was(office, pg_server):
    url = pg_server.new_database(template="dalil_template")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (username, password_hash, role, created_at) VALUES ('x', 'h', 'admin', 0)")
    result = run("--config", office, "migrate-to", url)
    assert result.exit_code != 0
    assert "already holds a Dalil gateway's data (table users has rows)" in result.output
    assert "nothing copied" in result.output
    assert rows(url, "SELECT username FROM users") == [("x",)]
    store.close_pools()


def test_an_unreachable_url_is_named_without_its_password(office):
    result = run("--config", office, "migrate-to", "postgresql://dalil:hunter2@127.0.0.1:9/dalil")
    assert result.exit_code != 0
    assert "postgresql://dalil:***@127.0.0.1:9/dalil" in result.output and "hunter2" not in result.output
    result = run("--config", office, "migrate-to", "mysql://x@y/z")
    assert result.exit_code != 0 and "is not a postgresql:// URL" in result.output
