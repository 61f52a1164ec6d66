"""Twilio: sending with the official client, inbound SMS and status callbacks.

Every webhook is checked with ``RequestValidator`` against ``[gateway] public_url`` + the path: behind a TLS proxy
the request this process sees has another scheme and host than the one Twilio signed, so ``request.url`` is never
used. A bad or missing signature answers 403.

Replies are not returned as TwiML: they go through the outbox like every other message, so they are rate
limited, retried and wiped like the rest. Twilio's Messages API takes no idempotency key, so a crash between
Twilio accepting a message and our commit can repeat it once (see docs/channels.md).
"""
from __future__ import annotations

import logging

import requests
from flask import Blueprint, Response, abort, request
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from gateway import contacts, logs, outbox
from gateway.context import dalil
from gateway.channels.common import Channel, provider_session
from gateway.holds import report_opt_out
from gateway.inbound import InboundSMS, receive_sms
from gateway.store import transaction

log = logging.getLogger(__name__)

NAME = "twilio"

bp = Blueprint("twilio", __name__, url_prefix="/hooks/twilio")

# Twilio error codes (https://www.twilio.com/docs/api/errors) that end a message for good.
OPTED_OUT = 21610  # the recipient replied STOP: Twilio refuses every message to them until START
PERMANENT_CODES = {
    21211: "invalid 'To' number",
    21214: "'To' number cannot be reached",
    21408: "sending to this region is not enabled",
    21610: "recipient opted out (STOP)",
    21612: "'To' number cannot be reached from this sender",
    21614: "'To' number is not a mobile number (landline)",
    21617: "message body too long",
}
THROTTLED_CODES = {20429, 14107}  # too many requests; SMS send rate limit exceeded
# Final outcomes of a status callback; queued/sending/sent/accepted/scheduled are progress.
DELIVERED = {"delivered", "read"}
UNDELIVERED = {"undelivered", "failed", "canceled"}

# The twilio client logs every request at INFO (URL and headers); that is noise in our logs, never needed.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class Sender:
    """One Twilio client per dispatcher, kept for its connection pool."""

    def __init__(self, ctx):
        section = ctx.config["channels.twilio"]
        self.timeout = section["timeout_seconds"]
        self.sender = section["from_number"]
        http = TwilioHttpClient(timeout=self.timeout)
        self.client = Client(section["account_sid"], section["auth_token"], http_client=http)
        if section["base_url"]:
            self.client.api.base_url = section["base_url"].rstrip("/")
        http.session = provider_session(self.client.api.base_url)
        public = ctx.config["gateway"]["public_url"].rstrip("/")
        self.status_callback = f"{public}/hooks/twilio/status" if section["status_callback"] else None

    def send(self, msg: outbox.Outgoing) -> str:
        sender = {"messaging_service_sid": self.sender} if self.sender.startswith("MG") else {"from_": self.sender}
        kwargs = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            message = self.client.messages.create(to=msg.to, body=msg.body, **sender, **kwargs)
        except TwilioRestException as e:
            raise classify(e.status, e.code, e.msg) from None
        except requests.Timeout:
            # Twilio may have accepted it: retrying can duplicate, not retrying can lose. We retry.
            raise outbox.Transient("timeout waiting for Twilio") from None
        except (requests.ConnectionError, requests.RequestException) as e:
            raise outbox.Transient(f"cannot reach Twilio: {type(e).__name__}") from None
        except TwilioException as e:
            raise outbox.Transient(f"Twilio client error: {type(e).__name__}") from None
        except ValueError:  # a 2xx that is not Twilio's JSON: a captive portal or proxy page
            raise outbox.Transient("Twilio reply is not JSON") from None
        return message.sid


def classify(status: int, code: int | None, text: str | None) -> outbox.SendError:
    """A Twilio error response as a transient or permanent send error."""
    label = f"twilio {code or status}"
    if status == 429 or code in THROTTLED_CODES:
        return outbox.Transient(f"{label}: throttled")
    if code in PERMANENT_CODES:
        return outbox.Permanent(f"{label}: {PERMANENT_CODES[code]}", opt_out=code == OPTED_OUT)
    if status >= 500 or status in (401, 403, 404):
        # 5xx is Twilio's trouble; 401/403/404 are ours (credentials, account, base URL): the same for every
        # message, so they count against the channel and its circuit rather than failing each message.
        return outbox.Transient(f"{label}: {outbox.clean_error(text or 'error')}")
    return outbox.Permanent(f"{label}: {outbox.clean_error(text or 'rejected')}")


def _signed_url() -> str:
    public = dalil().config["gateway"]["public_url"].rstrip("/")
    query = request.query_string.decode("latin-1")
    return f"{public}{request.path}" + (f"?{query}" if query else "")


@bp.before_request
def check_signature():
    token = dalil().config["channels.twilio"]["auth_token"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature or not RequestValidator(token).validate(_signed_url(), request.form, signature):
        abort(403, description="bad or missing X-Twilio-Signature")


def _empty_twiml() -> Response:
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response></Response>', mimetype="text/xml")


@bp.post("/sms")
def inbound_sms():
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    if not sid or not request.form.get("From"):
        abort(400, description="missing field: MessageSid or From")
    try:
        phone = contacts.normalize(request.form["From"])
    except contacts.BadNumber as e:
        abort(400, description=f"From: {e}")
    receive_sms(dalil(), InboundSMS(NAME, phone, request.form.get("Body", ""), sid))
    return _empty_twiml()


@bp.post("/status")
def status_callback():
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").lower()
    if not sid or not status:
        abort(400, description="missing field: MessageSid or MessageStatus")
    if status in DELIVERED or status in UNDELIVERED:
        _record_outcome(sid, status, request.form.get("ErrorCode"))
    return "", 204


def _record_outcome(sid: str, status: str, error_code: str | None) -> None:
    ctx = dalil()
    db = ctx.db()
    code = int(error_code) if (error_code or "").isascii() and (error_code or "").isdigit() else None
    reason = f"twilio {status}" + (f" {code}" if code else "")
    with transaction(db):
        found = outbox.record_receipt(db, NAME, sid, status in DELIVERED, reason)
    if not found:
        log.info("twilio status %s for a message id we do not know (ignored)", logs.field(status, 20))
    elif code == OPTED_OUT:
        to = request.form.get("To", "")
        try:
            report_opt_out(ctx, db, contacts.normalize(to), "twilio 21610", NAME)
        except contacts.BadNumber:
            pass


CHANNEL = Channel(NAME, blueprint=bp, sender=Sender, needs=("account_sid", "auth_token", "from_number"))
