"""Africa's Talking SMS: the official SDK's bulk send against our fake, inbound SMS (re-sent until 200) and
delivery reports, posted as AT posts them (form fields, token in the path, no signature)."""
from __future__ import annotations


import pytest

from handler_cases import fields, sent_row, state_of
from fakes import FakeAfricasTalking
from gateway import initialize, outbox
from gateway.channels import africastalking as channel
from gateway.config import load

TOKEN = "at-token-3f9a"  # tests/conftest.py BASE_CONFIG
HOOKS = f"/hooks/africastalking/{TOKEN}"


# -- inbound SMS ----------------------------------------------------------------------------------------------------

# -- delivery reports -----------------------------------------------------------------------------------------------

def test_delivery_reports_move_the_message(app, client, monkeypatch):
    opted, db = [], app.extensions["dalil"].db()
    monkeypatch.setattr(app.extensions["dalil"].hooks, "opt_out",
                        lambda db, phone, *, channel, via: opted.append((phone, channel, via)))
    ok = sent_row(db, "africastalking", "ATXid_ok", sensitive=False, kind="blast")
    blocked = sent_row(db, "africastalking", "ATXid_blocked", sensitive=False, kind="blast")
    rejected = sent_row(db, "africastalking", "ATXid_rejected", sensitive=False, kind="blast")
    for status in ("Sent", "Submitted", "Buffered"):
        report = {**fields("at_sms_delivery_success.json"), "id": "ATXid_ok", "status": status}
        assert client.post(f"{HOOKS}/delivery", data=report).status_code == 200
        assert state_of(db, ok) == ("sent", None)
    client.post(f"{HOOKS}/delivery", data={**fields("at_sms_delivery_success.json"), "id": "ATXid_ok"})
    client.post(f"{HOOKS}/delivery", data={**fields("at_sms_delivery_failed.json"), "id": "ATXid_blocked"})
    client.post(f"{HOOKS}/delivery", data={"id": "ATXid_rejected", "status": "Rejected",
                                           "failureReason": "DeliveryFailure"})
    assert state_of(db, ok) == ("delivered", None)
    assert state_of(db, blocked) == ("failed", "africastalking Failed: UserInBlackList")
    assert state_of(db, rejected) == ("failed", "africastalking Rejected: DeliveryFailure")
    assert opted == [("+21620123456", "africastalking", "africastalking Failed: UserInBlackList")]


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
