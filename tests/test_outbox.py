"""The outbox state machine, claims and leases, and routing, against a real SQLite file."""
from __future__ import annotations

import threading
import time

import pytest

from gateway import channel_state, initialize, outbox, routing
from gateway.config import load
from gateway.store import close_thread_connections, connect, transaction

TN = "+21620123456"


@pytest.fixture
def ctx(make_config):
    cfg = load(make_config(channels={"twilio": {"enabled": True, "account_sid": "AC1", "auth_token": "t",
                                                "from_number": "+15005550006"},
                                     "africastalking": {"enabled": False}}))
    yield initialize(cfg)
    close_thread_connections()


def everything(ctx):
    return routing.Router(rules=[], available={"twilio"}, fallback=["twilio"]).sql()


def rows(db, where="1 = 1"):
    cur = db.execute(f"SELECT * FROM outbox WHERE {where} ORDER BY id")
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def test_enqueue_records_segments_priority_and_a_key(ctx):
    db = ctx.db()
    arabic = outbox.enqueue(db, TN, "مرحبا بكم في دليل", kind="reply")
    blast = outbox.enqueue(db, TN, "Salut, ça va ?", kind="blast", channel="twilio")
    reply, campaign = rows(db)
    assert (reply["encoding"], reply["segments"], reply["priority"]) == ("UCS-2", 1, 1)
    assert (campaign["encoding"], campaign["priority"], campaign["requested_channel"]) == ("UCS-2", 8, "twilio")
    assert reply["idempotency_key"] and reply["idempotency_key"] != campaign["idempotency_key"]
    assert reply["state"] == "queued" and reply["expires_at"] > time.time() + 23 * 3600
    assert arabic and blast


def test_same_idempotency_key_is_queued_once(ctx):
    db = ctx.db()
    assert outbox.enqueue(db, TN, "one", idempotency_key="k1")
    assert outbox.enqueue(db, TN, "one again", idempotency_key="k1") is None
    assert len(rows(db)) == 1


def test_claim_takes_priority_then_age_and_skips_not_before_and_expired(ctx):
    db = ctx.db()
    now = time.time()
    blast = outbox.enqueue(db, TN, "blast", kind="blast")
    reply = outbox.enqueue(db, TN, "reply", kind="reply")
    later = outbox.enqueue(db, TN, "later", kind="reply", not_before=now + 3600)
    stale = outbox.enqueue(db, TN, "stale", kind="reply", expires_at=now - 1)
    with transaction(db):
        claimed = outbox.claim(db, "me", everything(ctx), ["twilio"], 10, 60)
    assert [m.id for m in claimed] == [reply, blast]
    assert all(m.channel == "twilio" and m.attempts == 1 for m in claimed)
    states = {r["id"]: r["state"] for r in rows(db)}
    assert states == {blast: "sending", reply: "sending", later: "queued", stale: "queued"}


def test_two_dispatchers_never_claim_the_same_row(ctx):
    db = ctx.db()
    for i in range(600):
        outbox.enqueue(db, TN, f"m{i}")
    got: dict[str, list[int]] = {}

    def worker(name):
        mine = got.setdefault(name, [])
        conn = connect(ctx.db_path)
        while True:
            with transaction(conn):
                batch = outbox.claim(conn, name, everything(ctx), ["twilio"], 7, 60)
            if not batch:
                break
            mine += [m.id for m in batch]
        close_thread_connections()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == 600


def test_lapsed_lease_returns_the_row_and_release_undoes_the_attempt(ctx):
    db = ctx.db()
    a = outbox.enqueue(db, TN, "a")
    b = outbox.enqueue(db, TN, "b")
    with transaction(db):
        outbox.claim(db, "dead", everything(ctx), ["twilio"], 1, lease_seconds=0.01)
        outbox.claim(db, "alive", everything(ctx), ["twilio"], 1, lease_seconds=60)
    time.sleep(0.02)
    assert outbox.reclaim_expired_leases(db) == 1
    assert {r["id"]: r["state"] for r in rows(db)} == {a: "queued", b: "sending"}
    outbox.release(db, [b], "someone-else")
    assert rows(db, f"id = {b}")[0]["state"] == "sending"  # only the owner gives a row back
    outbox.release(db, [b], "alive")
    assert rows(db, f"id = {b}")[0]["state"] == "queued" and rows(db, f"id = {b}")[0]["attempts"] == 0


