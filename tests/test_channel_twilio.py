"""Twilio: the official client pointed at our fake, and the webhooks signed the way Twilio signs them
(X-Twilio-Signature over the public URL + the POST fields), including behind a TLS proxy."""
from __future__ import annotations

import time

import pytest
from twilio.request_validator import RequestValidator

from handler_cases import PUBLIC, fields, replies
from handler_cases import TWILIO_TOKEN as TOKEN
from handler_cases import twilio_signed as post_signed
from fakes import FakeTwilio
from gateway import create_app, outbox
from gateway.channels import twilio as channel
from gateway.store import close_thread_connections



@pytest.fixture
def app(make_config):
    app = create_app(make_config(
        gateway={"public_url": PUBLIC},
        channels={"twilio": {"enabled": True, "account_sid": "AC" + "1" * 32, "auth_token": TOKEN,
                             "from_number": "+15005550006"}}))
    yield app
    close_thread_connections()


@pytest.fixture
def client(app):
    return app.test_client()


# -- inbound SMS ----------------------------------------------------------------------------------------------------

def test_stop_start_help_go_through_the_common_inbound_path(client, monkeypatch):
    seen = []
    monkeypatch.setattr(channel, "receive_sms", lambda ctx, sms: seen.append(sms) or True)
    for i, word in enumerate(["STOP", "START", "HELP"]):
        params = {**fields("twilio_inbound_sms.json"), "Body": word, "MessageSid": f"SM{i:032d}"}
        assert post_signed(client, "/hooks/twilio/sms", params).status_code == 200
    assert [(s.channel, s.phone, s.text) for s in seen] == [
        ("twilio", "+21620123456", "STOP"), ("twilio", "+21620123456", "START"), ("twilio", "+21620123456", "HELP")]
    assert [s.provider_id for s in seen] == [f"SM{i:032d}" for i in range(3)]


# -- status callbacks -----------------------------------------------------------------------------------------------

# -- sending --------------------------------------------------------------------------------------------------------

@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


def sender_for(make_config, fake, **extra):
    from gateway import initialize
    from gateway.config import load
    cfg = load(make_config(gateway={"public_url": PUBLIC}, channels={"twilio": fake.channel_config(**extra)}))
    return channel.Sender(initialize(cfg))


def message(to="+21620123456", body="Bonjour"):
    return outbox.Outgoing(1, to, body, "twilio", 1, "k1", 1, False)


def test_sender_posts_what_twilio_documents(make_config, fake):
    sid = sender_for(make_config, fake).send(message(body="مرحبا"))
    [sent] = fake.messages
    assert sid == sent["id"] and sid.startswith("SM") and len(sid) == 34
    assert (sent["to"], sent["body"], sent["from"]) == ("+21620123456", "مرحبا", fake.from_number)
    assert sent["status_callback"] == PUBLIC + "/hooks/twilio/status"


def test_sender_with_a_messaging_service_and_no_callback(make_config, fake):
    sender_for(make_config, fake, from_number="MG" + "2" * 32, status_callback=False).send(message())
    [sent] = fake.messages
    assert sent["messaging_service_sid"] == "MG" + "2" * 32 and sent["from"] is None
    assert sent["status_callback"] is None


@pytest.mark.parametrize("kind, options, expected", [
    ("throttle", {}, (outbox.Transient, "twilio 20429: throttled", False)),
    ("error", {}, (outbox.Transient, "twilio 20500", False)),
    ("permanent", {"code": 21610}, (outbox.Permanent, "twilio 21610: recipient opted out (STOP)", True)),
    ("permanent", {"code": 21211}, (outbox.Permanent, "twilio 21211: invalid 'To' number", False)),
    ("permanent", {"code": 21614}, (outbox.Permanent, "twilio 21614", False)),
    ("disconnect", {}, (outbox.Transient, "cannot reach Twilio", False)),
    ("garbage", {}, (outbox.Transient, "Twilio reply is not JSON", False)),
])
def test_sender_classifies_twilio_errors(make_config, fake, kind, options, expected):
    fake.fail_next(kind, **options)
    with pytest.raises(outbox.SendError) as raised:
        sender_for(make_config, fake).send(message())
    error_type, reason, opt_out = expected
    assert type(raised.value) is error_type and raised.value.reason.startswith(reason)
    assert raised.value.opt_out is opt_out
    assert "20123456" not in raised.value.reason


def test_sender_timeout_and_refused_connection_are_transient(make_config, fake):
    fake.fail_next("hang", seconds=1.0)
    started = time.time()
    with pytest.raises(outbox.Transient, match="timeout"):
        sender_for(make_config, fake, timeout_seconds=0.3).send(message())
    assert time.time() - started < 1.0
    fake.down()
    with pytest.raises(outbox.Transient, match="cannot reach Twilio"):
        sender_for(make_config, fake).send(message())


def test_wrong_credentials_count_against_the_channel_not_the_message(make_config, fake):
    with pytest.raises(outbox.Transient, match="20003"):
        sender_for(make_config, fake, auth_token="wrong").send(message())


# -- fuzz: a correctly signed but odd request is a 2xx or a 400, never a 500 -----------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

FORM = st.dictionaries(st.sampled_from(["From", "To", "Body", "MessageSid", "SmsSid", "MessageStatus", "SmsStatus",
                                        "ErrorCode", "NumSegments", "AccountSid"]),
                       st.text(max_size=40), max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=FORM, hook=st.sampled_from(["sms", "status"]))
def test_any_signed_form_answers_2xx_or_400(client, form, hook):
    assert post_signed(client, f"/hooks/twilio/{hook}", form).status_code in (200, 204, 400)


def test_round_trip_over_http_inbound_reply_and_delivery_receipt(make_config):
    """Twilio posts an SMS to the gateway behind waitress, the dispatcher sends the reply to (fake) Twilio, Twilio
    posts the delivery status back: the reply ends delivered, with its number and text wiped."""
    from harness import LiveServer
    from gateway.dispatcher import start_background, stop_background
    with FakeTwilio(auth_token=TOKEN) as fake:
        app = create_app(make_config(gateway={"public_url": PUBLIC},
                                     channels={"twilio": fake.channel_config(), "africastalking": {"enabled": False}},
                                     dispatcher={"enabled": True, "poll_seconds": 0.01}))
        db = app.extensions["dalil"].db()
        with LiveServer(app) as live:
            params = fields("twilio_inbound_sms.json")
            signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/hooks/twilio/sms", params)
            assert live.post("/hooks/twilio/sms", data=params,
                             headers={"X-Twilio-Signature": signature}).status_code == 200
            expected = replies(db)
            start_background(app)
            try:
                sent = fake.wait_for(expected, timeout=10)
            finally:
                stop_background(app)
            assert len(sent) == expected and {m["to"] for m in sent} == {"+21620123456"}
            for message in sent:
                status = {**fields("twilio_status_delivered.json"), "MessageSid": message["id"],
                          "SmsSid": message["id"]}
                signature = RequestValidator(TOKEN).compute_signature(message["status_callback"], status)
                assert live.post("/hooks/twilio/status", data=status,
                                 headers={"X-Twilio-Signature": signature}).status_code == 204
        rows = db.execute("SELECT state, to_number, body FROM outbox").fetchall()
        assert rows == [("delivered", None, None)] * expected
