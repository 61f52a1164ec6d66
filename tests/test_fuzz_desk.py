"""Fuzzing the desk API behind a valid signature: the existing fuzz test (tests/test_desk_api.py) sends random
headers and random bytes; here every request is correctly signed by a real CSO, so the random JSON reaches the
relay itself (acknowledgements, status events, consistency proofs), and the headers carry look-alike digits.
Never a 5xx, never a traceback in the log; the referral log and the database stay consistent, and one CSO's
random ids never touch another CSO's referral."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from referrals.desk import home as desk_home
from referrals.protocol.desk_auth import sign
from test_fuzz_support import assert_clean_log, assert_consistent, fuzz_examples
from test_referral_support import add_cso, refer

FUZZ = settings(max_examples=fuzz_examples(80), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
text = st.one_of(st.text(max_size=30), surrogates, st.sampled_from(["'; DROP TABLE referrals;--", "{{7*7}}", "²",
                                                                    "١٢", "R-", "../", "\x00"]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text,
                    st.sampled_from([10**30, float("inf"), float("nan")]))
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                        max_leaves=12)
# digits that str.isdigit() accepts and int() refuses, or that are not ASCII
odd_digits = st.one_of(st.sampled_from(["²", "¹²", "١٢٣", "𝟙𝟚", "٣", "1²", "", " 1", "1 ", "+1", "-1", "0x10", "1e3",
                                        "99999999999999999999999"]),
                      st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=6))  # a header holds no \n


@pytest.fixture
def desks(app, tmp_path):
    amal = desk_home.load(add_cso(app, tmp_path, "amal", needs=("legal",)))
    nour = desk_home.load(add_cso(app, tmp_path, "nour", needs=("health",)))
    mine, theirs = refer(app, "amal", need="legal"), refer(app, "nour", need="health")
    return amal, nour, mine, theirs


def post_signed(client, desk, path, body: bytes, **kw):
    headers = sign(desk.cso_id, desk.token, desk.sign_key, "POST", path, body, **kw)
    return client.post(path, data=body, headers={**headers, "Content-Type": "application/json"})


def referral_row(app, referral_id):
    from referrals.protocol.events import ref_hash
    db = app.extensions["dalil"].db()
    return (db.execute("SELECT envelope FROM referrals WHERE id = ?", [referral_id]).fetchone(),
            db.execute("SELECT state FROM delivered WHERE ref = ?", [ref_hash(referral_id)]).fetchone())


@FUZZ
@given(referrals=st.lists(st.one_of(st.sampled_from(["<mine>", "<theirs>"]), anything), max_size=4),
       notices=st.one_of(st.lists(anything, max_size=3), anything),
       events=st.lists(st.one_of(st.fixed_dictionaries({"referral": st.one_of(st.sampled_from(["<mine>", "<theirs>"]),
                                                                               anything),
                                                         "event": st.one_of(st.sampled_from(
                                                             ["accepted", "declined", "closed", "erased"]), anything)}),
                                  anything), max_size=3),
       extra=st.dictionaries(text, anything, max_size=2))
def test_signed_random_json_reaches_the_relay_and_never_fails(app, client, desks, referrals, notices, events, extra):
    amal, _, mine, theirs = desks
    swap = {"<mine>": mine.referral_id, "<theirs>": theirs.referral_id}
    fix = lambda v: swap.get(v, v) if isinstance(v, str) else v  # noqa: E731
    events = [{**e, "referral": fix(e["referral"])} if isinstance(e, dict) and "referral" in e else e for e in events]
    theirs_before = referral_row(app, theirs.referral_id)
    for path, body in (("/api/desk/ack", {**extra, "referrals": [fix(r) for r in referrals], "notices": notices}),
                       ("/api/desk/events", {**extra, "events": events})):
        raw = json.dumps(body, allow_nan=True).encode()
        r = post_signed(client, amal, path, raw)
        assert r.status_code in (200, 400, 404, 409), (path, r.status_code, r.get_data(as_text=True))
        assert r.is_json and (r.status_code == 200 or r.get_json()["reason"])
    assert referral_row(app, theirs.referral_id) == theirs_before  # another CSO's referral is out of reach
    assert_clean_log(app.extensions["dalil"].config["gateway"]["log_file"])
    assert_consistent(app.extensions["dalil"].db())


@FUZZ
@given(timestamp=odd_digits, known=odd_digits, first=odd_digits, second=odd_digits,
       which=st.sampled_from(["timestamp", "inbox", "consistency"]))
def test_lookalike_digits_in_headers_and_queries_are_refused_not_500(app, client, desks, timestamp, known, first,
                                                                    second, which):
    amal, *_ = desks
    if which == "timestamp":
        path = "/api/desk/inbox"
        headers = sign(amal.cso_id, amal.token, amal.sign_key, "GET", path)
        headers["X-Dalil-Timestamp"] = timestamp.encode("utf-8", "surrogatepass").decode("latin-1")
    else:
        path = f"/api/desk/inbox?known_size={quote(known)}" if which == "inbox" else \
            f"/api/desk/ledger/consistency?from={quote(first)}&to={quote(second)}"
        headers = sign(amal.cso_id, amal.token, amal.sign_key, "GET", path)
    r = client.get(path, headers=headers)
    assert r.status_code in (200, 400, 401), (path, r.status_code, r.get_data(as_text=True))
    assert_clean_log(app.extensions["dalil"].config["gateway"]["log_file"])


def test_a_replayed_signed_acknowledgement_is_refused_and_changes_nothing(app, client, desks):
    """The desk API's replay test covers a GET; an acknowledgement is the request that deletes an envelope."""
    amal, _, mine, _ = desks
    body = json.dumps({"referrals": [mine.referral_id]}).encode()
    headers = {**sign(amal.cso_id, amal.token, amal.sign_key, "POST", "/api/desk/ack", body),
               "Content-Type": "application/json"}
    assert client.post("/api/desk/ack", data=body, headers=headers).get_json() == {"acknowledged": 1}
    db = app.extensions["dalil"].db()
    log_size = db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    replay = client.post("/api/desk/ack", data=body, headers=headers)
    assert replay.status_code == 401 and "replayed" in replay.get_json()["reason"]
    # the same body signed again with a fresh nonce is a legitimate retry: accepted, and it logs nothing twice
    retry = post_signed(client, amal, "/api/desk/ack", body)
    assert retry.get_json() == {"acknowledged": 0}
    assert db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == log_size
    assert_consistent(db)
