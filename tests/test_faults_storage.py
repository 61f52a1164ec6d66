"""Faults: the database becomes read-only, or the disk fills up, while providers are calling.

What must hold, as an operator and a provider see it: a request that needs to write answers 503 with a clear
reason (so the provider retries) and writes nothing at all, not half of its work; a request that only reads
(browsing the menus) still works; once storage is back, the provider's retry of the very same request succeeds,
exactly once; the file passes SQLite's integrity and foreign-key checks; the log says what happened without a
traceback.

Read-only: ``PRAGMA query_only`` on the connection that serves the request (what SQLite does for a file it
cannot write). Disk full: the real server in its own process with its file-size limit lowered to 0 (RLIMIT_FSIZE,
via prlimit): every write that would grow the WAL fails in the kernel, as on a full disk, until the limit is
raised again; nothing privileged is needed.
"""
from __future__ import annotations

import json
import resource
import sqlite3

import pytest
from twilio.request_validator import RequestValidator

from gateway import create_app, outbox
from gateway.store import close_thread_connections, transaction
from referrals.desk import home as desk_home
from referrals.protocol.desk_auth import sign
from test_fuzz_support import (ServerProcess, assert_clean_log, assert_consistent, database_digest, free_port,
                               write_config)
from test_referral_support import add_cso, refer

pytestmark = pytest.mark.sqlite_only  # SQLite's own faults: a read-only file, a full disk, a locked database

AT = "/hooks/africastalking/at-token-3f9a"
TWILIO_TOKEN = "twilio-token-storage"
PUBLIC = "https://dalil.example.tn"
SMSSYNC = "phone-secret-storage"
STORAGE_ERRORS = (r"storage unavailable",)


@pytest.fixture
def app(make_config):
    app = create_app(make_config(
        gateway={"public_url": PUBLIC},
        channels={"twilio": {"enabled": True, "account_sid": "AC" + "2" * 32, "auth_token": TWILIO_TOKEN,
                             "from_number": "+15005550006"},
                  "smssync": {"enabled": True, "secret": SMSSYNC, "prefixes": ["+216"]}}))
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    yield app
    close_thread_connections()


def all_tables(db) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                     "AND name NOT LIKE 'sqlite_%'")]


def sent_row(db, channel: str, provider_id: str) -> int:
    msg = outbox.enqueue(db, "+21620123456", "news", kind="notice")
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'sending', channel = ?, lease_owner = 't', lease_until = 1e12 "
                   "WHERE id = ?", [channel, msg])
        outbox.mark_sent(db, msg, provider_id)
    return msg


def twilio_post(client, path, params):
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def writing_requests(app, tmp_path):
    """(name, request) for every webhook that writes; each request can be sent again as a provider's retry."""
    db = app.extensions["dalil"].db()
    sent_row(db, "africastalking", "ATXid_storage")
    sent_row(db, "twilio", "SM" + "d" * 32)
    phone_msg = outbox.enqueue(db, "+21620999888", "for the phone", kind="notice")
    amal = desk_home.load(add_cso(app, tmp_path, "amal", needs=("legal",)))
    mine = refer(app, "amal", need="legal")
    ack_body = json.dumps({"referrals": [mine.referral_id]}).encode()

    def desk_ack(c):  # the desk signs each try afresh (a new nonce), as referrals/desk/client.py does
        headers = sign(amal.cso_id, amal.token, amal.sign_key, "POST", "/api/desk/ack", ack_body)
        return c.post("/api/desk/ack", data=ack_body, headers={**headers, "Content-Type": "application/json"})

    def smssync_confirm(c):
        uuid = db.execute("SELECT provider_id FROM outbox WHERE id = ?", [phone_msg]).fetchone()[0] or "none"
        return c.post(f"/hooks/smssync?task=sent&secret={SMSSYNC}", json={"queued_messages": [uuid]})

    return [
        ("AT inbound SMS", lambda c: c.post(f"{AT}/sms", data={"from": "+21620123456", "text": "JOIN",
                                                              "id": "at-storage-1", "to": "20880"})),
        ("AT delivery report", lambda c: c.post(f"{AT}/delivery", data={"id": "ATXid_storage", "status": "Success"})),
        ("AT USSD language choice", lambda c: c.post(f"{AT}/ussd", data={
            "sessionId": f"ro-{c.hop}", "phoneNumber": "+21650123123", "text": "2"})),
        ("Twilio inbound SMS", lambda c: twilio_post(c, "/hooks/twilio/sms", {
            "MessageSid": "SM" + "e" * 32, "From": "+21620123456", "Body": "MENU"})),
        ("Twilio status", lambda c: twilio_post(c, "/hooks/twilio/status", {
            "MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered"})),
        ("SMSSync inbound SMS", lambda c: c.post("/hooks/smssync", data={
            "from": "+21620123456", "message": "AIDE", "message_id": "sync-storage-1", "secret": SMSSYNC})),
        ("SMSSync poll", lambda c: c.get(f"/hooks/smssync?task=send&secret={SMSSYNC}")),
        ("SMSSync confirmation", smssync_confirm),
        ("aggregator language choice", lambda c: c.post("/hooks/ussd/agg-token-77", data={
            "sessionId": f"agg-{c.hop}", "msisdn": "+21650123124", "text": "2"})),
        ("desk acknowledgement", desk_ack),
    ]


