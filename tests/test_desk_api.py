"""Bad input and attacks on the desk API: each refused with a clear reason and a log line, never a 500 or a leak."""
from __future__ import annotations

import json
import logging
import time

import pytest

from harness import LiveServer
from referrals.protocol import note, sealing
from referrals.desk import client, home as desk_home, store as desk_store
from referrals.protocol.desk_auth import sign
from test_referral_support import add_cso, point_desk, refer

MUNICIPALITY, COORDINATOR = "muni-token-0123456789", "coord-token-0123456789"


@pytest.fixture
def config(make_config):
    return make_config(referrals={"municipality_token": MUNICIPALITY, "coordinator_token": COORDINATOR})


@pytest.fixture
def two(app, tmp_path):
    """Two CSOs, one referral each."""
    amal = desk_home.load(add_cso(app, tmp_path, "amal", needs=("legal",)))
    nour = desk_home.load(add_cso(app, tmp_path, "nour", needs=("health",)))
    return amal, nour, refer(app, "amal", need="legal"), refer(app, "nour", need="health")


def signed(c, desk, method, path, body=None, **kw):
    data = json.dumps(body).encode() if body is not None else b""
    headers = sign(desk.cso_id, desk.token, desk.sign_key, method, path, data, **kw)
    headers["Content-Type"] = "application/json"
    return c.open(path, method=method, data=data, headers=headers)


def refused(r, status, reason_part, caplog):
    assert r.status_code == status, r.get_data(as_text=True)
    assert reason_part in r.get_json()["reason"]
    assert any("refused" in rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING)


def test_a_signed_request_works_and_its_replay_is_refused(client, two, caplog):
    amal, *_ = two
    data = b""
    headers = sign(amal.cso_id, amal.token, amal.sign_key, "GET", "/api/desk/inbox", data)
    first = client.get("/api/desk/inbox", headers=headers)
    assert first.status_code == 200 and len(first.get_json()["referrals"]) == 1
    refused(client.get("/api/desk/inbox", headers=headers), 401, "replayed", caplog)


def test_forged_stale_and_tokenless_requests_are_refused(client, two, caplog):
    amal, nour, *_ = two
    # signed with another CSO's key
    forged = sign(amal.cso_id, amal.token, nour.sign_key, "GET", "/api/desk/inbox")
    refused(client.get("/api/desk/inbox", headers=forged), 401, "bad request signature", caplog)
    # signed for a different path than the one asked
    moved = sign(amal.cso_id, amal.token, amal.sign_key, "GET", "/api/desk/inbox?known_size=0")
    refused(client.get("/api/desk/inbox", headers=moved), 401, "bad request signature", caplog)
    # body changed after signing
    h = sign(amal.cso_id, amal.token, amal.sign_key, "POST", "/api/desk/ack", b'{"referrals": []}')
    r = client.post("/api/desk/ack", data=b'{"referrals": ["x"]}', headers=h)
    refused(r, 401, "bad request signature", caplog)
    stale = sign(amal.cso_id, amal.token, amal.sign_key, "GET", "/api/desk/inbox", now=time.time() - 3600)
    refused(client.get("/api/desk/inbox", headers=stale), 401, "timestamp outside", caplog)
    wrong_token = sign(amal.cso_id, "not-the-token", amal.sign_key, "GET", "/api/desk/inbox")
    refused(client.get("/api/desk/inbox", headers=wrong_token), 401, "wrong token", caplog)
    other_token = sign(amal.cso_id, nour.token, amal.sign_key, "GET", "/api/desk/inbox")
    refused(client.get("/api/desk/inbox", headers=other_token), 401, "wrong token", caplog)
    refused(client.get("/api/desk/inbox"), 401, "missing authentication", caplog)
    unknown = sign("ghost", amal.token, amal.sign_key, "GET", "/api/desk/inbox")
    refused(client.get("/api/desk/inbox", headers=unknown), 401, "unknown organisation", caplog)


