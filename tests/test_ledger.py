"""The transparency log on disk: appends sign heads, `dalil ledger verify` names a tampered entry, and a desk
that saw an older head detects a rewritten or rolled-back log."""
from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from harness import LiveServer
from gateway.cli import main
from referrals import ledger, merkle, store
from referrals.desk import client, home as desk_home, store as desk_store
from referrals.keyring import gateway_key
from test_referral_support import add_cso, refer


def write_config(tmp_path, config) -> str:
    path = tmp_path / "dalil.toml"
    gw = config["gateway"]
    path.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n')
    return str(path)


def fill(app, n: int) -> None:
    ctx = app.extensions["dalil"]
    key = gateway_key(ctx)
    for i in range(n):
        ledger.append(ctx.db(), key, ("created", "fetched", "accepted", "closed")[i % 4], f"ref-{i // 4}")


def test_append_signs_a_head_per_entry_and_verify_recomputes(app):
    fill(app, 37)
    ctx = app.extensions["dalil"]
    db, key = ctx.db(), gateway_key(ctx)
    verdict = ledger.verify(db, key.verify_key)
    assert verdict.ok and verdict.entries == 37 and verdict.heads == 37
    entries = [data for _, data in store.iter_entries(db)]
    assert verdict.root == merkle.root_of(entries)
    head = ledger.current_head(db, key)
    assert head["tree_size"] == 37 and ledger.check_head(key.verify_key, head)
    assert not ledger.check_head(key.verify_key, dict(head, tree_size=36))
    # events hold hashes and days, never content
    event = json.loads(entries[0])
    assert set(event) == {"v", "event", "ref", "day"} and len(event["day"]) == 10


def test_flipped_byte_is_named_by_ledger_verify(app, config, tmp_path):
    fill(app, 20)
    cfg = write_config(tmp_path, config)
    ok = CliRunner().invoke(main, ["--config", cfg, "ledger", "verify"])
    assert ok.exit_code == 0 and "ledger OK: 20 entries" in ok.output

    conn = sqlite3.connect(config["gateway"]["database"])
    data = bytearray(conn.execute("SELECT data FROM ledger_entries WHERE idx = 13").fetchone()[0])
    data[data.index(b'"event":"') + 9] ^= 0x01  # one bit of one byte, on disk
    conn.execute("UPDATE ledger_entries SET data = ? WHERE idx = 13", [bytes(data)])
    conn.commit()
    conn.close()

    bad = CliRunner().invoke(main, ["--config", cfg, "ledger", "verify"])
    assert bad.exit_code == 1
    assert "first bad entry is #13" in bad.output
    assert "entry 13: its data does not hash to the stored leaf" in bad.output


def test_deleted_entry_and_forged_head_signature_are_reported(app):
    fill(app, 10)
    ctx = app.extensions["dalil"]
    db = ctx.db()
    db.execute("UPDATE ledger_heads SET signature = ? WHERE tree_size = 4", [bytes(64)])
    verdict = ledger.verify(db, gateway_key(ctx).verify_key)
    assert not verdict.ok and any("head of size 4: signature" in p for p in verdict.problems)
    db.execute("DELETE FROM ledger_entries WHERE idx = 6")
    verdict = ledger.verify(db, gateway_key(ctx).verify_key)
    assert verdict.first_bad_entry == 6 and "entry 6 is missing" in verdict.problems[0]


def rewrite_history(app, index: int) -> None:
    """What an operator holding the gateway's key could do: change an old entry and rebuild everything."""
    ctx = app.extensions["dalil"]
    db, key = ctx.db(), gateway_key(ctx)
    entries = [data for _, data in store.iter_entries(db)]
    event = json.loads(entries[index])
    entries[index] = ledger.encode_event(event["event"], event["ref"], "2000-01-01", event.get("envelope"))
    db.execute("DELETE FROM ledger_entries")
    db.execute("DELETE FROM ledger_nodes")
    db.execute("DELETE FROM ledger_heads")
    tree = merkle.Tree(ledger.DbNodes(db))
    for i, data in enumerate(entries):
        store.insert_entry(db, i, bytes(data))
        tree.append(bytes(data))
        root = tree.root()
        store.insert_head(db, tree.size, root, "2026-11-23", ledger.sign_head(key, tree.size, root, "2026-11-23"))


@pytest.fixture
def served(app, tmp_path):
    with LiveServer(app) as live:
        yield live


def test_desk_detects_a_rewritten_log(app, served, tmp_path):
    home = add_cso(app, tmp_path, url=served.url)
    refer(app)
    desk = desk_home.load(home)
    assert client.sync(desk).ok and client.sync(desk).ok  # the second sync sees the "fetched" event too
    with desk_store.connect(desk.db_path) as conn:
        seen = desk_store.head(conn)
    assert seen["tree_size"] == 2  # created + fetched

    rewrite_history(app, 0)
    refer(app)  # business goes on over the rewritten history
    assert ledger.verify(app.extensions["dalil"].db(), gateway_key(app.extensions["dalil"]).verify_key).ok

    result = client.sync(desk)
    assert not result.ok and result.received == 0
    assert any("rewritten or forked" in a for a in result.alerts)
    with desk_store.connect(desk.db_path) as conn:
        assert desk_store.head(conn) == seen  # the desk keeps the last good head, not the forged one
        assert [a["kind"] for a in desk_store.alerts(conn)] == ["rewrite"]
    page = __import__("referrals.desk.web", fromlist=["x"]).create_desk_app(desk).test_client().get(
        "/", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert "rewritten or forked" in page


def test_desk_detects_a_rolled_back_log(app, served, tmp_path):
    home = add_cso(app, tmp_path, url=served.url)
    refer(app)
    desk = desk_home.load(home)
    assert client.sync(desk).ok and client.sync(desk).ok  # holds the head of size 2
    db = app.extensions["dalil"].db()
    db.execute("DELETE FROM ledger_heads WHERE tree_size = 2")
    db.execute("DELETE FROM ledger_entries WHERE idx = 1")
    result = client.sync(desk)
    assert any("rewritten or forked" in a for a in result.alerts)


def test_dalil_ledger_head_prints_a_signed_head(app, config, tmp_path):
    fill(app, 3)
    out = CliRunner().invoke(main, ["--config", write_config(tmp_path, config), "ledger", "head"])
    data = json.loads(out.output)
    from nacl.signing import VerifyKey
    assert ledger.check_head(VerifyKey(bytes.fromhex(data["gateway_key"])), data["head"])
    assert data["head"]["tree_size"] == 3
