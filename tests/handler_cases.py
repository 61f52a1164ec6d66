"""The one runner for table-driven channel tests (after nyaruka/courier's handler tests): each case file in
tests/payloads/ holds one channel's webhook requests as the provider sends them (the field sets recorded from
its documentation) and what Dalil must answer and store. tests/test_channel_webhooks.py runs every file.

A case file: ``{"_comment", "base": the webhooks' path with {token}, "token", "cases": [...]}``. A case:

- request: ``path`` (after the base), ``method`` (POST), ``token`` (instead of the file's), ``query``, ``form``
  or ``form_from`` (a payload file of form fields) with ``form_change`` and ``form_drop``, ``json``, ``body`` or
  ``body_hex`` with ``content_type``; ``sign``: "twilio" signs as Twilio does, over [gateway] public_url + path,
  or ``{"token", "url", "form"}`` signs with another token, for another URL or over other fields;
- a message already sent: ``sent`` (its provider id; ``sent_sensitive``) and ``after``, its [state, error] then;
- the answer: ``status``, ``mimetype``, ``body_contains``, ``text`` (exact) or ``text_starts``, ``json_body``
  (exact), ``error``, ``reason``, ``reason_starts``, ``reason_contains`` (a reason is never empty);
- what is stored: ``stores`` true: one more inbound message, and the same request sent ``again`` times more is
  answered the same and adds nothing; false: nothing stored at all. ``replies``: exactly so many replies queued,
  ``replies_at_least``; ``sealed``: every queued reply is sensitive;
- the log: ``log_contains``, ``log_lacks``; ``unseen``: the channel's device is not marked heard from;
- ``steps``: requests in order in one test (a USSD session), each a case of its own keys over the case's.
"""
from __future__ import annotations

import copy
import json
import logging
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from gateway import channel_state, outbox
from gateway.store import transaction
from harness import PAYLOADS

STORED_TABLES = ("inbound_seen", "outbox", "subscribers", "consent_log")
TWILIO_TOKEN = "twilio-auth-token-for-tests"
PUBLIC = "https://dalil.example.tn"  # what Twilio calls; a proxy forwards to us over plain http
TEST_NUMBER = "+21620123456"


def webhook_channels(twilio_token: str = TWILIO_TOKEN, smssync_secret: str = "phone-secret-4411") -> dict:
    """The [channels.*] tables that open Twilio's and SMSSync's webhooks (Africa's Talking and the generic USSD
    aggregator are open in the base config)."""
    return {"twilio": {"enabled": True, "account_sid": "AC" + "1" * 32, "auth_token": twilio_token,
                       "from_number": "+15005550006"},
            "smssync": {"enabled": True, "secret": smssync_secret, "prefixes": ["+216"]}}


def fields(name: str) -> dict:
    """A recorded payload of form fields (tests/payloads/NAME)."""
    return json.loads((PAYLOADS / name).read_text())


def case_file(name: str) -> dict:
    return json.loads((PAYLOADS / name).read_text())


def stored(db) -> dict[str, int]:
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in STORED_TABLES}  # noqa: S608 (fixed names)


def replies(db) -> int:
    return db.execute("SELECT count(*) FROM outbox WHERE kind = 'reply'").fetchone()[0]


def db_of(app):
    return app.extensions["dalil"].db()


def states(app) -> dict:
    """The outbox's rows by state."""
    return dict(db_of(app).execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())


def sent_row(db, channel: str, provider_id: str, sensitive: bool = True, kind: str = "reply") -> int:
    """A message that went out on ``channel`` with the provider's id, as a receipt finds it."""
    msg = outbox.enqueue(db, TEST_NUMBER, "your referral", kind=kind, sensitive=sensitive)
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'sending', channel = ? WHERE id = ?", [channel, msg])
    outbox.mark_sent(db, msg, provider_id)
    return msg


def state_of(db, msg: int):
    return db.execute("SELECT state, error FROM outbox WHERE id = ?", [msg]).fetchone()


