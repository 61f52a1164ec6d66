"""An Android phone with a SIM on the office network, speaking the SMSSync protocol: SMS with no internet at all.

One endpoint, /hooks/smssync, as the Sync URL set in the app:

- POST (no task): an SMS the phone received (from, message, message_id, sent_to, secret, device_id,
  sent_timestamp); answered {"payload": {"success": true, "error": null}}.
- GET ?task=send: the phone polls for messages to send. We lease the outbox rows routed to the phone and hand
  them over with a uuid each: {"payload": {"task": "send", "secret": ..., "messages": [{to, message, uuid}]}}.
- POST ?task=sent {"queued_messages": [uuid, ...]}: the phone has queued them; they become ``sent``. Answered
  {"message_uuids": [...]}. A message the phone never confirms returns to the queue when its lease ends.
- GET ?task=result: the uuids still waiting for a delivery result; POST ?task=result {"message_result": [...]}:
  sent_result_code 0 = sent, other = the phone could not send (failed); delivered_result_code 0 = delivered.

The shared secret is checked both ways: the phone sends it with every request and we refuse (403) any other;
we send it back in task=send so the phone refuses a server that does not know it. Each poll also tells routing
the phone is online; when it stops polling its messages go to the next channel.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time

from flask import Blueprint, abort, jsonify, request

from gateway import channel_state, contacts, outbox, routing
from gateway.context import dalil
from gateway.channels.common import Channel, storable
from gateway.holds import held_back
from gateway.ratelimit import SharedBucket
from gateway.inbound import InboundSMS, receive_sms
from gateway.store import scrub_wal, transaction

log = logging.getLogger(__name__)

NAME = "smssync"
LEASE_OWNER = "smssync-phone"
MAX_IDS = 500  # uuids accepted per task=sent / task=result request
RESULT_WINDOW_SECONDS = 24 * 3600

bp = Blueprint("smssync", __name__, url_prefix="/hooks/smssync")


def _config() -> dict:
    return dalil().config["channels.smssync"]


def _json_body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) and storable(data) else {}


def _given_secret() -> str:
    return request.args.get("secret") or request.form.get("secret") or str(_json_body().get("secret") or "")


@bp.before_request
def check_secret():
    section = _config()
    if not section["enabled"] or not section["secret"]:
        abort(404)
    given = _given_secret()
    if not hmac.compare_digest(given.encode(), section["secret"].encode()):
        abort(403, description="missing secret" if not given else "wrong secret")
    with transaction(dalil().db()):
        channel_state.record_seen(dalil().db(), NAME)


@bp.post("")
def post():
    task = request.args.get("task", "")
    if task == "sent":
        return _confirm_sent()
    if task == "result":
        return _receive_results()
    if task:
        abort(400, description=f"unknown task: {task[:20]}")
    return _receive_sms()


@bp.get("")
def get():
    task = request.args.get("task", "")
    if task == "send":
        return _hand_over_messages()
    if task == "result":
        return _awaiting_results()
    abort(400, description="expected ?task=send or ?task=result")


def _receive_sms():
    form = request.form
    if not (form.get("from") or "").strip() or "message" not in form:
        abort(400, description="missing field: from or message")
    try:
        phone = contacts.normalize(form["from"])
    except contacts.BadNumber as e:
        abort(400, description=f"from: {e}")
    receive_sms(dalil(), InboundSMS(NAME, phone, form["message"], _inbound_id(form)))
    return jsonify(payload={"success": True, "error": None})


def _inbound_id(form) -> str:
    if (form.get("message_id") or "").strip():
        return form["message_id"].strip()
    # Old app versions send no message_id: the same SMS re-synced still gives the same key.
    raw = "|".join(form.get(k, "") for k in ("from", "sent_timestamp", "message", "device_id"))
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()


def _hand_over_messages():
    ctx = dalil()
    db = ctx.db()
    now = time.time()
    router = routing.build(ctx.config, db, now)
    limit = _rate_allowance(ctx, db, _config()["batch"])
    with transaction(db):
        outbox.reclaim_expired_leases(db, now)  # the dispatcher may not be running: the phone's own come back
        batch = outbox.claim(db, LEASE_OWNER, router.sql(), [NAME], limit,
                             ctx.config["dispatcher"]["lease_seconds"], now,
                             provider_id_sql="coalesce(provider_id, lower(hex(randomblob(16))))")
    batch = [m for m in batch if not held_back(ctx, db, m)]
    _take_rate_tokens(ctx, batch)
    if batch:
        log.info("smssync: handed %d message(s) to the device", len(batch))
    messages = [{"to": m.to, "message": m.body, "uuid": m.provider_id} for m in batch]
    return jsonify(payload={"task": "send", "secret": _config()["secret"], "messages": messages})


def _rate_allowance(ctx, db, batch: int) -> int:
    rate = ctx.config["dispatcher"]["rate_segments_per_second"].get(NAME)
    if not rate:
        return batch
    return min(batch, int(SharedBucket(ctx, NAME, float(rate)).available()))


def _take_rate_tokens(ctx, batch) -> None:
    rate = ctx.config["dispatcher"]["rate_segments_per_second"].get(NAME)
    if rate and batch:
        SharedBucket(ctx, NAME, float(rate)).take_now(sum(m.segments for m in batch))


def _uuid_list(data, key: str) -> list[str]:
    values = data.get(key) if isinstance(data, dict) else None
    if values is None:
        values = request.form.getlist(key) or request.form.getlist(key + "[]")
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        abort(400, description=f"{key} must be a list of uuids")
    if len(values) > MAX_IDS:
        abort(400, description=f"at most {MAX_IDS} uuids per request")
    return values


def _confirm_sent():
    uuids = _uuid_list(_json_body(), "queued_messages")
    db = dalil().db()
    with transaction(db):
        moved, wiped = outbox.mark_sent_by_provider_ids(db, NAME, uuids)
        if moved:
            channel_state.record_success(db, NAME)
    if wiped:
        scrub_wal(db)
    if moved < len(uuids):
        log.info("smssync: %d confirmed uuid(s) were not waiting (already sent or unknown)", len(uuids) - moved)
    return jsonify(message_uuids=uuids)


def _awaiting_results():
    """The phone asks which uuids still want a result: those sent in the last day (a phone with delivery reports
    switched off never answers, and the list must not grow for ever)."""
    ids = outbox.sent_awaiting_receipt(dalil().db(), NAME, time.time() - RESULT_WINDOW_SECONDS, MAX_IDS)
    return jsonify(message_uuids=ids)


def _receive_results():
    results = _json_body().get("message_result")
    if not isinstance(results, list) or not all(isinstance(r, dict) and isinstance(r.get("uuid"), str)
                                                for r in results):
        abort(400, description="message_result must be a list of objects with a uuid")
    if len(results) > MAX_IDS:
        abort(400, description=f"at most {MAX_IDS} results per request")
    db = dalil().db()
    unknown = 0
    with transaction(db):
        for result in results:
            unknown += not _record_result(db, result)
    if unknown:
        log.info("smssync: %d result(s) for uuids we do not know (ignored)", unknown)
    return jsonify(payload={"success": True, "error": None})


def _record_result(db, result: dict) -> bool:
    """One phone report. Android's send result codes: 0 OK, 1 generic failure, 2 radio off, 3 null PDU, 4 no
    service. Returns False for an unknown uuid."""
    uuid = result["uuid"]
    sent_code = _int(result.get("sent_result_code"))
    if sent_code not in (None, 0):
        reason = f"phone could not send ({sent_code}: {result.get('sent_result_message') or 'error'})"
        return outbox.record_receipt(db, NAME, uuid, False, reason)
    if _int(result.get("delivered_result_code")) == 0:
        return outbox.record_receipt(db, NAME, uuid, True)
    return outbox.knows_provider_id(db, NAME, uuid)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: Infinity, which Python's json reads
        return None


# pulls its messages (no sender); "secret" is needed: a phone without one would hand messages to anyone who asks
CHANNEL = Channel(NAME, blueprint=bp, needs=("secret",), polled=True)
