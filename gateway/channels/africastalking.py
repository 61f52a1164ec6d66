"""Africa's Talking: USSD callbacks (and, from the delivery work, SMS and delivery reports).

AT signs nothing, so every callback URL carries an unguessable token (/hooks/africastalking/<token>/...):
a wrong token answers 404, as if the URL did not exist.
"""
from __future__ import annotations

import hashlib
import hmac
import logging

import requests
from africastalking import SMSService
from africastalking.Service import validate_phone
from flask import Blueprint, abort, request

from gateway import contacts, logs, outbox
from gateway.context import dalil
from gateway.channels.common import Channel, provider_session, required_fields, ussd_response
from gateway.holds import report_opt_out
from gateway.inbound import InboundSMS, receive_sms
from gateway.store import transaction

log = logging.getLogger(__name__)

bp = Blueprint("africastalking", __name__, url_prefix="/hooks/africastalking/<token>")

NAME = "africastalking"


@bp.url_value_preprocessor
def check_token(endpoint, values):
    expected = dalil().config["channels.africastalking"]["webhook_token"]
    given = (values or {}).pop("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(404)


@bp.post("/ussd")
def ussd_callback():
    form = required_fields(request.form, "sessionId", "phoneNumber")
    reply = dalil().hooks.ussd_hop(dalil(), channel=NAME, session_id=form["sessionId"], phone=form["phoneNumber"],
                     text=request.form.get("text", ""), input_mode="whole")
    return ussd_response(reply, "CON ", "END ")


@bp.post("/ussd-end")
def ussd_end_notification():
    """AT's end-of-session notification: forget the session now rather than wait for it to time out."""
    form = required_fields(request.form, "sessionId")
    dalil().hooks.ussd_end(dalil(), channel=NAME, session_id=form["sessionId"])
    log.info("ussd session ended: status=%s hops=%s", logs.field(request.form.get("status", "?")),
             logs.field(request.form.get("hopsCount", "?"), 6))
    return "", 200


# --- SMS: sending with the official SDK, inbound SMS and delivery reports ----------------------------------------

# Per-recipient statusCode in AT's send response. 100-102 mean AT took the message.
ACCEPTED_CODES = {100: "Processed", 101: "Sent", 102: "Queued"}
# A problem with our account or AT, the same for every message: retried, and counted against the channel.
TRANSIENT_CODES = {402: "InvalidSenderId", 405: "InsufficientBalance", 500: "InternalServerError",
                   501: "GatewayError"}
# A problem with this message or number: final.
PERMANENT_CODES = {401: "RiskHold", 403: "InvalidPhoneNumber", 404: "UnsupportedNumberType",
                   406: "UserInBlacklist", 407: "CouldNotRoute", 409: "DoNotDisturbRejection",
                   502: "RejectedByGateway"}
OPTED_OUT_CODE = 406  # the person blocked our sender id
OPTED_OUT_REASONS = {"userinblacklist"}  # delivery report failureReason (AT writes UserInBlackList)
DELIVERED = {"Success"}
UNDELIVERED = {"Failed", "Rejected"}
IN_PROGRESS = {"Sent", "Submitted", "Buffered"}


class ATHTTPError(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.text = text


class _SMSService(SMSService):
    """The SDK's SMS service with its HTTP call on a kept-alive session.

    The SDK builds the request (fields, bulk mode, sender id, phone checks) and we keep that; but it opens a new
    connection per message and reports any non-2xx as bare text, losing the status code that tells a 5xx
    (retry) from a 4xx. Overriding its one HTTP method keeps both.
    """

    def __init__(self, username: str, api_key: str, base_url: str = ""):
        super().__init__(username, api_key)
        if base_url:
            self._baseUrl = base_url.rstrip("/") + "/version1"
        self._session = provider_session(self._baseUrl)

    def _make_request(self, url, method, headers, data, params, callback=None, timeout=None):
        res = self._session.request(method, url, headers=headers, data=data, params=params, timeout=timeout)
        if not 200 <= res.status_code < 300:
            raise ATHTTPError(res.status_code, res.text)
        try:
            return res.json()
        except ValueError:  # a captive portal or proxy page, not AT: AT may not have the message
            raise outbox.Transient(f"africastalking: HTTP {res.status_code} reply is not JSON") from None


class Sender:
    """Sends one message per call in AT's bulk mode, from the configured sender id."""

    def __init__(self, ctx):
        section = ctx.config["channels.africastalking"]
        self.timeout = section["timeout_seconds"]
        self.sender_id = section["sender_id"] or None
        self.service = _SMSService(section["username"], section["api_key"], section["base_url"])

    def send(self, msg: outbox.Outgoing) -> str:
        if not validate_phone(msg.to):  # the SDK's own check, which it would raise as a ValueError
            raise outbox.Permanent("africastalking: number refused by the SDK")
        try:
            reply = self.service.send(msg.body, [msg.to], sender_id=self.sender_id, timeout=self.timeout)
        except ATHTTPError as e:
            raise classify_http(e.status, e.text) from None
        except requests.Timeout:
            # AT may have accepted it: retrying can duplicate, not retrying can lose. We retry.
            raise outbox.Transient("timeout waiting for Africa's Talking") from None
        except requests.RequestException as e:
            raise outbox.Transient(f"cannot reach Africa's Talking: {type(e).__name__}") from None
        return recipient_outcome(reply)


def classify_http(status: int, text: str) -> outbox.SendError:
    if status == 429 or status >= 500 or status in (401, 403, 404):
        return outbox.Transient(f"africastalking HTTP {status}")
    return outbox.Permanent(f"africastalking HTTP {status}: {outbox.clean_error(text)}")


def recipient_outcome(reply) -> str:
    """The message id for our one recipient, or the send error its statusCode means."""
    try:
        recipient = reply["SMSMessageData"]["Recipients"][0]
        code = int(recipient.get("statusCode", 0))
    except (TypeError, KeyError, IndexError, ValueError, AttributeError):
        raise outbox.Transient("africastalking: reply without a recipient status") from None
    if code in ACCEPTED_CODES:
        return recipient["messageId"]
    name = TRANSIENT_CODES.get(code) or PERMANENT_CODES.get(code) or recipient.get("status", "unknown")
    label = f"africastalking {code} {name}"
    if code in PERMANENT_CODES:
        raise outbox.Permanent(label, opt_out=code == OPTED_OUT_CODE)
    raise outbox.Transient(label)


def _provider_id_for(form) -> str:
    if (form.get("id") or "").strip():
        return form["id"].strip()
    # No id (an old or odd gateway): the same message re-sent still maps to the same key.
    raw = "|".join(form.get(k, "") for k in ("from", "to", "date", "text"))
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()


@bp.post("/sms")
def inbound_sms():
    """AT re-sends until it gets a 200 (up to 12 h): receive_sms makes a re-send a no-op."""
    form = required_fields(request.form, "from")
    try:
        phone = contacts.normalize(form["from"])
    except contacts.BadNumber as e:
        abort(400, description=f"from: {e}")
    receive_sms(dalil(), InboundSMS(NAME, phone, request.form.get("text", ""), _provider_id_for(request.form)))
    return "", 200


@bp.post("/delivery")
def delivery_report():
    form = required_fields(request.form, "id", "status")
    status = form["status"]
    if status in DELIVERED or status in UNDELIVERED:
        _record_delivery(form["id"], status, request.form.get("failureReason", ""))
    elif status not in IN_PROGRESS:
        log.info("africastalking delivery report with unknown status %s (ignored)", logs.field(status, 20))
    return "", 200


def _record_delivery(message_id: str, status: str, failure: str) -> None:
    ctx = dalil()
    db = ctx.db()
    reason = f"africastalking {status}" + (f": {failure}" if failure else "")
    with transaction(db):
        found = outbox.record_receipt(db, NAME, message_id, status in DELIVERED, reason)
    if not found:
        log.info("africastalking delivery report (%s) for a message id we do not know (ignored)", status)
    elif failure.lower() in OPTED_OUT_REASONS and request.form.get("phoneNumber"):
        try:
            report_opt_out(ctx, db, contacts.normalize(request.form["phoneNumber"]), reason, NAME)
        except contacts.BadNumber:
            pass


CHANNEL = Channel(NAME, blueprint=bp, sender=Sender, needs=("username", "api_key"))
