"""The Android phone gateway, driven the way the SMSSync app drives the Sync URL: inbound POSTs, task=send polls,
task=sent confirmations and task=result delivery reports, with the shared secret checked both ways."""
from __future__ import annotations

import time

import pytest

from handler_cases import db_of, fields, states
from fakes import FakeTwilio
from gateway import create_app, outbox
from gateway.dispatcher import Dispatcher
from gateway.store import close_thread_connections

SECRET = "phone-secret-4411"
URL = "/hooks/smssync"


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def app(make_config, twilio):
    app = create_app(make_config(
        channels={"smssync": {"enabled": True, "secret": SECRET, "prefixes": ["+216"], "batch": 5},
                  "twilio": twilio.channel_config(timeout_seconds=2.0),
                  "africastalking": {"enabled": False}},
        dispatcher={"lease_seconds": 30.0, "poll_seconds": 0.01}))
    yield app
    close_thread_connections()


@pytest.fixture
def client(app):
    return app.test_client()


def poll(client, secret=SECRET):
    return client.get(f"{URL}?task=send&secret={secret}")


def confirm(client, uuids):
    return client.post(f"{URL}?task=sent&secret={SECRET}", json={"queued_messages": uuids})


# -- inbound --------------------------------------------------------------------------------------------------------

# -- outgoing: task=send, task=sent, task=result --------------------------------------------------------------------

def test_phone_polls_confirms_and_reports_delivery(app, client):
    db = db_of(app)
    referral = outbox.enqueue(db, "+21620123456", "Votre demande est transmise", kind="referral", sensitive=True)
    notice = outbox.enqueue(db, "+21698111222", "Nouvelle formation à Kairouan", kind="notice")
    abroad = outbox.enqueue(db, "+33612345678", "Bonjour", kind="reply")  # not the phone's prefix
    handed = poll(client).json["payload"]
    assert handed["task"] == "send" and handed["secret"] == SECRET  # the phone checks it is talking to us
    assert [(m["to"], m["message"]) for m in handed["messages"]] == [
        ("+21620123456", "Votre demande est transmise"), ("+21698111222", "Nouvelle formation à Kairouan")]
    uuids = [m["uuid"] for m in handed["messages"]]
    assert len(set(uuids)) == 2 and all(len(u) == 32 for u in uuids)
    assert poll(client).json["payload"]["messages"] == []  # leased: not handed twice
    answer = confirm(client, uuids)
    assert answer.json == {"message_uuids": uuids}
    row = db.execute("SELECT state, to_number, body, channel FROM outbox WHERE id = ?", [referral]).fetchone()
    assert row == ("sent", None, None, "smssync")  # sensitive: wiped once the phone has it
    assert sorted(client.get(f"{URL}?task=result&secret={SECRET}").json["message_uuids"]) == sorted(uuids)
    result = fields("smssync_result.json")
    result["message_result"][0]["uuid"], result["message_result"][1]["uuid"] = uuids
    assert client.post(f"{URL}?task=result&secret={SECRET}", json=result).status_code == 200
    assert db.execute("SELECT state FROM outbox WHERE id = ?", [referral]).fetchone() == ("delivered",)
    failed = db.execute("SELECT state, error FROM outbox WHERE id = ?", [notice]).fetchone()
    assert failed[0] == "failed" and failed[1].startswith("phone could not send (1: Failed to send SMS")
    assert db.execute("SELECT state FROM outbox WHERE id = ?", [abroad]).fetchone() == ("queued",)


def test_unconfirmed_messages_come_back_after_the_lease_with_the_same_uuid(app, client):
    app.extensions["dalil"].config["dispatcher"]["lease_seconds"] = 0.2
    outbox.enqueue(db_of(app), "+21620123456", "hello")
    [first] = poll(client).json["payload"]["messages"]
    time.sleep(0.3)
    [again] = poll(client).json["payload"]["messages"]
    assert again["uuid"] == first["uuid"]
    assert confirm(client, [again["uuid"], "not-ours"]).status_code == 200
    assert states(app) == {"sent": 1}


def test_phone_batch_and_rate_limit(app, client):
    app.extensions["dalil"].config["dispatcher"]["rate_segments_per_second"] = {"smssync": 2}
    for i in range(8):
        outbox.enqueue(db_of(app), "+21620123456", f"m{i}")
    assert len(poll(client).json["payload"]["messages"]) == 2  # the bucket holds 2 segments
    assert poll(client).json["payload"]["messages"] == []
    app.extensions["dalil"].config["dispatcher"]["rate_segments_per_second"] = {}
    assert len(poll(client).json["payload"]["messages"]) == 5  # [channels.smssync] batch


def test_messages_go_to_the_internet_channel_when_the_phone_goes_quiet(app, client, twilio):
    ctx = app.extensions["dalil"]
    db = db_of(app)
    poll(client)  # the phone is online: its numbers wait for it
    outbox.enqueue(db, "+21620123456", "for the phone")
    outbox.enqueue(db, "+33612345678", "for twilio")
    dispatcher = Dispatcher(ctx)
    dispatcher.run_once()
    assert twilio.bodies() == ["for twilio"] and states(app) == {"queued": 1, "sent": 1}
    db.execute("UPDATE channel_health SET last_seen = ? WHERE channel = 'smssync'",
               [time.time() - ctx.config["channels.smssync"]["offline_after_seconds"] - 1])
    dispatcher.run_once()
    assert twilio.bodies() == ["for twilio", "for the phone"] and states(app) == {"sent": 2}


def test_malformed_confirmations_are_400(client):
    assert client.post(f"{URL}?task=sent&secret={SECRET}", json={"queued_messages": "abc"}).status_code == 400
    assert client.post(f"{URL}?task=result&secret={SECRET}", json={"message_result": [{"x": 1}]}).status_code == 400
    assert client.post(f"{URL}?task=sent&secret={SECRET}", json={"queued_messages": []}).json == {"message_uuids": []}


def test_disabled_phone_gateway_is_not_there(make_config):
    app = create_app(make_config(channels={"smssync": {"enabled": False, "secret": SECRET}}))
    assert app.test_client().get(f"{URL}?task=send&secret={SECRET}").status_code == 404
    close_thread_connections()


# -- fuzz: whatever the phone (or a stranger) sends, the answer is never a 500 ---------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                    max_size=4), max_leaves=10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(task=st.sampled_from(["", "sent", "result", "send", "other"]), body=JSONISH,
       form=st.dictionaries(st.sampled_from(["from", "message", "message_id", "sent_timestamp", "device_id"]),
                            st.text(max_size=30), max_size=5))
def test_any_request_answers_200_400_or_403(client, task, body, form):
    query = f"{URL}?task={task}&secret={SECRET}" if task else URL
    sent_json = client.post(query, json={"queued_messages": body, "message_result": body})
    sent_form = client.post(query, data={**form, "secret": SECRET})
    polled = client.get(query)
    for response in (sent_json, sent_form, polled):
        assert response.status_code in (200, 400, 403, 405)
