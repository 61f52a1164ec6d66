"""HTTP endpoints of the referrals package.

/api/desk/...       the CSO desks: token + signed, timestamped, single-use requests (referrals.protocol.desk_auth)
/api/reports/...    aggregate, suppressed counts: municipality and coordinator roles
/api/csos          the CSO coordinator role only; the municipality role gets 403
/api/ledger/head    the latest signed checkpoint and the log's verifier key: public, they hold only hashes

Roles are bearer tokens from [referrals] for now (the staff console will bring logins). Every refusal answers a
JSON reason and writes one log line naming the reason and the CSO id, never a number or content.
"""
from __future__ import annotations

import hmac
import json
import logging
import time

from flask import Blueprint, abort, jsonify, request
from nacl.signing import VerifyKey

from gateway.context import dalil
from gateway.channels.common import storable
from referrals import csos, ledger, relay, report, store, witness
from referrals.protocol import desk_auth, sealing
from referrals.keyring import gateway_key, log_key

log = logging.getLogger(__name__)
bp = Blueprint("referrals", __name__)
ENTRIES_PAGE = 1000


# --- roles ------------------------------------------------------------------------------------------------

def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.startswith("Bearer ") else ""


def _role() -> str | None:
    token = _bearer()
    cfg = dalil().config["referrals"]
    for role in ("municipality", "coordinator"):
        expected = cfg[f"{role}_token"]
        if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
            return role
    return None


def _require(*roles: str) -> str:
    role = _role()
    if role is None:
        log.warning("referrals API refused: no valid role token on %s %s", request.method, request.path)
        abort(401, description="a role token is required (Authorization: Bearer ...)")
    if role not in roles:
        log.warning("referrals API refused: the %s role may not use %s", role, request.path)
        abort(403, description=f"the {role} role may not use this endpoint")
    return role


# --- desk authentication ----------------------------------------------------------------------------------

def _refuse_desk(status: int, reason: str, cso_id: str = "?"):
    safe_id = cso_id if csos.CSO_ID.match(cso_id or "") else "?"
    log.warning("desk request refused (cso %s, %s %s): %s", safe_id, request.method, request.path, reason)
    abort(status, description=reason)


def _desk() -> dict:
    """The CSO behind this request, or a refusal: bad token, bad signature, stale, replayed."""
    if _role() is not None:
        _refuse_desk(403, "role tokens cannot use the desk API")
    h = request.headers
    cso_id = h.get(desk_auth.CSO_HEADER, "")
    timestamp, nonce = h.get(desk_auth.TIME_HEADER, ""), h.get(desk_auth.NONCE_HEADER, "")
    signature = h.get(desk_auth.SIGNATURE_HEADER, "")
    if not (cso_id and timestamp and nonce and signature and _bearer()):
        _refuse_desk(401, "missing authentication headers", cso_id)
    cso = store.get_cso(dalil().db(), cso_id) if csos.CSO_ID.match(cso_id) else None
    if cso is None or not csos.token_matches(cso, _bearer()):
        _refuse_desk(401, "unknown organisation or wrong token", cso_id)
    if not cso["active"]:
        _refuse_desk(403, "this organisation is deactivated", cso_id)
    window = dalil().config["referrals"]["request_window_seconds"]
    now = time.time()
    if not _whole_number(timestamp) or abs(now - int(timestamp)) > window:
        _refuse_desk(401, f"timestamp outside the {window} s window (check the desk's clock)", cso_id)
    if len(nonce) < 16 or len(nonce) > 64:
        _refuse_desk(401, "nonce must be 16-64 characters", cso_id)
    if not desk_auth.check_signature(VerifyKey(cso["verify_key"]), request.method, request.full_path.rstrip("?"),
                                         timestamp, nonce, request.get_data(), signature):
        _refuse_desk(401, "bad request signature", cso_id)
    if not store.remember_nonce(dalil().db(), cso_id, nonce, now + 2 * window, now):
        _refuse_desk(401, "replayed request (nonce already used)", cso_id)
    return cso


def _whole_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²" and "١", which int() refuses or reads."""
    return text.isascii() and text.isdigit()


def _json_body() -> dict:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    if not storable(body):
        abort(400, description="the body holds text that is not valid Unicode (a lone surrogate escape)")
    return body