def test_sensitive_rows_lose_number_and_text_at_every_final_state(ctx):
    db = ctx.db()
    sent = outbox.enqueue(db, TN, "your referral", sensitive=True)
    failed = outbox.enqueue(db, TN, "your referral 2", sensitive=True)
    expired = outbox.enqueue(db, TN, "your referral 3", sensitive=True, expires_at=time.time() - 1)
    plain = outbox.enqueue(db, TN, "news", kind="blast")
    with transaction(db):
        outbox.claim(db, "me", everything(ctx), ["twilio"], 10, 60)
    assert outbox.mark_sent(db, sent, "SM1") is True
    assert outbox.mark_failed(db, failed, "twilio 21211: invalid number +21620123456") is True
    assert outbox.expire_overdue(db) == (1, True)
    assert outbox.mark_sent(db, plain, "SM2") is False
    by_id = {r["id"]: r for r in rows(db)}
    for i in (sent, failed, expired):
        assert by_id[i]["to_number"] is None and by_id[i]["body"] is None
    assert by_id[plain]["to_number"] == TN and by_id[plain]["body"] == "news"
    # the provider's id is blinded (the provider's log must not join to the row); a receipt still finds it
    assert by_id[sent]["provider_id"] not in (None, "SM1") and by_id[sent]["state"] == "sent"
    assert by_id[plain]["provider_id"] == "SM2"
    assert "20123456" not in by_id[failed]["error"] and "[number]" in by_id[failed]["error"]


def test_receipts_match_on_provider_id_after_the_wipe(ctx):
    db = ctx.db()
    a = outbox.enqueue(db, TN, "a", sensitive=True)
    b = outbox.enqueue(db, TN, "b", sensitive=True)
    with transaction(db):
        outbox.claim(db, "me", everything(ctx), ["twilio"], 10, 60)
    outbox.mark_sent(db, a, "SMa")
    outbox.mark_sent(db, b, "SMb")
    assert outbox.record_receipt(db, "twilio", "SMa", True)
    assert outbox.record_receipt(db, "twilio", "SMb", False, "twilio undelivered 30003")
    assert not outbox.record_receipt(db, "twilio", "SMnope", True)
    assert not outbox.record_receipt(db, "africastalking", "SMa", True)  # ids are per channel
    by_id = {r["id"]: r for r in rows(db)}
    assert by_id[a]["state"] == "delivered" and by_id[a]["delivered_at"]
    assert by_id[b]["state"] == "failed" and by_id[b]["error"] == "twilio undelivered 30003"


# -- routing ------------------------------------------------------------------------------------------------------

ROUTES = [["+21620", "smssync"], ["+2165", "africastalking"], ["+216", "twilio"]]


@pytest.mark.parametrize("available, number, requested, expected", [
    ({"twilio", "africastalking", "smssync"}, "+21620111222", None, "smssync"),
    ({"twilio", "africastalking"}, "+21620111222", None, "twilio"),  # phone offline: next rule
    ({"twilio", "africastalking"}, "+21650111222", None, "africastalking"),
    ({"twilio"}, "+21650111222", None, "twilio"),  # circuit open on AT
    ({"africastalking"}, "+33612345678", None, "africastalking"),  # no rule: any push channel
    ({"twilio", "africastalking"}, "+21620111222", "africastalking", "africastalking"),
    ({"twilio"}, "+21620111222", "africastalking", "twilio"),  # asked-for channel unavailable: routed
    (set(), "+21620111222", None, None),  # nothing available: it waits
])
def test_router_choice_and_its_sql_agree(ctx, available, number, requested, expected):
    router = routing.Router(rules=[tuple(r) for r in ROUTES], available=available,
                            fallback=list(routing.push_channels()))
    assert router.choose(number, requested) == expected
    db = ctx.db()
    outbox.enqueue(db, number, "x", channel=requested)
    expr, params = router.sql()
    assert db.execute(f"SELECT {expr} FROM outbox", params).fetchone()[0] == expected


def test_prefix_with_like_wildcards_is_literal(ctx):
    router = routing.Router(rules=[("+216_", "twilio")], available={"twilio", "africastalking"},
                            fallback=["africastalking"])
    db = ctx.db()
    outbox.enqueue(db, "+21620111222", "x")
    expr, params = router.sql()
    assert db.execute(f"SELECT {expr} FROM outbox", params).fetchone()[0] == "africastalking"


