"""A phone in the browser that runs the real flows: each key press is one USSD hop through flows.ussd.hop, or,
in SMS mode, each message goes through gateway.inbound.receive_sms exactly as a provider's webhook sends it (so
STOP, JOIN, HELP, MENU and the erasure words are answered as on a real channel).

The page keeps what the phone has typed so far and sends it joined by '*' ("1*2*3"), as an aggregator does
(input mode "whole"); the channel is "console-simulator", so its sessions never mix with a real one. SMS the
flows queue for the simulated number (a service sent by SMS, a referral code) are shown under the screen.
The simulated number is a staff test number: it is never logged.
"""
from __future__ import annotations

import secrets

from flask import g, jsonify, request

from gateway import contacts, outbox
from gateway.context import dalil
from gateway.console import bp, ui
from messages.segments import count, screen_length

CHANNEL = "console-simulator"
DEFAULT_PHONE = "+21620000001"
MAX_TEXT = 2000


@bp.get("/simulator")
@ui.area("simulator")
def simulator():
    return ui.render("simulator.html", phone=DEFAULT_PHONE)


def _outbox_mark(db) -> int:
    return outbox.last_id(db)


@bp.post("/simulator/hop")
@ui.area("simulator")
def simulator_hop():
    from flows import ussd
    ctx = dalil()
    data = body if isinstance(body := request.get_json(silent=True), dict) else {}  # JSON that is not an object
    phone, text, session_id = str(data.get("phone", "")), str(data.get("text", "")), str(data.get("session", ""))
    try:
        e164 = contacts.normalize(phone[:40], ctx.config["sms"]["default_region"])
    except contacts.BadNumber:
        return jsonify(error=ui.t("console.form.phone"), field="phone"), 422
    if len(text) > MAX_TEXT or any(ord(c) < 32 for c in text):
        return jsonify(error=ui.t("console.simulator.bad_input")), 422
    if not session_id:
        session_id = secrets.token_hex(8)
    elif len(session_id) > 40 or not session_id.isalnum():
        return jsonify(error=ui.t("console.simulator.bad_input")), 422
    db = ctx.db()
    mark = _outbox_mark(db)
    reply = ussd.hop(ctx, channel=CHANNEL, session_id=f"{g.user['id']}-{session_id}", phone=e164, text=text,
                     input_mode="whole")
    sms = [r["body"] for r in outbox.readable(db, mark) if r["to_number"] == e164 and r["body"]]
    encoding, units = screen_length(reply.text)
    limit = ctx.config["ussd"]["screen_gsm7" if encoding == "GSM-7" else "screen_ucs2"]
    return jsonify(session=session_id, text=reply.text, end=reply.end, encoding=encoding, units=units,
                   limit=limit, sms=sms)


@bp.post("/simulator/hangup")
@ui.area("simulator")
def simulator_hangup():
    from flows import ussd
    session_id = str((body if isinstance(body := request.get_json(silent=True), dict) else {}).get("session", ""))
    if session_id.isalnum() and len(session_id) <= 40:
        ussd.end(dalil(), channel=CHANNEL, session_id=f"{g.user['id']}-{session_id}")
    return jsonify(ok=True)


@bp.post("/simulator/sms")
@ui.area("simulator")
def simulator_sms():
    from gateway.inbound import InboundSMS, receive_sms
    ctx = dalil()
    data = body if isinstance(body := request.get_json(silent=True), dict) else {}
    phone, text = str(data.get("phone", "")), str(data.get("text", ""))
    try:
        e164 = contacts.normalize(phone[:40], ctx.config["sms"]["default_region"])
    except contacts.BadNumber:
        return jsonify(error=ui.t("console.form.phone"), field="phone"), 422
    if not text.strip() or len(text) > MAX_TEXT or any(ord(c) < 32 and c != "\n" for c in text) \
            or not text.encode("utf-8", "surrogatepass").decode("utf-8", "ignore") == text:
        return jsonify(error=ui.t("console.simulator.bad_input")), 422
    db = ctx.db()
    mark = _outbox_mark(db)
    receive_sms(ctx, InboundSMS(channel=CHANNEL, phone=e164, text=text,
                                provider_id=f"{g.user['id']}-{secrets.token_hex(8)}"))
    sms = [r["body"] for r in outbox.readable(db, mark) if r["to_number"] == e164 and r["body"]]
    last = sms[-1] if sms else ""
    encoding, units = screen_length(last)
    return jsonify(text=last, end=False, encoding=encoding, units=units, limit=units,
                   segments=count(last).segments if last else 0, sms=sms)
