"""Africa's Talking: USSD callbacks (and, from the delivery work, SMS and delivery reports).

AT signs nothing, so every callback URL carries an unguessable token (/hooks/africastalking/<token>/...):
a wrong token answers 404, as if the URL did not exist.
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, request

from gateway import dalil
from gateway.channels.common import required_fields, ussd_response
from flows import ussd

log = logging.getLogger(__name__)

bp = Blueprint("africastalking", __name__, url_prefix="/hooks/africastalking/<token>")

CHANNEL = "africastalking"


@bp.url_value_preprocessor
def check_token(endpoint, values):
    expected = dalil().config["channels.africastalking"]["webhook_token"]
    given = (values or {}).pop("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(404)


@bp.post("/ussd")
def ussd_callback():
    form = required_fields(request.form, "sessionId", "phoneNumber")
    reply = ussd.hop(dalil(), channel=CHANNEL, session_id=form["sessionId"], phone=form["phoneNumber"],
                     text=request.form.get("text", ""), input_mode="whole")
    return ussd_response(reply, "CON ", "END ")


@bp.post("/ussd-end")
def ussd_end_notification():
    """AT's end-of-session notification: forget the session now rather than wait for it to time out."""
    form = required_fields(request.form, "sessionId")
    ussd.end(dalil(), channel=CHANNEL, session_id=form["sessionId"])
    log.info("ussd session ended: status=%s hops=%s", request.form.get("status", "?"),
             request.form.get("hopsCount", "?"))
    return "", 200
