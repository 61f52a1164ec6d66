"""The desk's sync with the gateway: push what waits, check the log, cosign it, open envelopes, act on erasure
notices.

Order matters. The log is checked first: the checkpoint must carry the signature of the gateway key pinned at
connect; every entry this desk has read (signed or not yet) must be unchanged and the checkpoint must be the root
of them; if not (a rewrite, a fork, a rollback), the desk raises an alert naming the entry and stops there,
trusting nothing else in the answer. Every new entry is then audited for every CSO (referrals.desk.audit), and
the desk cosigns the checkpoint as a witness (referrals.witness) unless an audit failed.
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

from referrals.desk import audit, store
from referrals.desk.home import Desk
from referrals.protocol import days, erasure_match, events, merkle, note, sealing, witness
from referrals.protocol.desk_auth import sign

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
    cosigned: int | None = None
    withheld: str = ""  # why this desk does not cosign: an alert stands
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


def _fetch_entries(gateway: Gateway, first: int, end: int) -> list[bytes]:
    entries: list[bytes] = []
    while first + len(entries) < end:
        page = gateway.call("GET", f"/api/desk/ledger/entries?from={first + len(entries)}&to={end}")
        try:
            got = [sealing.unb64(e) for e in page.get("entries") or []]
        except (TypeError, ValueError):
            raise GatewayRefused(502, "the gateway's log entries are not base64") from None
        if not got:
            raise GatewayRefused(502, f"the gateway did not give log entries from #{first + len(entries)}")
        entries += got
    return entries[:end - first]


def _first_difference(gateway: Gateway, seen: list[bytes], end: int) -> int | None:
    """The first entry below ``end`` whose data the gateway now gives differently from what this desk read."""
    for first in range(0, end, 1000):
        for offset, data in enumerate(_fetch_entries(gateway, first, min(end, first + 1000))):
            if merkle.leaf_hash(data) != seen[first + offset]:
                return first + offset
    return None


def _alert(conn, result: SyncResult, finding: audit.Finding) -> None:
    store.alert(conn, days.today(), finding.kind, **finding.params)
    result.alerts.append(finding.text)


def _read_log(desk: Desk, gateway: Gateway, conn, answer: dict, result: SyncResult) -> note.Checkpoint | None:
    """Check the checkpoint against the pinned log key, read every entry this desk has not read, check that
    none it read before changed and that the checkpoint is the root of them all, then audit the new ones.
    Returns the checkpoint, or None after an alert (nothing else in the answer is then trusted)."""
    try:
        cp = note.open_checkpoint(str(answer.get("checkpoint")), desk.log_key)
    except note.NoteError:
        _alert(conn, result, audit.Finding("head", {}, "the log's checkpoint is not signed by the gateway key "
                                                       "this desk pinned"))
        return None
    seen = store.leaf_hashes(conn)
    verified = int(store.get_state(conn, "verified_size", "0"))
    log_size = answer.get("log_size")
    log_size = log_size if isinstance(log_size, int) and log_size >= cp.size else cp.size
    start = min(verified, log_size)
    fetched = _fetch_entries(gateway, start, log_size)
    hashes = [merkle.leaf_hash(d) for d in fetched]
    changed = next((i for i in range(start, min(len(seen), log_size)) if hashes[i - start] != seen[i]), None)
    if changed is None and (cp.size < verified or log_size < len(seen)):
        gone = min(cp.size, log_size)
        _alert(conn, result, audit.Finding("rollback", {"entry": gone, "seen": len(seen)},
                                           f"log entry #{gone} and those after it, to #{len(seen) - 1}, which this "
                                           "desk had read, are gone: the log was rolled back"))
        return None
    if changed is None:
        tree = merkle.Tree()
        for h in seen[:verified] + hashes[:cp.size - verified]:
            tree.append_hash(h)
        if (tree.root() if cp.size else merkle.EMPTY_ROOT) != cp.root:
            changed = _first_difference(gateway, seen, verified)
            changed = verified if changed is None else changed  # else its entries disagree with its checkpoint
    if changed is not None:
        _alert(conn, result, audit.Finding("fork", {"entry": changed},
                                           f"log entry #{changed} changed after this desk read it: the log was "
                                           "rewritten or forked"))
        return None
    with store.transaction(conn):
        for index in range(len(seen), log_size):
            for finding in audit.check(conn, desk, index, fetched[index - start]):
                _alert(conn, result, finding)
                bad = store.get_state(conn, "first_bad")
                if not bad or index < int(bad):
                    store.set_state(conn, "first_bad", str(index))
        store.add_leaves(conn, len(seen), hashes[len(seen) - start:])
        store.set_state(conn, "verified_size", str(cp.size))
    return cp


def _cosign(desk: Desk, gateway: Gateway, conn, answer: dict, cp: note.Checkpoint, result: SyncResult) -> None:
    """Answer the add-checkpoint request as a witness, unless an entry up to this size failed a check."""
    bad = store.get_state(conn, "first_bad")
    if bad:
        result.withheld = f"not cosigning the log: entry #{bad} failed this desk's checks (see the alerts)"
        return
    size, root = store.get_state(conn, "cosigned_size"), store.get_state(conn, "cosigned_root")
    last = (int(size), bytes.fromhex(root)) if size else None
    try:
        signed, line = witness.add_checkpoint(str(answer.get("add_checkpoint")), desk.log_key, last,
                                              witness.witness_name(desk.cso_id), desk.sign_key)
    except witness.Refused as e:
        log.warning("desk: not cosigning: %s %s", e.status, e.reason.strip())
        return
    if signed.text != cp.text:
        return
    store.set_state(conn, "cosigned_size", str(cp.size))  # persisted before answering, as tlog-witness asks
    store.set_state(conn, "cosigned_root", cp.root.hex())
    gateway.call("POST", "/api/desk/cosign", {"checkpoint": answer["checkpoint"], "cosignature": line})
    result.cosigned = cp.size


def _check_envelope(desk: Desk, item: dict, head: note.Checkpoint) -> dict:
    """Open one envelope after checking it against its log entry; raise EnvelopeError with the reason."""
    try:
        box, signature, leaf = (sealing.unb64(item["envelope"]), sealing.unb64(item["signature"]),
                                sealing.unb64(item["leaf"]))
        index, proof = int(item["ledger_index"]), [bytes.fromhex(h) for h in item["inclusion"]]
        event = events.decode_event(leaf)
    except (KeyError, ValueError, TypeError):
        raise sealing.EnvelopeError("malformed envelope record") from None
    if event["event"] != "created" or event.get("ref") != events.ref_hash(item["id"]):
        raise sealing.EnvelopeError("its log entry is not this referral's creation")
    if event.get("envelope") != hashlib.sha256(box).hexdigest():
        raise sealing.EnvelopeError("the envelope differs from the one the log recorded")
    if not merkle.verify_inclusion(merkle.leaf_hash(leaf), index, head.size, proof, head.root):
        raise sealing.EnvelopeError("its log entry is not in the signed log")
    content = sealing.open_envelope(desk.gateway_key, desk.cso_id, desk.box_secret, item["id"], box, signature)
    if content.get("cso") != desk.cso_id:
        raise sealing.EnvelopeError("the envelope was made for another organisation")
    return content


def _erase(desk: Desk, conn, notice: dict, result: SyncResult) -> None:
    """Delete the person's referrals here. The gateway hears only that the notice was handled (its ack), the same
    from every desk: a status event per referral would tell it whose referrals they were."""
    before = notice.get("before")
    if not isinstance(before, int):
        return
    for r in store.referrals(conn):
        if r["ledger_index"] < before and erasure_match.matches(r["content"].get("phone", ""), notice):
            with store.transaction(conn):
                store.delete_referral(conn, r["id"])
            result.erased += 1
    if result.erased:
        store.scrub(conn)


def sync(desk: Desk, gateway: Gateway | None = None) -> SyncResult:
    gateway = gateway or Gateway(desk)
    result = SyncResult()
    try:
        result.sent += push(desk, gateway)
        with store.connect(desk.db_path) as conn:
            cosigned = store.get_state(conn, "cosigned_size", "0")
            open_now = store.open_count(conn)
        answer = gateway.call("GET", f"/api/desk/inbox?known_size={cosigned}&open={open_now}")
        with store.connect(desk.db_path) as conn:
            head = _read_log(desk, gateway, conn, answer, result)
            if head is None:
                return _finish(desk, result, error="log check failed")
            _cosign(desk, gateway, conn, answer, head, result)
            today = days.today()
            for item in answer.get("referrals", []):
                if not isinstance(item, dict):
                    continue
                try:
                    content = _check_envelope(desk, item, head)
                except sealing.EnvelopeError as e:
                    if store.reject(conn, str(item.get("id")), str(e)):
                        store.alert(conn, today, "envelope", code=str(item.get("id", "?"))[:12], reason=str(e))
                        result.alerts.append(f"envelope {str(item.get('id'))[:12]} refused: {e}")
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
    result.ok = not result.alerts and not result.withheld
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