def _relay(fn, cso, *args):
    try:
        return jsonify(fn(dalil(), dalil().db(), cso, *args))
    except relay.Refused as e:
        _refuse_desk(e.status, e.reason, cso["id"])


# --- the desk API -----------------------------------------------------------------------------------------

@bp.get("/api/desk/inbox")
def desk_inbox():
    cso = _desk()
    known, open_now = request.args.get("known_size"), request.args.get("open")
    for name, value in (("known_size", known), ("open", open_now)):
        if value is not None and not (_whole_number(value) and len(value) <= 9):
            _refuse_desk(400, f"{name} must be a whole number", cso["id"])
    return _relay(relay.inbox, cso, int(known) if known is not None else None,
                  int(open_now) if open_now is not None else None)


@bp.post("/api/desk/ack")
def desk_ack():
    cso = _desk()
    body = _json_body()
    referrals, notices = body.get("referrals", []), body.get("notices", [])
    if not isinstance(referrals, list) or not isinstance(notices, list):
        _refuse_desk(400, "referrals and notices must be lists of ids", cso["id"])
    return _relay(relay.acknowledge, cso, referrals, notices)


@bp.post("/api/desk/events")
def desk_events():
    cso = _desk()
    events = _json_body().get("events", [])
    if not isinstance(events, list):
        _refuse_desk(400, "events must be a list", cso["id"])
    return _relay(relay.record_events, cso, events)


@bp.get("/api/desk/ledger/consistency")
def desk_consistency():
    _desk()
    db = dalil().db()
    first, second = request.args.get("from", ""), request.args.get("to", "")
    if not (_whole_number(first) and _whole_number(second)):
        abort(400, description="from and to must be whole numbers")
    try:
        return jsonify(proof=ledger.consistency(db, int(first), int(second)))
    except ValueError as e:
        abort(400, description=str(e))
    except LookupError:
        log.error("referrals: the log cannot give proofs; run `dalil ledger verify`")
        abort(503, description="the gateway's log is damaged; its operator must run `dalil ledger verify`")


@bp.get("/api/desk/ledger/entries")
def desk_entries():
    """Log entries [from, to), at most ENTRIES_PAGE: every desk reads all of them, for every CSO."""
    _desk()
    db = dalil().db()
    first, end = request.args.get("from", ""), request.args.get("to", "")
    if not (_whole_number(first) and _whole_number(end)) or int(first) > int(end):
        abort(400, description="from and to must be whole numbers, from <= to")
    end = min(int(end), int(first) + ENTRIES_PAGE, store.ledger_size(db))
    return jsonify(entries=[sealing.b64(data) for _, data in store.iter_entries_from(db, int(first), end)])


@bp.post("/api/desk/cosign")
def desk_cosign():
    """The desk's answer to the add-checkpoint request its inbox carried: its cosignature line."""
    cso = _desk()
    body = _json_body()
    checkpoint, cosignature = body.get("checkpoint"), body.get("cosignature")
    if not isinstance(checkpoint, str) or not isinstance(cosignature, str):
        _refuse_desk(400, "checkpoint and cosignature must be strings", cso["id"])
    try:
        size = witness.record(dalil().db(), log_key(dalil()), cso, checkpoint, cosignature)
    except witness.Refused as e:
        _refuse_desk(e.status, e.reason, cso["id"])
    return jsonify(cosigned=size)


# --- public: the signed checkpoint ------------------------------------------------------------------------

@bp.get("/api/ledger/head")
def ledger_head():
    ctx = dalil()
    _, checkpoint = ledger.current_checkpoint(ctx.db(), gateway_key(ctx), ctx.config["referrals"]["log_origin"])
    return jsonify(checkpoint=checkpoint, log_key=log_key(ctx).vkey)


# --- roles: coordinator and municipality ------------------------------------------------------------------

@bp.get("/api/reports/referrals")
def referral_report():
    _require("municipality", "coordinator")
    return jsonify(report.build(dalil().db(), dalil().config["referrals"]["small_cell"]))


@bp.get("/api/csos")
def cso_list():
    _require("coordinator")
    db = dalil().db()
    load = store.open_load(db)
    return jsonify(csos=[csos.public_view(c, load.get(c["id"], 0)) for c in store.list_csos(db)])
