"""Kannel's callbacks beyond the recorded cases (tests/payloads/kannel_callbacks.json, run by
tests/test_channel_webhooks.py): closed while the channel is off, and smsbox's answers classified."""
from __future__ import annotations

import pytest

from gateway import create_app
from gateway.store import close_thread_connections
from handler_cases import stored

TOKEN = "kannel-hook-5b1e"


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


def test_a_delivery_report_that_overtakes_the_dispatchers_sent_is_kept(make_config):
    """smsbox can call the dlr-url before the dispatcher has recorded the message as sent (the id is ours, and
    is stored only once smsbox answered): the report must not be dropped as one for an unknown id."""
    import threading
    import time

    from gateway import outbox, routing
    app = create_app(make_config(channels={"kannel": {"enabled": True, "webhook_token": TOKEN,
                                                      "sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
                                                      "username": "u", "password": "p"}},
                                 dispatcher={"routes": [["+216", "kannel"]]}))
    try:
        db = app.extensions["dalil"].db()
        msg_id = outbox.enqueue(db, "+21620123456", "Bonjour", kind="notice")
        [msg] = outbox.claim(db, "test", routing.build(app.extensions["dalil"].config, db).sql(), ["kannel"], 1, 60)
        answers = []
        report = threading.Thread(target=lambda: answers.append(app.test_client().get(
            f"/hooks/kannel/{TOKEN}/dlr?status=1&reply=ok&id=kannel-id-1")))
        report.start()
        time.sleep(0.3)  # the report is in; the dispatcher records "sent" only now
        outbox.mark_sent(db, msg.id, "kannel-id-1")
        report.join(timeout=10)
        assert answers and answers[0].status_code == 200
        state = db.execute("SELECT state FROM outbox WHERE id = ?", [msg_id]).fetchone()[0]
        assert state == "delivered"
    finally:
        close_thread_connections()
