"""Property-based fuzzing of every provider webhook, past what the channel tests already fuzz.

The channel tests fuzz short form fields (tests/test_channel_*.py) and the USSD endpoints
(tests/test_fuzz_information_line.py). Here: the AT end-of-session notification; every hook with raw bodies of
any content type; values of any size and script, injection strings, ids that match real outbox rows (so delivery
reports and opt-outs really run), Twilio requests validly signed over random fields and query strings, SMSSync
JSON with lone surrogates and out-of-range numbers, the generic aggregator by GET, form and JSON in both input
modes. After every example: no 5xx, no traceback or unhandled error in the log, the database consistent
(integrity, foreign keys, no half-written row: tests/test_fuzz_support.py).
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from twilio.request_validator import RequestValidator

from gateway import create_app, outbox
from gateway.store import close_thread_connections, transaction
from handler_cases import webhook_channels
from test_fuzz_support import assert_clean_log, assert_consistent, fuzz_examples

AT = "/hooks/africastalking/at-token-3f9a"
AGG = "/hooks/ussd/agg-token-77"
SMSSYNC_SECRET = "phone-secret-0000"
TWILIO_TOKEN = "twilio-token-for-fuzz"
PUBLIC = "https://dalil.example.tn"

FUZZ = settings(max_examples=fuzz_examples(80), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

INJECTIONS = ["'; DROP TABLE outbox;--", "\" OR 1=1 --", "{{7*7}}", "${7*7}", "<script>alert(1)</script>",
              "%s%s%n", "../../../etc/passwd", "\x00", "\u202e1*2", "١٢٣*٤", "*" * 300, "1" * 40, "+" + "9" * 30,
              "00216 20 123 456", "NaN", "-1", "1e400", "²", "STOP", "ERASE", "اشترك شغل القيروان"]
printable = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
values = st.one_of(printable, st.sampled_from(INJECTIONS), st.text(alphabet="0123456789*#", max_size=30),
                   st.sampled_from(["x" * 5000, "ب" * 3000]))
phones = st.one_of(st.sampled_from(["+21620123456", "+21698765432", "21650111222", "20123456", "+254711000111"]),
                   values)
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain", "text/xml",
                 "multipart/form-data; boundary=x", "application/octet-stream", "application/x-www-form-urlencoded; "
                 "charset=latin-1"]

AT_SENT_IDS = ["ATXid_known_0", "ATXid_known_1", "ATXid_known_2"]
TWILIO_SIDS = ["SM" + "a" * 32, "SM" + "b" * 32, "SM" + "c" * 32]


def sent_rows(db, channel: str, ids: list[str]) -> None:
    """Messages that went out through ``channel`` with these provider ids: receipts for them really move rows."""
    for i, provider_id in enumerate(ids):
        msg_id = outbox.enqueue(db, "+21620123456", f"sent {i}", kind="notice", sensitive=bool(i % 2))
        with transaction(db):
            db.execute("UPDATE outbox SET state = 'sending', channel = ?, lease_owner = 'fuzz', lease_until = 1e12 "
                       "WHERE id = ?", [channel, msg_id])
            outbox.mark_sent(db, msg_id, provider_id)


@pytest.fixture
def app(make_config):
    app = create_app(make_config(
        gateway={"public_url": PUBLIC},
        channels=webhook_channels(TWILIO_TOKEN, SMSSYNC_SECRET)))
    from flows import directory
    db = app.extensions["dalil"].db()
    directory.load_demo(db)
    sent_rows(db, "africastalking", AT_SENT_IDS)
    sent_rows(db, "twilio", TWILIO_SIDS)
    yield app
    close_thread_connections()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def check(app, config):
    """After each example: what an operator would check."""
    log_file = app.extensions["dalil"].config["gateway"]["log_file"]

    def run(*responses):
        for r in responses:
            assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
        assert_clean_log(log_file)
        assert_consistent(app.extensions["dalil"].db())
    return run


# -- Africa's Talking ---------------------------------------------------------------------------------------------

AT_FIELDS = ["sessionId", "phoneNumber", "serviceCode", "text", "networkCode", "status", "hopsCount", "input",
             "durationInMillis", "errorMessage", "cost", "date", "from", "to", "id", "linkId", "failureReason",
             "retryCount", "x"]


@FUZZ
@given(form=st.dictionaries(st.sampled_from(AT_FIELDS), values, max_size=10),
       session=st.sampled_from(["fz-1", "fz-2", ""]))
def test_at_end_of_session_notification_never_fails(client, check, form, session):
    """AT posts the end of every session; whatever it holds, the answer is 200 or a 400 naming the field, and the
    session is gone: the next hop on that id gets the start screen."""
    if session:
        form = {**form, "sessionId": session}
        client.post(f"{AT}/ussd", data={"sessionId": session, "phoneNumber": "+21620123456", "text": ""})
    r = client.post(f"{AT}/ussd-end", data=form)
    assert r.status_code in (200, 400), r.get_data(as_text=True)
    if r.status_code == 400:
        assert "sessionId" in r.get_json()["reason"]
    elif session:
        again = client.post(f"{AT}/ussd", data={"sessionId": session, "phoneNumber": "+21620123456", "text": "1*2"})
        assert again.status_code == 200 and again.get_data(as_text=True).startswith("CON ")
    check(r)


@FUZZ
@given(form=st.dictionaries(st.sampled_from(AT_FIELDS), values, max_size=10), phone=phones,
       provider_id=st.one_of(st.sampled_from(AT_SENT_IDS), values),
       status=st.one_of(st.sampled_from(["Success", "Failed", "Rejected", "Sent", "Buffered", "Submitted"]), values),
       reason=st.one_of(st.sampled_from(["UserInBlacklist", "UserInBlackList", "InsufficientCredit"]), values))
def test_at_sms_and_delivery_reports_with_real_ids_and_any_values(client, check, form, phone, provider_id, status,
                                                                  reason):
    sms = client.post(f"{AT}/sms", data={**form, "from": phone, "id": provider_id})
    assert sms.status_code in (200, 400)
    report = client.post(f"{AT}/delivery", data={**form, "id": provider_id, "status": status,
                                                 "failureReason": reason, "phoneNumber": phone})
    assert report.status_code in (200, 400)
    check(sms, report)


@FUZZ
@given(body=st.one_of(st.binary(max_size=600), values.map(str.encode)),
       content_type=st.sampled_from(CONTENT_TYPES),
       hook=st.sampled_from([f"{AT}/ussd", f"{AT}/ussd-end", f"{AT}/sms", f"{AT}/delivery", "/hooks/twilio/sms",
                             "/hooks/twilio/status", f"/hooks/smssync?secret={SMSSYNC_SECRET}",
                             f"/hooks/smssync?task=sent&secret={SMSSYNC_SECRET}",
                             f"/hooks/smssync?task=result&secret={SMSSYNC_SECRET}", AGG]))
def test_raw_bodies_on_every_hook(client, check, body, content_type, hook):
    r = client.post(hook, data=body, content_type=content_type)
    assert r.status_code in (200, 204, 400, 403, 413), (hook, r.status_code)
    check(r)


@FUZZ
@given(token=st.one_of(printable.filter(lambda t: "/" not in t and t not in ("at-token-3f9a",)),
                       st.sampled_from(["at-token-3f9", "at-token-3f9a ", "AT-TOKEN-3F9A", "at-token-3f9aa"])),
       hook=st.sampled_from(["ussd", "ussd-end", "sms", "delivery"]))
def test_a_wrong_at_token_is_always_404_and_changes_nothing(app, client, check, token, hook):
    from urllib.parse import quote
    before = app.extensions["dalil"].db().execute("SELECT count(*) FROM outbox").fetchone()[0]
    r = client.post(f"/hooks/africastalking/{quote(token, safe='')}/{hook}",
                    data={"sessionId": "s", "phoneNumber": "+21620123456", "from": "+21620123456", "text": "JOIN",
                          "id": "x", "status": "Success"})
    assert r.status_code in (404, 405)
    assert app.extensions["dalil"].db().execute("SELECT count(*) FROM outbox").fetchone()[0] == before
    check(r)


# -- Twilio: validly signed requests over random fields -----------------------------------------------------------

TWILIO_FIELDS = ["From", "To", "Body", "MessageSid", "SmsSid", "SmsMessageSid", "MessageStatus", "SmsStatus",
                 "ErrorCode", "ErrorMessage", "NumSegments", "NumMedia", "AccountSid", "MessagingServiceSid",
                 "ApiVersion", "FromCountry", "OptOutType", "x"]


def signed_post(client, path, params, query=""):
    url = PUBLIC + path + (f"?{query}" if query else "")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    return client.post(path + (f"?{query}" if query else ""), data=params, headers={"X-Twilio-Signature": signature})


@FUZZ
@given(form=st.dictionaries(st.sampled_from(TWILIO_FIELDS), values, max_size=10),
       sid=st.one_of(st.sampled_from(TWILIO_SIDS), values), sender=phones,
       status=st.one_of(st.sampled_from(["delivered", "undelivered", "failed", "read", "sent", "canceled"]), values),
       code=st.one_of(st.sampled_from(["21610", "30003", "30005", "0", "²", "99999999999999999999999"]), values),
       query=st.sampled_from(["", "a=1", "x=%F0%9F%98%80", "MessageSid=other"]))
def test_twilio_signed_requests_with_any_fields(client, check, form, sid, sender, status, code, query):
    sms = signed_post(client, "/hooks/twilio/sms", {**form, "MessageSid": sid, "From": sender}, query)
    assert sms.status_code in (200, 400), sms.get_data(as_text=True)
    report = signed_post(client, "/hooks/twilio/status", {**form, "MessageSid": sid, "MessageStatus": status,
                                                          "ErrorCode": code, "To": sender}, query)
    assert report.status_code in (204, 400), report.get_data(as_text=True)
    check(sms, report)


@FUZZ
@given(form=st.dictionaries(st.sampled_from(TWILIO_FIELDS), values, max_size=8),
       signature=st.one_of(st.none(), st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=200),
                           st.sampled_from(["", "=", "AAAA", "x" * 400])),  # a header holds no line break
       signed_as=st.sampled_from(["nothing", "other-url", "other-token", "other-fields"]),
       hook=st.sampled_from(["sms", "status"]))
def test_twilio_without_a_valid_signature_is_always_403_and_changes_nothing(app, client, check, form, signature,
                                                                            signed_as, hook):
    db = app.extensions["dalil"].db()
    before = db.execute("SELECT id, state FROM outbox ORDER BY id").fetchall()
    form = {**form, "MessageSid": "SM" + "f" * 32, "From": "+21620123456", "Body": "JOIN", "MessageStatus": "failed"}
    path = f"/hooks/twilio/{hook}"
    if signed_as == "other-url":
        signature = RequestValidator(TWILIO_TOKEN).compute_signature("http://127.0.0.1:8080" + path, form)
    elif signed_as == "other-token":
        signature = RequestValidator("not-the-token").compute_signature(PUBLIC + path, form)
    elif signed_as == "other-fields":
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, {**form, "Body": "STOP"})
    headers = {} if signature is None else {"X-Twilio-Signature": signature.encode("utf-8", "replace")
                                            .decode("latin-1")}
    r = client.post(path, data=form, headers=headers)
    assert r.status_code == 403
    assert db.execute("SELECT id, state FROM outbox ORDER BY id").fetchall() == before
    check(r)


# -- SMSSync -------------------------------------------------------------------------------------------------------

# JSON can carry lone surrogates as \ud800 escapes, and Python's json reads NaN and Infinity
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
any_json_text = st.one_of(st.text(max_size=40), surrogates, surrogates.map(lambda s: "ok" + s))
numbers = st.one_of(st.integers(), st.floats(), st.sampled_from([float("inf"), float("-inf"), float("nan"), 10**30,
                                                                 -(10**30), 2**63, 1.5]))
json_values = st.recursive(st.none() | st.booleans() | numbers | any_json_text,
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_json_text, inner,
                                                                                        max_size=4), max_leaves=12)


def handed_uuids(client) -> list[str]:
    r = client.get(f"/hooks/smssync?task=send&secret={SMSSYNC_SECRET}")
    return [m["uuid"] for m in r.get_json()["payload"]["messages"]]


@FUZZ
@given(results=st.lists(st.fixed_dictionaries({}, optional={
           "uuid": st.one_of(st.just("<real>"), any_json_text, json_values),
           "sent_result_code": st.one_of(numbers, any_json_text, st.none()),
           "sent_result_message": st.one_of(any_json_text, json_values),
           "delivered_result_code": st.one_of(numbers, any_json_text, st.none()),
           "delivered_result_message": any_json_text}), max_size=5),
       sent=st.lists(st.one_of(st.just("<real>"), any_json_text, json_values), max_size=5),
       inbound=st.dictionaries(st.sampled_from(["from", "message", "message_id", "sent_timestamp", "device_id",
                                                "sent_to", "x"]), values, max_size=6),
       sender=phones)
def test_smssync_with_real_uuids_and_any_json(app, client, check, results, sent, inbound, sender):
    outbox.enqueue(app.extensions["dalil"].db(), "+21620123456", "to the phone", kind="notice")
    real = handed_uuids(client) or ["none"]
    swap = lambda v: real[0] if v == "<real>" else v  # noqa: E731
    results = [{**r, "uuid": swap(r["uuid"])} if "uuid" in r else r for r in results]
    body = {"secret": SMSSYNC_SECRET, "queued_messages": [swap(v) for v in sent], "message_result": results}
    raw = json.dumps(body, allow_nan=True)  # as Python's json reads it: NaN, Infinity and \ud800 included
    r1 = client.post(f"/hooks/smssync?task=sent&secret={SMSSYNC_SECRET}", data=raw, content_type="application/json")
    r2 = client.post(f"/hooks/smssync?task=result&secret={SMSSYNC_SECRET}", data=raw,
                     content_type="application/json")
    r3 = client.post("/hooks/smssync", data={**inbound, "from": sender, "message": inbound.get("message", "MENU"),
                                             "secret": SMSSYNC_SECRET})
    r4 = client.get(f"/hooks/smssync?task=result&secret={SMSSYNC_SECRET}")
    for r in (r1, r2, r3):
        assert r.status_code in (200, 400), r.get_data(as_text=True)
    assert r4.status_code == 200
    check(r1, r2, r3, r4)


# -- the generic aggregator ----------------------------------------------------------------------------------------

@pytest.fixture(params=["whole-text", "last-json"])
def aggregator(request, make_config, tmp_path):
    mode, fmt = request.param.split("-")
    app = create_app(make_config(channels={"generic_ussd": {"token": "agg-token-77", "input_mode": mode,
                                                            "response_format": fmt, "session_field": "SESSION_ID",
                                                            "phone_field": "MSISDN", "text_field": "USSD_STRING"}}))
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    yield app
    close_thread_connections()


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["SESSION_ID", "MSISDN", "USSD_STRING", "sessionId", "other"]),
                              st.one_of(values, json_values), max_size=5),
       session=st.sampled_from(["agg-1", "agg-2"]), phone=phones, how=st.sampled_from(["get", "form", "json"]),
       keys=st.lists(st.text(alphabet="0123456789*#", max_size=4), max_size=5))
def test_aggregator_by_get_form_and_json_in_both_input_modes(aggregator, fields, session, phone, how, keys):
    client = aggregator.test_client()
    log_file = aggregator.extensions["dalil"].config["gateway"]["log_file"]
    typed = []
    for key in [None, *keys]:
        if key is not None:
            typed.append(key)
        text = "*".join(typed) if aggregator.extensions["dalil"].config["channels.generic_ussd"]["input_mode"] == \
            "whole" else (key or "")
        data = {**fields, "SESSION_ID": session, "MSISDN": phone, "USSD_STRING": text}
        if how in ("get", "form"):
            # a lone surrogate goes on the wire as the invalid UTF-8 bytes a broken client would send
            flat = urlencode({k: (v if isinstance(v, str) else json.dumps(v)).encode("utf-8", "surrogatepass")
                              for k, v in data.items()})
            r = client.get(f"{AGG}?{flat}") if how == "get" else \
                client.post(AGG, data=flat, content_type="application/x-www-form-urlencoded")
        else:
            r = client.post(AGG, data=json.dumps(data), content_type="application/json")
        assert r.status_code in (200, 400), r.get_data(as_text=True)
        if r.status_code == 200:
            answer = r.get_json() if r.is_json else None
            assert (answer["action"] in ("continue", "end") and answer["message"]) if answer else \
                r.get_data(as_text=True)[:4] in ("CON ", "END ")
    assert_clean_log(log_file)
    assert_consistent(aggregator.extensions["dalil"].db())
