"""The gateway's side of the desk protocol: hand out envelopes, take acknowledgements and status events.

The gateway never opens anything: it hands a CSO its own envelopes with the log entry and inclusion proof that
pin each one, deletes the referral's row as soon as the desk says it has the envelope (a hash of its id and its
state stay, to check later status events), and records status events in the log. The envelope's id is the
desk's proof that a referral is its own: only that CSO's desk ever received it. Every method takes the
authenticated CSO and refuses items that are not that CSO's, without saying whether they exist (one CSO's token
must not be a way to probe another's referrals).
"""
from __future__ import annotations

import logging
import time

from gateway.store import scrub_wal, transaction
from referrals import ledger, store, witness
from referrals.protocol import days, events, sealing
from referrals.protocol.witness import add_checkpoint_body
from referrals.keyring import coordinator_key, gateway_key

log = logging.getLogger(__name__)

# status event -> states it may follow; a repeat of the current state is accepted and changes nothing.
# "erased" stays accepted from desks of an older version; new desks acknowledge an erasure notice only.
TRANSITIONS = {
    "accepted": ("fetched",),
    "declined": ("fetched", "accepted"),
    "closed": ("fetched", "accepted", "declined"),
    "erased": ("fetched", "accepted", "declined", "closed"),
}


class Refused(Exception):
    """A desk asked for something it may not have; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _own(db, cso: dict, referral_id) -> dict:
    referral = store.get_referral(db, referral_id) if isinstance(referral_id, str) else None
    if referral is None or referral["cso_id"] != cso["id"]:
        raise Refused(404, "no such referral waiting for this organisation")
    return referral


def _delivered(db, referral_id) -> tuple[str, str]:
    """(ref hash, state) of a referral a desk acknowledged; knowing its random id is the desk's proof."""
    ref = events.ref_hash(referral_id) if isinstance(referral_id, str) and len(referral_id) <= 64 else ""
    state = store.delivered_state(db, ref) if ref else None
    if state is None:
        raise Refused(404, "no such referral delivered to this organisation")
    return ref, state


def inbox(ctx, db, cso: dict, known_size: int | None, open_now: int | None = None) -> dict:
    if open_now is not None:  # the desk's own count of referrals it has open: the CSO's load for routing
        with transaction(db):
            store.report_open(db, cso["id"], open_now)
    try:
        return _inbox(ctx, db, cso, known_size)
    except LookupError as e:  # a node missing from the log's table: damaged or edited on disk
        log.error("referrals: the log cannot give proofs (%s); run `dalil ledger verify`", e)
        raise Refused(503, "the gateway's log is damaged; its operator must run `dalil ledger verify`") from None


def _inbox(ctx, db, cso: dict, known_size: int | None) -> dict:
    checkpoint_due(ctx, db)  # a write, so before the read-only snapshot below, on the writers' lock
    with transaction(db, immediate=False):  # one snapshot: checkpoint, proofs and envelopes agree
        size, checkpoint = store.latest_checkpoint(db)
        deliver_below = size
        if ctx.config["referrals"]["hold_until_cosigned"]:
            deliver_below = min(size, witness.cosigned_size(db, coordinator_key(ctx)))
        tree = ledger.tree(db)
        envelopes = []
        for r in store.pending_for_cso(db, cso["id"]):
            if r["ledger_index"] >= deliver_below:
                continue
            envelopes.append({
                "id": r["id"], "day": r["created_day"],
                "envelope": sealing.b64(r["envelope"]), "signature": sealing.b64(r["signature"]),
                "ledger_index": r["ledger_index"], "leaf": sealing.b64(store.get_entry(db, r["ledger_index"])),
                "inclusion": [h.hex() for h in tree.inclusion_proof(r["ledger_index"], size)],
            })
        notices = [{"id": n["id"], "envelope": sealing.b64(n["sealed"]), "signature": sealing.b64(n["signature"])}
                   for n in store.notices_for_cso(db, cso["id"])]
        return {"checkpoint": checkpoint, "log_size": tree.size, "referrals": envelopes, "notices": notices,
                "add_checkpoint": add_checkpoint_body(tree, checkpoint, size, known_size or 0)}


def checkpoint_due(ctx, db, force: bool = False) -> tuple[int, str]:
    """Sign a checkpoint if the last one this process signed is [referrals] checkpoint_minutes old (the
    scheduler in `dalil serve` calls this with force, a desk's sync without); else the latest one.
    The time is kept in memory only: a row would date the checkpoint, and with it the referrals it covers."""
    origin, key = ctx.config["referrals"]["log_origin"], gateway_key(ctx)
    now = time.monotonic()
    last = ctx.services.referrals_checkpoint_at
    if force or last is None or now - last >= ctx.config["referrals"]["checkpoint_minutes"] * 60:
        ctx.services.referrals_checkpoint_at = now
        return ledger.sign_checkpoint(db, key, origin)
    return ledger.current_checkpoint(db, key, origin)


def acknowledge(ctx, db, cso: dict, referral_ids: list, notice_ids: list) -> dict:
    """The desk has these safely: delete the referrals' rows (and log "fetched") and the notices."""
    day = days.today()
    done = 0
    with transaction(db):
        for referral_id in referral_ids:
            if isinstance(referral_id, str) and store.delivered_state(db, events.ref_hash(referral_id)):
                continue  # acknowledged before: a retry after a lost answer
            referral = _own(db, cso, referral_id)
            ledger.append(db, "fetched", referral["id"], day=day)
            store.drop_referral(db, referral["id"])
            store.set_delivered(db, events.ref_hash(referral["id"]), "fetched")
            done += 1
        store.add_open(db, cso["id"], done)  # open at the desk now; its next sync reports the exact count
        for notice_id in notice_ids:
            if not isinstance(notice_id, str):
                raise Refused(400, "notice ids must be strings")
            store.delete_notice(db, cso["id"], notice_id)  # a notice already gone is fine: retries happen
    scrub_wal(db)  # the deleted envelopes' pages must not linger in the WAL
    return {"acknowledged": done}


def record_events(ctx, db, cso: dict, events: list) -> dict:
    day = days.today()
    recorded = 0
    with transaction(db):
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("event"), str) or \
                    event["event"] not in TRANSITIONS:
                raise Refused(400, f"events are {{referral, event}} with event among {', '.join(TRANSITIONS)}")
            ref, state = _delivered(db, event.get("referral"))
            kind = event["event"]
            if state == kind:
                continue
            if state not in TRANSITIONS[kind]:
                raise Refused(409, f"the referral is {state}: it cannot be {kind}")
            ledger.append(db, kind, event["referral"], day=day)
            store.set_delivered(db, ref, kind)
            recorded += 1
    scrub_wal(db)
    return {"recorded": recorded}


def expire(ctx, db) -> int:
    """Delete envelopes that no desk acknowledged within expiry_days; log each. Erasure notices stay until
    acknowledged: a desk that was offline for months must still erase."""
    today = days.today()
    cutoff = days.days_before(today, ctx.config["referrals"]["expiry_days"])
    with transaction(db):
        stale = store.unfetched_before(db, cutoff)
        for referral in stale:
            ledger.append(db, "expired", referral["id"], day=today)
            store.drop_referral(db, referral["id"])
    scrub_wal(db)
    return len(stale)