class Client:
    """The test client, plus a counter so that a USSD "retry" is a new session (networks do not retry USSD)."""

    def __init__(self, app):
        self.c, self.hop = app.test_client(), 0

    def __getattr__(self, name):
        return getattr(self.c, name)


def test_read_only_database_answers_503_writes_nothing_and_the_retry_succeeds(app, tmp_path):
    db = app.extensions["dalil"].db()
    client = Client(app)
    for name, request in writing_requests(app, tmp_path):
        if "USSD" in name or "aggregator" in name:  # a first hop shows the language menu; the choice writes
            client.post(f"{AT}/ussd", data={"sessionId": f"ro-{client.hop}", "phoneNumber": "+21650123123",
                                            "text": ""})
            client.post("/hooks/ussd/agg-token-77", data={"sessionId": f"agg-{client.hop}",
                                                          "msisdn": "+21650123124", "text": ""})
        before = database_digest(db, all_tables(db))
        db.execute("PRAGMA query_only = ON")
        try:
            refused = request(client)
        finally:
            db.execute("PRAGMA query_only = OFF")
        assert refused.status_code == 503, (name, refused.status_code, refused.get_data(as_text=True))
        assert refused.get_json()["reason"] == "storage unavailable, try again", name
        assert database_digest(db, all_tables(db)) == before, f"{name}: a refused request wrote something"
        # the provider tries again once storage is back
        client.hop += 1
        if "USSD" in name or "aggregator" in name:
            client.post(f"{AT}/ussd", data={"sessionId": f"ro-{client.hop}", "phoneNumber": "+21650123123",
                                            "text": ""})
            client.post("/hooks/ussd/agg-token-77", data={"sessionId": f"agg-{client.hop}",
                                                          "msisdn": "+21650123124", "text": ""})
        retried = request(client)
        assert retried.status_code in (200, 204), (name, retried.status_code, retried.get_data(as_text=True))
        assert database_digest(db, all_tables(db)) != before, f"{name}: the retry did nothing"
    # the retried inbound SMS were handled once each, whatever happened before
    keys = [r[0] for r in db.execute("SELECT idempotency_key FROM outbox WHERE kind = 'reply'")]
    assert len(keys) == len(set(keys))
    assert_consistent(db)
    assert_clean_log(app.extensions["dalil"].config["gateway"]["log_file"], allowed=STORAGE_ERRORS)


