"""A generic USSD endpoint for a local aggregator or operator (Africa's Talking does not cover Tunisia).

Aggregators differ in field names, in whether they send every input so far ("1*2*3") or only the last one,
and in how a reply says "wait for input" or "end". All of that is configuration ([channels.generic_ussd]);
the endpoint accepts form fields, query parameters (GET) or a JSON object.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, request

from gateway.context import dalil
from gateway.channels.common import Channel, required_fields, ussd_response

bp = Blueprint("generic_ussd", __name__)

NAME = "generic_ussd"


def _fields() -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            abort(400, description="body is not a JSON object")
        return {k: v if isinstance(v, str) else str(v) for k, v in data.items() if v is not None}
    return request.values.to_dict()


@bp.route("/hooks/ussd/<token>", methods=["GET", "POST"])
def aggregator_ussd(token: str):
    cfg = dalil().config["channels.generic_ussd"]
    if not cfg["enabled"] or not cfg["token"] or not hmac.compare_digest(token.encode(), cfg["token"].encode()):
        abort(404)
    fields = _fields()
    given = required_fields(fields, cfg["session_field"], cfg["phone_field"])
    reply = dalil().hooks.ussd_hop(dalil(), channel=NAME, session_id=given[cfg["session_field"]],
                     phone=given[cfg["phone_field"]], text=fields.get(cfg["text_field"], "") or "",
                     input_mode=cfg["input_mode"])
    if cfg["response_format"] == "json":
        return jsonify(action="end" if reply.end else "continue", message=reply.text)
    return ussd_response(reply, cfg["continue_marker"], cfg["end_marker"])


CHANNEL = Channel(NAME, blueprint=bp, routed=False)  # USSD only: answers in the request, sends nothing
