"""The transparency log on disk: appends do not sign (checkpoints are signed on a schedule), `dalil ledger verify`
names a tampered entry, and a desk that read the log detects a rewritten or rolled-back one."""
from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from harness import LiveServer
from gateway.cli import main
from referrals import ledger, store
from referrals.protocol import events, merkle, note
from referrals.desk import client, home as desk_home, store as desk_store
from referrals.keyring import gateway_key, log_key
from test_referral_support import add_cso, log_entries, refer, rewrite_log


def write_config(tmp_path, config) -> str:
    path = tmp_path / "dalil.toml"
    gw = config["gateway"]
    path.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n')
    return str(path)


def fill(app, n: int) -> None:
    ctx = app.extensions["dalil"]
    for i in range(n):
        ledger.append(ctx.db(), ("created", "fetched", "accepted", "closed")[i % 4], f"ref-{i // 4}")


def sign(app) -> tuple[int, str]:
    ctx = app.extensions["dalil"]
    return ledger.sign_checkpoint(ctx.db(), gateway_key(ctx), ctx.config["referrals"]["log_origin"])


def test_appends_sign_nothing_a_checkpoint_covers_them_and_verify_recomputes(app):
    fill(app, 37)
    ctx = app.extensions["dalil"]
    db = ctx.db()
    assert store.latest_checkpoint(db) is None  # no head per event: the schedule signs
    size, signed = sign(app)
    assert sign(app) == (size, signed)  # nothing new: the same checkpoint, not a new signature
    verdict = ledger.verify(db, log_key(ctx))
    assert verdict.ok and verdict.entries == 37 and verdict.checkpoint == 37
    entries = [data for _, data in store.iter_entries(db)]
    assert verdict.root == merkle.root_of(entries)
    cp = note.open_checkpoint(signed, log_key(ctx))
    assert (cp.origin, cp.size, cp.root) == ("dalil.local/referrals", 37, merkle.root_of(entries))
    # events hold hashes and days, never content
    event = json.loads(entries[0])
    assert set(event) == {"v", "event", "ref", "day"} and len(event["day"]) == 10


@pytest.mark.sqlite_only  # flips a byte in the SQLite file
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


def test_deleted_entry_and_forged_checkpoint_signature_are_reported(app):
    fill(app, 10)
    sign(app)
    ctx = app.extensions["dalil"]
    db = ctx.db()
    size, signed = store.latest_checkpoint(db)
    text, sigs = note.split(signed)
    store.save_checkpoint(db, size, text + "\n" + note.DASH + sigs[0][0] + " " +
                          __import__("base64").b64encode(sigs[0][1][:4] + bytes(64)).decode() + "\n")
    verdict = ledger.verify(db, log_key(ctx))
    assert not verdict.ok and any("checkpoint of size 10: the signature" in p for p in verdict.problems)
    db.execute("DELETE FROM ledger_entries WHERE idx = 6")
    verdict = ledger.verify(db, log_key(ctx))
    assert verdict.first_bad_entry == 6 and "entry 6 is missing" in verdict.problems[0]


def rewrite_history(app, index: int) -> None:
    """What an operator holding the gateway's key could do: change an old entry and rebuild everything."""
    entries = log_entries(app)
    event = json.loads(entries[index])
    entries[index] = events.encode_event(event.pop("event"), "2000-01-01",
                                         **{k: v for k, v in event.items() if k not in ("v", "day")})
    rewrite_log(app, entries)


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
        seen = desk_store.leaf_hashes(conn)
    assert len(seen) == 3  # registration + created + fetched

    rewrite_history(app, 1)
    refer(app)  # business goes on over the rewritten history
    assert ledger.verify(app.extensions["dalil"].db(), log_key(app.extensions["dalil"])).ok

    result = client.sync(desk)
    assert not result.ok and result.received == 0
    assert any("log entry #1 changed after this desk read it" in a for a in result.alerts)
    with desk_store.connect(desk.db_path) as conn:
        assert desk_store.leaf_hashes(conn) == seen  # the desk keeps what it read, not the forged log
        assert [(a["kind"], a["params"]) for a in desk_store.alerts(conn)] == [("fork", {"entry": 1})]
    page = __import__("referrals.desk.web", fromlist=["x"]).create_desk_app(desk).test_client().get(
        "/", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert "#1" in page and "rewritten or forked" in page


def test_desk_detects_a_rolled_back_log(app, served, tmp_path):
    home = add_cso(app, tmp_path, url=served.url)
    refer(app)
    desk = desk_home.load(home)
    assert client.sync(desk).ok and client.sync(desk).ok  # has read 3 entries
    rewrite_log(app, log_entries(app)[:2])
    result = client.sync(desk)
    assert any("log entry #2 and those after it, to #2" in a for a in result.alerts)


def test_dalil_ledger_head_prints_a_signed_checkpoint(app, config, tmp_path):
    fill(app, 3)
    cfg = write_config(tmp_path, config)
    assert CliRunner().invoke(main, ["--config", cfg, "ledger", "checkpoint"]).stdout == "checkpoint at size 3\n"
    out = CliRunner().invoke(main, ["--config", cfg, "ledger", "head"]).stdout
    signed, key_line = out.split("log key: ")
    cp = note.open_checkpoint(signed, note.parse_vkey(key_line))
    assert cp.size == 3 and key_line.strip() == log_key(app.extensions["dalil"]).vkey