def test_one_csos_credentials_cannot_touch_anothers_referrals(client, two, caplog):
    amal, nour, mine, theirs = two
    # the inbox holds only amal's
    inbox = signed(client, amal, "GET", "/api/desk/inbox").get_json()
    assert [r["id"] for r in inbox["referrals"]] == [mine.referral_id]
    assert all("code" not in r and "need" not in r for r in inbox["referrals"])  # sealed inside, not beside
    # acknowledging or deciding on nour's referral: refused, as if it did not exist
    r = signed(client, amal, "POST", "/api/desk/ack", {"referrals": [theirs.referral_id]})
    refused(r, 404, "no such referral", caplog)
    r = signed(client, amal, "POST", "/api/desk/events", {"events": [{"referral": theirs.referral_id,
                                                                        "event": "accepted"}]})
    refused(r, 404, "no such referral", caplog)
    r = signed(client, amal, "POST", "/api/desk/events", {"events": [{"referral": "nonexistent", "event": "closed"}]})
    refused(r, 404, "no such referral", caplog)
    # nour's envelope is untouched
    assert len(signed(client, nour, "GET", "/api/desk/inbox").get_json()["referrals"]) == 1


def test_malformed_bodies_and_impossible_transitions(client, two, caplog):
    amal, _, mine, _ = two
    for body in (["not", "an", "object"], {"referrals": "x"}, {"events": [{"referral": mine.referral_id,
                                                                             "event": "teleported"}]}):
        path = "/api/desk/events" if "events" in str(body) else "/api/desk/ack"
        r = signed(client, amal, "POST", path, body)
        assert r.status_code == 400, (body, r.get_data(as_text=True))
    h = sign(amal.cso_id, amal.token, amal.sign_key, "POST", "/api/desk/ack", b"{not json")
    assert client.post("/api/desk/ack", data=b"{not json", headers=h).status_code == 400
    assert signed(client, amal, "POST", "/api/desk/ack", {"referrals": [mine.referral_id]}).status_code == 200
    ok = signed(client, amal, "POST", "/api/desk/events",
                {"events": [{"referral": mine.referral_id, "event": "closed"}]})
    assert ok.status_code == 200
    r = signed(client, amal, "POST", "/api/desk/events", {"events": [{"referral": mine.referral_id,
                                                                        "event": "accepted"}]})
    refused(r, 409, "cannot be accepted", caplog)


def test_roles(client, two, caplog):
    _, _, mine, _ = two
    muni = {"Authorization": f"Bearer {MUNICIPALITY}"}
    coord = {"Authorization": f"Bearer {COORDINATOR}"}
    assert client.get("/api/reports/referrals", headers=muni).status_code == 200
    for path in ("/api/csos", "/api/desk/inbox"):
        refused(client.get(path, headers=muni), 403, "may not" if "desk" not in path else "role tokens", caplog)
    assert client.post("/api/desk/ack", headers=muni, json={}).status_code == 403
    assert client.get("/api/csos").status_code == 401
    listed = client.get("/api/csos", headers=coord).get_json()["csos"]
    assert {c["id"] for c in listed} == {"amal", "nour"}
    assert all("token_hash" not in c and "box_key" not in c for c in listed)
    # the gateway keeps no reference code, so it has no status-by-code page: the coordinator asks the CSO
    assert client.get(f"/api/referrals/{mine.code}", headers=coord).status_code == 404


def test_public_checkpoint(client, two):
    body = client.get("/api/ledger/head").get_json()
    cp = note.open_checkpoint(body["checkpoint"], note.parse_vkey(body["log_key"]))
    assert cp.size == 4  # two registrations, two referrals


@pytest.fixture
def served(app):
    with LiveServer(app) as live:
        yield live


def test_tampered_envelope_is_refused_by_the_desk_and_not_acknowledged(app, served, tmp_path, caplog):
    home = add_cso(app, tmp_path, "amal", url=served.url)
    good, bad = refer(app), refer(app)
    db = app.extensions["dalil"].db()
    box = bytearray(db.execute("SELECT envelope FROM referrals WHERE id = ?", [bad.referral_id]).fetchone()[0])
    box[40] ^= 0xFF
    db.execute("UPDATE referrals SET envelope = ? WHERE id = ?", [bytes(box), bad.referral_id])
    desk = desk_home.load(home)
    result = client.sync(desk)
    assert result.received == 1 and any(bad.referral_id[:12] in a for a in result.alerts)
    with desk_store.connect(desk.db_path) as conn:
        assert [r["code"] for r in desk_store.referrals(conn)] == [good.code]
        alerts = desk_store.alerts(conn)
    assert alerts[0]["kind"] == "envelope" and "differs from the one the log recorded" in alerts[0]["params"]["reason"]
    # the tampered one stays on the gateway (not acknowledged), the good one is gone
    assert [r for (r,) in db.execute("SELECT id FROM referrals")] == [bad.referral_id]
    # a second sync does not alert again
    assert not client.sync(desk).alerts


