"""Kannel: SMPP to a Tunisian aggregator or operator (or a modem), through Kannel's smsbox.

Kannel's bearerbox holds the SMPP bind; Dalil only talks HTTP to smsbox (docs/kannel.md has a complete
kannel.conf):

- out: GET ``sendsms`` with the text in UTF-8 and ``charset=UTF-8``, ``coding=2`` when the text needs UCS-2 (all
  Arabic), the route's ``smsc`` and sender id, and ``dlr-mask``/``dlr-url`` pointing at our delivery webhook with
  an id we make up (smsbox answers "0: Accepted for delivery" and no id of its own). Concatenation is Kannel's
  (``concatenation = true`` in the sendsms-user); a route that cannot carry it has ``max_segments = 1``, and a
  longer message is refused before it is queued (gateway.routing), never cut by Kannel's ``max-messages``.
- in: an sms-service ``post-url`` to ``/hooks/kannel/<token>/sms?id=%I&from=%p&to=%P``: the text is the body, in
  the charset its Content-Type names. ``%I`` is Kannel's id of the received message, the same when smsbox
  re-sends the request, so a re-send is handled once.
- delivery reports: Kannel calls the ``dlr-url`` with ``status=%d`` (1 delivered, 2 failed, 16 rejected by the
  SMSC; 4 buffered and 8 accepted by the SMSC are progress) and ``reply=%A`` (the SMSC's answer).

Kannel signs nothing, so both webhooks carry an unguessable token in the path: a wrong one answers 404, as if the
URL did not exist. Bad input (missing field, unknown charset, bytes that are not in it, a bad number) answers
400 with the reason and stores nothing; Kannel does not retry a 4xx.
"""
from __future__ import annotations

import codecs
import hmac
import logging
import time
import uuid

import requests
from flask import Blueprint, abort, request

from gateway import contacts, outbox
from gateway.context import dalil
from gateway.channels.common import Channel, provider_session, required_fields
from gateway.inbound import InboundSMS, receive_sms
from gateway.store import transaction
from messages.segments import count

log = logging.getLogger(__name__)

NAME = "kannel"

bp = Blueprint("kannel", __name__, url_prefix="/hooks/kannel/<token>")

# Kannel's dlr types (the %d of a dlr-url).
DLR_DELIVERED, DLR_FAILED, DLR_BUFFERED, DLR_SMSC_ACCEPTED, DLR_SMSC_REJECTED = 1, 2, 4, 8, 16
DLR_NAMES = {DLR_FAILED: "undelivered", DLR_SMSC_REJECTED: "rejected by the SMSC"}
CODING = {"GSM-7": "0", "UCS-2": "2"}
# smsbox's 4xx answers that are our configuration, not the message: retried (once the config is fixed, they go)
CONFIG_REFUSALS = ("sender missing",)


class Sender:
    """One kept-alive HTTP session to smsbox per dispatcher."""

    def __init__(self, ctx):
        section = ctx.config["channels.kannel"]
        self.url = section["sendsms_url"]
        self.timeout = section["timeout_seconds"]
        self.session = provider_session(self.url)
        self.fixed = {"username": section["username"], "password": section["password"], "charset": "UTF-8"}
        if section["smsc"]:
            self.fixed["smsc"] = section["smsc"]
        if section["sender_id"]:
            self.fixed["from"] = section["sender_id"]
        public = ctx.config["gateway"]["public_url"].rstrip("/")
        token = section["webhook_token"]
        if token and section["dlr_mask"]:
            self.fixed["dlr-mask"] = str(section["dlr_mask"])
            # Kannel fills %d and %A; the id is ours (smsbox gives none back)
            self.dlr_url = f"{public}/hooks/kannel/{token}/dlr?status=%d&reply=%A&id="
        else:
            self.dlr_url = None

    def send(self, msg: outbox.Outgoing) -> str:
        provider_id = uuid.uuid4().hex
        params = {**self.fixed, "to": msg.to, "text": msg.body, "coding": CODING[count(msg.body).encoding]}
        if self.dlr_url:
            params["dlr-url"] = self.dlr_url + provider_id
        try:
            reply = self.session.get(self.url, params=params, timeout=self.timeout)
        except requests.Timeout:
            # smsbox may have queued it: retrying can duplicate, not retrying can lose. We retry.
            raise outbox.Transient("timeout waiting for Kannel smsbox") from None
        except requests.RequestException as e:
            raise outbox.Transient(f"cannot reach Kannel smsbox: {type(e).__name__}") from None
        if reply.status_code in (200, 202):
            return provider_id
        raise classify(reply.status_code, reply.text)