def twilio_signed(client, path: str, params: dict, url: str | None = None, token: str = TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(url or PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def _form(case: dict) -> dict | None:
    if "form_from" not in case and "form" not in case:
        return None
    form = {**(fields(case["form_from"]) if "form_from" in case else {}), **case.get("form", {})}
    form.update(case.get("form_change", {}))
    for name in case.get("form_drop", []):
        form.pop(name, None)
    return form


def _send(client, case: dict, base: str, token: str):
    path = base.format(token=case.get("token", token)) + case.get("path", "")
    url = f"{path}?{urlencode(case['query'])}" if case.get("query") else path
    form, headers = _form(case), dict(case.get("headers", {}))
    if case.get("sign"):
        sign = case["sign"] if isinstance(case["sign"], dict) else {}
        signed_over = {**form, **sign["form"]} if "form" in sign else form
        headers["X-Twilio-Signature"] = RequestValidator(sign.get("token", TWILIO_TOKEN)).compute_signature(
            sign.get("url", PUBLIC + path), signed_over)
    method = case.get("method", "POST").lower()
    if "json" in case:
        return getattr(client, method)(url, json=case["json"], headers=headers)
    if form is not None:
        return getattr(client, method)(url, data=form, headers=headers)
    body = bytes.fromhex(case["body_hex"]) if "body_hex" in case else case.get("body", "").encode()
    if "content_type" in case:
        headers["Content-Type"] = case["content_type"]
    return getattr(client, method)(url, data=body or None, headers=headers)


def _check_answer(response, case: dict) -> None:
    name, text = case["name"], response.get_data(as_text=True)
    assert response.status_code == case["status"], (name, text)
    if "mimetype" in case:
        assert response.mimetype == case["mimetype"], name
    if "body_contains" in case:
        assert case["body_contains"] in text, (name, text)
    if "text" in case:
        assert text == case["text"], (name, text)
    if "text_starts" in case:
        assert text.startswith(case["text_starts"]), (name, text)
    if "json_body" in case:
        assert response.json == case["json_body"], (name, text)
    if "error" in case:
        assert response.json["error"] == case["error"], name
    reasons = ("reason", "reason_starts", "reason_contains")
    if any(key in case for key in reasons) or case.get("status", 200) >= 400 and response.is_json:
        assert response.json["reason"], name
    if "reason" in case:
        assert response.json["reason"] == case["reason"], (name, response.json)
    if "reason_starts" in case:
        assert response.json["reason"].startswith(case["reason_starts"]), (name, response.json)
    if "reason_contains" in case:
        assert case["reason_contains"] in response.json["reason"], (name, response.json)


def _check_stored(db, case: dict, before: dict, replies_before: int) -> None:
    name, after = case["name"], stored(db)
    if case.get("stores"):
        assert after["inbound_seen"] == before["inbound_seen"] + 1, name
    elif "stores" in case:
        assert after == before, name
    queued = replies(db) - replies_before
    if "replies" in case:
        assert queued == case["replies"], (name, queued)
    if "replies_at_least" in case:
        assert queued >= case["replies_at_least"], (name, queued)
    if case.get("sealed"):
        assert db.execute("SELECT min(sensitive) FROM outbox WHERE kind = 'reply'").fetchone()[0] == 1, name


def run_case(client, db, case: dict, base: str, token: str, caplog=None):
    """Send one case (or each of its steps); assert the answer, what was stored and what was logged. Returns the
    last response."""
    if "steps" in case:
        response = None
        for i, step in enumerate(case["steps"]):
            merged = {**{k: v for k, v in case.items() if k != "steps"}, **step, "name": f"{case['name']} [{i}]"}
            response = run_case(client, db, merged, base, token, caplog)
        return response
    msg = sent_row(db, case["channel"], case["sent"], case.get("sent_sensitive", True)) if "sent" in case else None
    before, replies_before = stored(db), replies(db)
    with caplog.at_level(logging.INFO) if caplog is not None else _nothing():
        response = _send(client, case, base, token)
    _check_answer(response, case)
    _check_stored(db, case, before, replies_before)
    if case.get("stores"):  # providers re-send what they got no answer to: handled once
        queued = replies(db)
        for _ in range(case.get("again", 1)):
            again = _send(client, case, base, token)
            assert again.status_code == response.status_code, case["name"]
        assert stored(db)["inbound_seen"] == before["inbound_seen"] + 1 and replies(db) == queued, case["name"]
    if case.get("unseen"):  # a stranger's request does not make the channel's device look online
        assert case["channel"] not in channel_state.channel_rows(db), case["name"]
    if msg is not None and "after" in case:
        assert list(state_of(db, msg)) == case["after"], (case["name"], state_of(db, msg))
    if caplog is not None:
        for needle in case.get("log_contains", []):
            assert needle in caplog.text, (case["name"], needle)
        for needle in case.get("log_lacks", []):
            assert needle not in caplog.text, (case["name"], needle)
    return response


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def with_defaults(case: dict, **defaults) -> dict:
    return {**defaults, **copy.deepcopy(case)}
