"""The desk's sync with the gateway: push what waits, check the log, open envelopes, act on erasure notices.

Order matters. The head is checked first: if the gateway's log does not extend the head this desk saw last (a
rewrite, a fork, a rollback), the desk raises an alert and stops there, trusting nothing else in the answer.
Each envelope must then match its "created" log entry (same envelope hash, entry included under the head) and
the gateway's signature before it is opened with the CSO's key; one that fails is not opened, not
acknowledged, and raised as an alert. Acknowledgements go out only after the opened referral is committed here,
so the gateway deletes nothing the desk does not hold.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field

import requests

from referrals import days, erasure, ledger, merkle, sealing
from referrals.desk import store
from referrals.desk.home import Desk
from referrals.desk_protocol import sign

log = logging.getLogger(__name__)
TIMEOUT = 15


class GatewayRefused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(f"{status}: {reason}")
        self.status, self.reason = status, reason


@dataclass
class SyncResult:
    ok: bool = False
    offline: bool = False
    error: str = ""
    received: int = 0
    erased: int = 0
    sent: int = 0
    alerts: list[str] = field(default_factory=list)


class Gateway:
    def __init__(self, desk: Desk, session: requests.Session | None = None):
        self.desk = desk
        self.http = session or requests.Session()

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else b""
        headers = sign(self.desk.cso_id, self.desk.token, self.desk.sign_key, method, path, data)
        if body is not None:
            headers["Content-Type"] = "application/json"
        r = self.http.request(method, self.desk.gateway_url + path, data=data or None, headers=headers,
                              timeout=TIMEOUT)
        try:
            answer = r.json()
        except ValueError:
            answer = {}
        if r.status_code >= 400:
            raise GatewayRefused(r.status_code, answer.get("reason") or r.reason)
        return answer


def push(desk: Desk, gateway: Gateway) -> int:
    """Send queued acknowledgements, then status events. Returns how many went."""
    with store.connect(desk.db_path) as conn:
        pending = store.outgoing(conn)
    acks = [p for p in pending if p[1] != "event"]
    events = [p for p in pending if p[1] == "event"]
    sent = 0
    for batch, path, body in (
        (acks, "/api/desk/ack", {"referrals": [p[2] for p in acks if p[1] == "ack_referral"],
                                 "notices": [p[2] for p in acks if p[1] == "ack_notice"]}),
        (events, "/api/desk/events", {"events": [{"referral": p[2], "event": p[3]} for p in events]}),
    ):
        if not batch:
            continue
        try:
            gateway.call("POST", path, body)
        except GatewayRefused as e:
            if e.status not in (400, 404, 409):
                raise  # not authenticated, or the gateway is unwell: keep them for the next sync
            # the gateway will never take these (not ours, or an impossible transition): keep the alert, drop them
            with store.connect(desk.db_path) as conn:
                store.alert(conn, days.today(), "refused", reason=e.reason)
                store.sent(conn, [p[0] for p in batch])
            continue
        with store.connect(desk.db_path) as conn:
            store.sent(conn, [p[0] for p in batch])
        sent += len(batch)
    return sent


def _check_log(desk: Desk, conn, answer: dict, result: SyncResult) -> dict | None:
    """The new head if it is signed and extends the one seen before; else None and an alert."""
    head = answer.get("head") or {}
    if not ledger.check_head(desk.gateway_key, head):
        store.alert(conn, days.today(), "head")
        result.alerts.append("the log head is not signed by the gateway")
        return None
    old = store.head(conn)
    if old is not None:
        c = answer.get("consistency") or {}
        proof = [bytes.fromhex(h) for h in c.get("proof", [])] if "proof" in c else None
        ok = (proof is not None and c.get("from") == old["tree_size"] and merkle.verify_consistency(
            old["tree_size"], head["tree_size"], bytes.fromhex(old["root"]), bytes.fromhex(head["root"]), proof))
        if not ok:
            store.alert(conn, days.today(), "rewrite", day=old["day"], size=old["tree_size"],
                        new_size=head["tree_size"])
            result.alerts.append(f"the gateway's log does not extend the head of size {old['tree_size']} "
                                 f"seen on {old['day']}: rewritten or forked")
            return None
    store.save_head(conn, head)
    return head


def _check_envelope(desk: Desk, item: dict, head: dict) -> dict:
    """Open one envelope after checking it against its log entry; raise EnvelopeError with the reason."""
    try:
        box, signature, leaf = (sealing.unb64(item["envelope"]), sealing.unb64(item["signature"]),
                                sealing.unb64(item["leaf"]))
        index, proof = int(item["ledger_index"]), [bytes.fromhex(h) for h in item["inclusion"]]
        event = ledger.decode_event(leaf)
    except (KeyError, ValueError, TypeError):
        raise sealing.EnvelopeError("malformed envelope record") from None
    if event["event"] != "created" or event.get("ref") != ledger.ref_hash(item["id"]):
        raise sealing.EnvelopeError("its log entry is not this referral's creation")
    if event.get("envelope") != hashlib.sha256(box).hexdigest():
        raise sealing.EnvelopeError("the envelope differs from the one the log recorded")
    if not merkle.verify_inclusion(merkle.leaf_hash(leaf), index, head["tree_size"], proof,
                                   bytes.fromhex(head["root"])):
        raise sealing.EnvelopeError("its log entry is not in the signed log")
    content = sealing.open_envelope(desk.gateway_key, desk.cso_id, desk.box_secret, item["id"], box, signature)
    if content.get("cso") != desk.cso_id or content.get("code") != item.get("code"):
        raise sealing.EnvelopeError("the envelope was made for another organisation or code")
    return content


def _erase(desk: Desk, conn, notice: dict, result: SyncResult) -> None:
    before = notice.get("before")
    if not isinstance(before, int):
        return
    for r in store.referrals(conn):
        if r["ledger_index"] < before and erasure.matches(r["content"].get("phone", ""), notice):
            with store.transaction(conn):
                store.delete_referral(conn, r["id"])
                store.queue(conn, "event", r["id"], "erased")
            result.erased += 1
    if result.erased:
        store.scrub(conn)


def sync(desk: Desk, gateway: Gateway | None = None) -> SyncResult:
    gateway = gateway or Gateway(desk)
    result = SyncResult()
    try:
        result.sent += push(desk, gateway)
        with store.connect(desk.db_path) as conn:
            old = store.head(conn)
        path = "/api/desk/inbox" + (f"?known_size={old['tree_size']}" if old else "")
        answer = gateway.call("GET", path)
        with store.connect(desk.db_path) as conn:
            head = _check_log(desk, conn, answer, result)
            if head is None:
                return _finish(desk, result, error="log check failed")
            today = days.today()
            for item in answer.get("referrals", []):
                if not isinstance(item, dict):
                    continue
                try:
                    content = _check_envelope(desk, item, head)
                except sealing.EnvelopeError as e:
                    if store.reject(conn, str(item.get("id")), str(e)):
                        store.alert(conn, today, "envelope", code=str(item.get("code", "?"))[:12], reason=str(e))
                        result.alerts.append(f"envelope {item.get('code')} refused: {e}")
                    log.warning("desk: envelope refused: %s", e)
                    continue
                with store.transaction(conn):
                    if store.add_referral(conn, content, today, int(item["ledger_index"])):
                        result.received += 1
                    store.queue(conn, "ack_referral", content["id"])
            for item in answer.get("notices", []):
                if not isinstance(item, dict):
                    continue
                try:
                    notice = sealing.open_envelope(desk.gateway_key, desk.cso_id, desk.box_secret, str(item["id"]),
                                                   sealing.unb64(item["envelope"]), sealing.unb64(item["signature"]),
                                                   kind="erasure")
                except (sealing.EnvelopeError, KeyError, ValueError) as e:
                    if store.reject(conn, str(item.get("id")), str(e)):
                        store.alert(conn, today, "envelope", code="erasure", reason=str(e))
                    continue
                _erase(desk, conn, notice, result)
                store.queue(conn, "ack_notice", notice["id"])
        result.sent += push(desk, gateway)
    except requests.RequestException as e:
        result.offline = True
        return _finish(desk, result, error=f"gateway unreachable ({e.__class__.__name__})")
    except GatewayRefused as e:
        return _finish(desk, result, error=e.reason)
    result.ok = not result.alerts
    return _finish(desk, result)


def _finish(desk: Desk, result: SyncResult, error: str = "") -> SyncResult:
    result.error = error
    with store.connect(desk.db_path) as conn:
        if not result.offline and not error:
            store.set_state(conn, "last_sync", time.strftime("%Y-%m-%d %H:%M"))
        store.set_state(conn, "last_error", "offline" if result.offline else error)
    return result


def act(desk: Desk, referral_id: str, status: str, reason: str | None = None) -> bool:
    """A caseworker's decision, recorded here at once and queued for the gateway (sent at the next sync)."""
    with store.connect(desk.db_path) as conn, store.transaction(conn):
        if not store.has_referral(conn, referral_id):
            return False
        store.set_status(conn, referral_id, status, reason)
        store.queue(conn, "event", referral_id, status)
    return True