def test_envelope_swapped_between_rows_fails_the_signature(app, tmp_path):
    """Consistent with the log but moved: the gateway's signature binds an envelope to its referral and CSO."""
    from referrals.keyring import gateway_key
    home = add_cso(app, tmp_path, "amal")
    a, b = refer(app), refer(app)
    desk = desk_home.load(home)
    db = app.extensions["dalil"].db()
    box_b, sig_b = db.execute("SELECT envelope, signature FROM referrals WHERE id = ?", [b.referral_id]).fetchone()
    with pytest.raises(sealing.EnvelopeError, match="signature"):
        sealing.open_envelope(desk.gateway_key, "amal", desk.box_secret, a.referral_id, box_b, sig_b)
    content = sealing.open_envelope(desk.gateway_key, "amal", desk.box_secret, b.referral_id, box_b, sig_b)
    assert content["code"] == b.code
    assert gateway_key(app.extensions["dalil"]).verify_key == desk.gateway_key


def test_desk_works_offline_and_sends_decisions_later(app, tmp_path):
    home = add_cso(app, tmp_path, "amal")
    with LiveServer(app) as live:
        point_desk(home, live.url, "fr")
        desk = desk_home.load(home)
        s = refer(app)
        assert client.sync(desk).received == 1
    # the gateway is gone: the caseworker still reads and decides
    assert client.act(desk, s.referral_id, "accepted")
    offline = client.sync(desk)
    assert offline.offline and "unreachable" in offline.error
    web = __import__("referrals.desk.web", fromlist=["x"]).create_desk_app(desk).test_client()
    page = web.get(f"/r/{s.referral_id}", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert "+21620123456" in page and "Accepté" in page
    db = app.extensions["dalil"].db()
    assert db.execute("SELECT state FROM delivered").fetchone()[0] == "fetched"
    with LiveServer(app) as live:
        point_desk(home, live.url)
        back = client.sync(desk_home.load(home))
        assert back.ok and back.sent == 1
    assert db.execute("SELECT state FROM delivered").fetchone()[0] == "accepted"


def test_desk_inbox_refuses_foreign_hosts_and_missing_form_tokens(app, tmp_path):
    from referrals.desk.web import create_desk_app
    home = add_cso(app, tmp_path, "amal")
    web = create_desk_app(desk_home.load(home)).test_client()
    assert web.get("/", base_url="http://evil.example:8765").status_code == 403
    assert web.post("/sync", base_url="http://127.0.0.1:8765").status_code == 403


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

junk = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=80)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/api/desk/inbox", "/api/desk/inbox?known_size=", "/api/desk/ack", "/api/desk/events",
                             "/api/desk/ledger/consistency?from=1&to=", "/api/referrals/", "/api/csos",
                             "/api/reports/referrals"]),
       suffix=junk, cso=junk, ts=junk, nonce=junk, sig=junk, token=junk, body=st.binary(max_size=200),
       valid_signature=st.booleans())
def test_garbage_never_causes_a_500(client, two, path, suffix, cso, ts, nonce, sig, token, body, valid_signature):
    amal, *_ = two
    from urllib.parse import quote
    full = path + quote(suffix, safe="") if path.endswith(("=", "/")) else path
    if valid_signature:
        headers = sign(amal.cso_id, amal.token, amal.sign_key, "POST" if "ack" in path or "events" in path else "GET",
                       full, body)
    else:
        headers = {"Authorization": f"Bearer {token}", "X-Dalil-CSO": cso, "X-Dalil-Timestamp": ts,
                   "X-Dalil-Nonce": nonce, "X-Dalil-Signature": sig}
    headers = {k: v.encode("utf-8", "replace").decode("latin-1") for k, v in headers.items()}
    method = client.post if "ack" in path or "events" in path else client.get
    r = method(full, data=body, headers=headers)
    assert r.status_code < 500, (full, r.status_code, r.get_data(as_text=True))
    # 308: a suffix with "/" makes "//", which Werkzeug redirects to the single-slash path (no handler runs)
    assert r.is_json and "reason" in r.get_json() or r.status_code in (200, 308)
