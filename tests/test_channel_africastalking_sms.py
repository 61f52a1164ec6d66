"""Africa's Talking SMS: the official SDK's bulk send against our fake, inbound SMS (re-sent until 200) and
delivery reports, posted as AT posts them (form fields, token in the path, no signature)."""
from __future__ import annotations

import json
import logging

import pytest

from harness import PAYLOADS
from fakes import FakeAfricasTalking
from gateway import initialize, outbox
from gateway.channels import africastalking as channel
from gateway.config import load
from gateway.store import transaction

TOKEN = "at-token-3f9a"  # tests/conftest.py BASE_CONFIG
HOOKS = f"/hooks/africastalking/{TOKEN}"


def fields(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def replies(app):
    return app.extensions["dalil"].db().execute("SELECT count(*) FROM outbox WHERE kind = 'reply'").fetchone()[0]


# -- inbound SMS ----------------------------------------------------------------------------------------------------

def test_inbound_sms_resent_by_at_creates_one_reply(app, client):
    form = fields("at_sms_inbound.json")
    assert client.post(f"{HOOKS}/sms", data=form).status_code == 200
    queued = replies(app)
    assert queued >= 1
    for _ in range(3):  # AT re-sends until it sees a 200, for up to 12 hours
        assert client.post(f"{HOOKS}/sms", data=form).status_code == 200
    assert replies(app) == queued


def test_inbound_sms_with_a_wrong_token_is_not_found(app, client):
    response = client.post("/hooks/africastalking/guess/sms", data=fields("at_sms_inbound.json"))
    assert response.status_code == 404 and replies(app) == 0


@pytest.mark.parametrize("change", [{"from": ""}, {"from": "not a number"}])
def test_malformed_inbound_sms_is_a_400(client, change):
    response = client.post(f"{HOOKS}/sms", data={**fields("at_sms_inbound.json"), **change})
    assert response.status_code == 400 and response.json["error"] == "Bad Request" and response.json["reason"]


def test_inbound_sms_without_an_id_is_still_idempotent(app, client):
    form = fields("at_sms_inbound.json")
    form.pop("id")
    client.post(f"{HOOKS}/sms", data=form)
    queued = replies(app)
    client.post(f"{HOOKS}/sms", data=form)
    assert replies(app) == queued >= 1


# -- delivery reports -----------------------------------------------------------------------------------------------

def sent_row(app, message_id):
    db = app.extensions["dalil"].db()
    msg = outbox.enqueue(db, "+21620123456", "news", kind="blast")
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'sending', channel = 'africastalking' WHERE id = ?", [msg])
    outbox.mark_sent(db, msg, message_id)
    return msg


def state_of(app, msg):
    return app.extensions["dalil"].db().execute("SELECT state, error FROM outbox WHERE id = ?", [msg]).fetchone()


def test_delivery_reports_move_the_message(app, client, monkeypatch):
    opted = []
    monkeypatch.setattr(app.extensions["dalil"].hooks, "opt_out",
                        lambda db, phone, *, channel, via: opted.append((phone, channel, via)))
    ok = sent_row(app, "ATXid_ok")
    blocked = sent_row(app, "ATXid_blocked")
    rejected = sent_row(app, "ATXid_rejected")
    for status in ("Sent", "Submitted", "Buffered"):
        report = {**fields("at_sms_delivery_success.json"), "id": "ATXid_ok", "status": status}
        assert client.post(f"{HOOKS}/delivery", data=report).status_code == 200
        assert state_of(app, ok) == ("sent", None)
    client.post(f"{HOOKS}/delivery", data={**fields("at_sms_delivery_success.json"), "id": "ATXid_ok"})
    client.post(f"{HOOKS}/delivery", data={**fields("at_sms_delivery_failed.json"), "id": "ATXid_blocked"})
    client.post(f"{HOOKS}/delivery", data={"id": "ATXid_rejected", "status": "Rejected",
                                           "failureReason": "DeliveryFailure"})
    assert state_of(app, ok) == ("delivered", None)
    assert state_of(app, blocked) == ("failed", "africastalking Failed: UserInBlackList")
    assert state_of(app, rejected) == ("failed", "africastalking Rejected: DeliveryFailure")
    assert opted == [("+21620123456", "africastalking", "africastalking Failed: UserInBlackList")]


def test_report_for_an_unknown_id_is_accepted_and_logged_without_the_number(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.post(f"{HOOKS}/delivery", data={**fields("at_sms_delivery_success.json"), "id": "ATXid_x"})
    assert response.status_code == 200
    assert "do not know" in caplog.text and "20123456" not in caplog.text


def test_malformed_or_misaddressed_delivery_reports(client):
    missing = client.post(f"{HOOKS}/delivery", data={"status": "Success"})
    assert missing.status_code == 400 and "id" in missing.json["reason"]
    assert client.post("/hooks/africastalking/nope/delivery",
                       data=fields("at_sms_delivery_success.json")).status_code == 404


# -- sending with the SDK -------------------------------------------------------------------------------------------

@pytest.fixture
def fake():
    with FakeAfricasTalking() as server:
        yield server


def sender_for(make_config, fake, **extra):
    cfg = load(make_config(channels={"africastalking": fake.channel_config(**extra)}))
    return channel.Sender(initialize(cfg))


def message(to="+21620123456", body="Bonjour"):
    return outbox.Outgoing(7, to, body, "africastalking", 1, "k7", 1, False)


def test_sdk_bulk_send_with_sender_id(make_config, fake):
    message_id = sender_for(make_config, fake, sender_id="DALIL").send(message(body="مرحبا"))
    [sent] = fake.messages
    assert message_id == sent["id"] and message_id.startswith("ATXid_")
    assert (sent["to"], sent["body"], sent["from"], sent["bulk"]) == ("+21620123456", "مرحبا", "DALIL", "1")


def test_sdk_send_without_sender_id_uses_ats_default(make_config, fake):
    sender_for(make_config, fake).send(message())
    assert fake.messages[0]["from"] is None


@pytest.mark.parametrize("kind, options, error_type, reason, opt_out", [
    ("permanent", {"code": 403}, outbox.Permanent, "africastalking 403 InvalidPhoneNumber", False),
    ("permanent", {"code": 406}, outbox.Permanent, "africastalking 406 UserInBlacklist", True),
    ("permanent", {"code": 405, "status": "InsufficientBalance"}, outbox.Transient,
     "africastalking 405 InsufficientBalance", False),
    ("permanent", {"code": 500, "status": "InternalServerError"}, outbox.Transient,
     "africastalking 500 InternalServerError", False),
    ("error", {"status": 502}, outbox.Transient, "africastalking HTTP 502", False),
    ("throttle", {}, outbox.Transient, "africastalking HTTP 429", False),
    ("disconnect", {}, outbox.Transient, "cannot reach Africa's Talking", False),
    ("garbage", {}, outbox.Transient, "africastalking: HTTP 200 reply is not JSON", False),
])
def test_send_errors_are_classified(make_config, fake, kind, options, error_type, reason, opt_out):
    fake.fail_next(kind, **options)
    with pytest.raises(outbox.SendError) as raised:
        sender_for(make_config, fake).send(message())
    assert type(raised.value) is error_type and raised.value.reason.startswith(reason)
    assert raised.value.opt_out is opt_out


def test_wrong_key_timeout_and_bad_number(make_config, fake):
    with pytest.raises(outbox.Transient, match="HTTP 401"):
        sender_for(make_config, fake, api_key="wrong").send(message())
    fake.fail_next("hang", seconds=1.0)
    with pytest.raises(outbox.Transient, match="timeout"):
        sender_for(make_config, fake, timeout_seconds=0.3).send(message())
    with pytest.raises(outbox.Permanent, match="refused by the SDK"):
        sender_for(make_config, fake).send(message(to="0020123456"))


# -- fuzz: whatever AT (or anyone guessing the URL) posts, the answer is never a 500 ---------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

FORM = st.dictionaries(st.sampled_from(["from", "to", "text", "id", "date", "linkId", "networkCode", "status",
                                        "failureReason", "phoneNumber", "retryCount", "x"]),
                       st.text(max_size=40), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=FORM, hook=st.sampled_from(["sms", "delivery"]))
def test_any_form_answers_200_or_400(client, form, hook):
    assert client.post(f"{HOOKS}/{hook}", data=form).status_code in (200, 400)


@pytest.mark.parametrize("reply", [{}, [], "text", {"SMSMessageData": {"Message": "InvalidSenderId",
                                                                      "Recipients": []}}])
def test_a_reply_without_a_recipient_status_is_retried(reply):
    with pytest.raises(outbox.Transient, match="without a recipient"):
        channel.recipient_outcome(reply)