def test_availability_follows_config_circuit_and_phone_polls(make_config):
    cfg = load(make_config(channels={
        "twilio": {"enabled": True, "account_sid": "AC1", "auth_token": "t", "from_number": "+1500"},
        "africastalking": {"enabled": True, "api_key": ""},  # no key: not configured
        "smssync": {"enabled": True, "secret": "s3", "offline_after_seconds": 60}}))
    ctx = initialize(cfg)
    db = ctx.db()
    now = time.time()
    assert routing.configured_channels(cfg) == ["twilio", "smssync"]
    assert routing.available_channels(cfg, db, now) == {"twilio"}  # the phone never polled
    channel_state.record_seen(db, "smssync", now - 30)
    assert routing.available_channels(cfg, db, now) == {"twilio", "smssync"}
    assert routing.available_channels(cfg, db, now + 100) == {"twilio"}  # silent for too long
    for _ in range(3):
        opened = channel_state.record_failure(db, "twilio", "twilio 20500: error", threshold=3, open_seconds=30,
                                              now=now)
    assert opened and routing.available_channels(cfg, db, now) == {"smssync"}
    assert "twilio" in routing.available_channels(cfg, db, now + 31)  # half-open: tried again
    channel_state.record_success(db, "twilio", now + 31)
    assert channel_state.channel_rows(db)["twilio"]["consecutive_failures"] == 0
    close_thread_connections()


def test_a_delivery_report_that_overtakes_the_sent_confirmation_still_wipes_a_sensitive_row(ctx):
    db = ctx.db()
    msg_id = outbox.enqueue(db, "+21620123456", "your code R-ABC123", kind="reply", sensitive=True)
    router = routing.Router(rules=[], available={"smssync"}, fallback=["smssync"])
    claimed = outbox.claim(db, "phone", router.sql(), ["smssync"], 10, 60,
                           provider_id_sql="coalesce(provider_id, lower(hex(randomblob(16))))")
    assert [m.id for m in claimed] == [msg_id]
    assert outbox.record_receipt(db, "smssync", claimed[0].provider_id, True)
    row = db.execute("SELECT state, to_number, body, lease_owner FROM outbox WHERE id = ?", [msg_id]).fetchone()
    assert tuple(row) == ("delivered", None, None, None)


def test_a_command_line_process_seals_to_the_running_server(ctx, tmp_path):
    """`dalil poll close` and the like run in their own process: what they queue is sealed to the server's key,
    so the server's dispatcher can open and send it, and nothing else can."""
    import subprocess
    import sys

    from gateway import outbox as box
    db = ctx.db()
    box.register_holder(db)  # this test process plays `dalil serve`
    cfg = tmp_path / "cli.toml"
    cfg.write_text(f'[gateway]\ndatabase = "{ctx.db_path}"\nkeys_dir = "{ctx.keys_dir}"\n')
    script = ("from gateway import initialize, outbox; from gateway.config import load\n"
              f"ctx = initialize(load({str(cfg)!r}))\n"
              "outbox.enqueue(ctx.db(), '+21620999002', 'Votre avis compte: 12 reponses', sensitive=True)\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,  # noqa: S603
                   env={**__import__("os").environ, "PYTHONPATH": __import__("os").pathsep.join(sys.path)})
    (row,) = [r for r in box.readable(db) if r["to_number"] == "+21620999002"]
    assert row["body"] == "Votre avis compte: 12 reponses" and row["state"] == "queued"
    assert box.drop_orphans(db) == 0  # its holder (this process) is alive


def test_a_reply_sealed_on_another_gateway_host_is_not_dropped_here(ctx):
    """Several hosts on one PostgreSQL: a server's start and its dispatcher drop the sealed replies of processes
    that are gone, by pid. Another host's pids mean nothing here: its replies stay until that host sends them (or
    they expire); a process of this host that is gone still has its replies dropped."""
    from gateway import memkey
    db = ctx.db()
    msg = outbox.enqueue(db, TN, "your referral", sensitive=True)
    dead = 2 ** 22 + 12345  # above any pid this machine hands out
    other_host = memkey.tag().replace(memkey.tag().split("-", 1)[0], f"{dead}.0000beef", 1)
    here_gone = memkey.tag().replace(memkey.tag().split("-", 1)[0].split(".")[0], str(dead), 1)
    db.execute("UPDATE outbox SET sealed_by = ? WHERE id = ?", [other_host, msg])
    assert outbox.drop_orphans(db) == 0
    assert db.execute("SELECT state FROM outbox WHERE id = ?", [msg]).fetchone()[0] == "queued"
    db.execute("UPDATE outbox SET sealed_by = ? WHERE id = ?", [here_gone, msg])
    assert outbox.drop_orphans(db) == 1