def classify(status: int, text: str) -> outbox.SendError:
    """smsbox answers 4xx for a request it refuses ("Authorization failed" is 403 and "Sender missing and no global
    set" 400: our config, so retried once fixed) and 5xx when bearerbox is gone or the queue is full."""
    reason = f"kannel HTTP {status}: {outbox.clean_error(text)}"
    if status >= 500 or status in (403, 429) or any(r in text.lower() for r in CONFIG_REFUSALS):
        return outbox.Transient(reason)
    return outbox.Permanent(reason)


@bp.url_value_preprocessor
def check_token(endpoint, values):
    section = dalil().config["channels.kannel"]
    given = (values or {}).pop("token", "")
    expected = section["webhook_token"]
    if not section["enabled"] or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(404)


@bp.post("/sms")
def inbound_sms():
    fields = required_fields(request.args, "id", "from")
    text = _body_text()
    try:
        phone = contacts.normalize(fields["from"])
    except contacts.BadNumber as e:
        abort(400, description=f"from: {e}")
    receive_sms(dalil(), InboundSMS(NAME, phone, text, fields["id"]))
    return "", 200


def _body_text() -> str:
    """The body in the charset its Content-Type names (smsbox sends UTF-8 once mo-recode is on, else UTF-16BE
    for UCS-2); 400 naming the problem for an unknown charset or bytes that are not in it."""
    charset = (request.mimetype_params.get("charset") or "utf-8").strip()
    try:
        codec = codecs.lookup(charset)
    except LookupError:
        abort(400, description=f"unknown charset: {charset[:40]}")
    try:
        text = request.get_data(cache=False).decode(codec.name)
    except UnicodeDecodeError:
        abort(400, description=f"text is not valid {codec.name}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from UTF-16 bytes: nothing can store it
        abort(400, description=f"text is not valid {codec.name}")
    return text


@bp.route("/dlr", methods=["GET", "POST"])
def delivery_report():
    fields = required_fields(request.values, "id", "status")
    try:
        status = int(fields["status"])
    except ValueError:
        abort(400, description="status: expected Kannel's dlr type (1, 2, 4, 8 or 16)")
    if status == DLR_DELIVERED or status in DLR_NAMES:
        _record(fields["id"], status, request.values.get("reply", ""))
    elif status not in (DLR_BUFFERED, DLR_SMSC_ACCEPTED):
        log.info("kannel delivery report with unknown status %d (ignored)", status)
    return "", 200


# A report can overtake the dispatcher's "sent" (the id is ours, recorded once smsbox has answered): while a
# message is in flight on Kannel, an unknown id is looked for again a few times before it is dropped.
OVERTAKEN_WAITS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def _record(provider_id: str, status: int, smsc_reply: str) -> None:
    db = dalil().db()
    reason = f"kannel: {DLR_NAMES.get(status, 'delivered')}" + (f" ({smsc_reply})" if smsc_reply else "")
    for wait in (0.0, *OVERTAKEN_WAITS):
        time.sleep(wait)
        with transaction(db):
            if outbox.record_receipt(db, NAME, provider_id, status == DLR_DELIVERED, reason):
                return
        if not outbox.in_flight(db, NAME):
            break
    log.info("kannel delivery report (%d) for an id we do not know (ignored)", status)


CHANNEL = Channel(NAME, blueprint=bp, sender=Sender, needs=("sendsms_url", "username"))