def test_browsing_the_menus_works_on_a_read_only_database(app):
    client = app.test_client()
    db = app.extensions["dalil"].db()
    client.post(f"{AT}/ussd", data={"sessionId": "b-0", "phoneNumber": "+21620123456", "text": ""})
    client.post(f"{AT}/ussd", data={"sessionId": "b-0", "phoneNumber": "+21620123456", "text": "2"})  # Français
    client.post(f"{AT}/ussd", data={"sessionId": "b-0", "phoneNumber": "+21620123456", "text": "2*1"})  # Kairouan
    db.execute("PRAGMA query_only = ON")
    try:
        # a returning caller: menu, jobs and training, a key, back, another list
        for text in ("", "1", "1*1", "1*1*0", "1*1*0*2"):
            r = client.post(f"{AT}/ussd", data={"sessionId": "b-1", "phoneNumber": "+21620123456", "text": text})
            assert r.status_code == 200 and r.get_data(as_text=True).startswith(("CON ", "END ")), text
        assert client.get("/healthz").status_code == 200
    finally:
        db.execute("PRAGMA query_only = OFF")


CONFIG = """
[gateway]
database = "dalil.db"
keys_dir = "keys"
log_level = "INFO"

[channels.africastalking]
enabled = true
webhook_token = "at-token-disk"

[dispatcher]
enabled = false
"""


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="prlimit is Linux-only")
def test_disk_full_during_webhooks_then_the_providers_retry_succeeds(tmp_path):
    config = write_config(tmp_path, CONFIG)  # no log file: the limit would stop it too; stderr is a pipe
    db_path = tmp_path / "dalil.db"
    hook = "/hooks/africastalking/at-token-disk"
    sms = {"from": "+21620123456", "text": "JOIN", "to": "20880", "date": "2026-03-05 10:00:00"}
    with ServerProcess(config, free_port()) as server:
        assert server.post(f"{hook}/sms", data={**sms, "id": "disk-0"}).status_code == 200
        assert server.post(f"{hook}/ussd", data={"sessionId": "d-1", "phoneNumber": "+21650000111",
                                                 "text": ""}).status_code == 200
        with sqlite3.connect(db_path) as conn:  # fold the WAL into the file: the next write must grow the WAL
            assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
            before = database_digest(conn, ["inbound_seen", "outbox", "contacts", "subscribers", "consent_log"])
        soft, hard = resource.prlimit(server.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (0, hard))  # the disk is full
        try:
            refused = [server.post(f"{hook}/sms", data={**sms, "id": "disk-1"}),
                       server.post(f"{hook}/ussd", data={"sessionId": "d-1", "phoneNumber": "+21650000111",
                                                         "text": "2"})]
            browsing = server.post(f"{hook}/ussd", data={"sessionId": "d-2", "phoneNumber": "+21620123456",
                                                         "text": ""})
        finally:
            resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (soft, hard))  # space again
        for r in refused:
            assert r.status_code == 503 and r.json()["reason"] == "storage unavailable, try again", r.text
        assert browsing.status_code == 200 and browsing.text.startswith("CON ")
        with sqlite3.connect(db_path) as conn:
            assert database_digest(conn, list(before)) == before, "the refused requests wrote something"
        # Africa's Talking posts the SMS again; the caller dials again
        assert server.post(f"{hook}/sms", data={**sms, "id": "disk-1"}).status_code == 200
        assert server.post(f"{hook}/sms", data={**sms, "id": "disk-1"}).status_code == 200  # and once more
        assert server.post(f"{hook}/ussd", data={"sessionId": "d-3", "phoneNumber": "+21650000111",
                                                 "text": ""}).status_code == 200
        chose = server.post(f"{hook}/ussd", data={"sessionId": "d-3", "phoneNumber": "+21650000111", "text": "2"})
        assert chose.status_code == 200
        output = server.text()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM inbound_seen").fetchone()[0] == 2
        replies = conn.execute("SELECT count(*) FROM outbox WHERE kind = 'reply'").fetchone()[0]
        assert replies == 2 * len(before["outbox"]), "the retried SMS was not handled exactly once"
        assert conn.execute("SELECT count(*) FROM contacts WHERE language = 'fr'").fetchone()[0] == 1
    assert_consistent(db_path)
    assert "storage unavailable" in output and "Traceback" not in output, output
