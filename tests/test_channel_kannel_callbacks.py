"""Kannel's callbacks, case by case from tests/payloads/kannel_callbacks.json: good ones are handled once, bad ones
(wrong token, missing fields, unknown charset, undecodable bytes, a bad number) answer 4xx with the reason and store
nothing, never 5xx."""
from __future__ import annotations

import pytest

from gateway import create_app
from gateway.store import close_thread_connections
from handler_cases import load_cases, run_case, stored

TOKEN = "kannel-hook-5b1e"
BASE = "/hooks/kannel/{token}"
CASES = load_cases("kannel_callbacks.json")


@pytest.fixture
def app(make_config):
    app = create_app(make_config(channels={"kannel": {
        "enabled": True, "sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms", "username": "dalil",
        "password": "pw", "webhook_token": TOKEN}}))
    yield app
    close_thread_connections()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_callback(app, case):
    db = app.extensions["dalil"].db()
    client = app.test_client()
    run_case(client, db, case, BASE, TOKEN)
    if case["stores"]:  # smsbox re-sends a request it got no answer to: the same %I is handled once
        again = run_case(client, db, {**case, "stores": False}, BASE, TOKEN)
        assert again.status_code == 200


def test_callbacks_are_closed_while_the_channel_is_disabled(make_config):
    app = create_app(make_config(channels={"kannel": {"enabled": False, "webhook_token": TOKEN}}))
    try:
        db = app.extensions["dalil"].db()
        before = stored(db)
        response = app.test_client().post(f"/hooks/kannel/{TOKEN}/sms?id=x&from=%2B21620111222",
                                          data=b"JOIN", headers={"Content-Type": "text/plain; charset=UTF-8"})
        assert response.status_code == 404 and stored(db) == before
    finally:
        close_thread_connections()


@pytest.mark.parametrize("status, text, transient", [
    (403, "Authorization failed for sendsms", True),  # our password: retried once the config is fixed
    (400, "Sender missing and no global set, rejected", True),  # our sender id: likewise
    (503, "Sending failed.", True),  # bearerbox gone
    (400, "Missing receiver number, rejected", False),
])
def test_smsbox_answers_are_classified(status, text, transient):
    from gateway import outbox
    from gateway.channels.kannel import classify
    error = classify(status, text)
    assert isinstance(error, outbox.Transient if transient else outbox.Permanent)
    assert error.reason == f"kannel HTTP {status}: {text}"
