"""A consented referral becomes a sealed envelope, a log entry, a count and the person's SMS, in one transaction.

Called only after the person said yes on the consent screen that named the organisation: nothing before that
point is written anywhere. What is sealed: the number, the answers, the note and the reference code. What is
stored in clear: the CSO and the day, until its desk acknowledges the envelope, and +1 on the counter of the
month, need and governorate. The reference code is random and kept only in the envelope, on the person's screen
and in their SMS (sealed while it waits, wiped once sent). The SMS goes after a random delay, and the CSO's
caseworker hears of it in a later digest (referrals.notices): no message leaves at the moment of the referral.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from gateway import outbox
from gateway.store import transaction
from messages import bidi, i18n
from referrals import ledger, notices, store
from referrals.protocol import days, registry, sealing
from referrals.keyring import gateway_key

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud over a phone and typed on a keypad
CODE_LENGTH = 6
ANSWER_KEYS = ("nationality", "status")
UNKNOWN_PLACE = "unknown"  # the person preferred not to say where


@dataclass(frozen=True)
class Submitted:
    referral_id: str
    code: str
    org: str
    contact: str


def new_code() -> str:
    """Random, and not checked for uniqueness: the gateway keeps no list of codes to check against. Desks key
    referrals by their 128-bit id; a code is what a person reads to a caseworker (32^6, about 10^9 of them)."""
    return "R-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def submit(ctx, db, cso: dict, *, phone: str, lang: str, channel: str, need: str, governorate: str | None,
           delegation: str | None, answers: dict, note: str) -> Submitted:
    cfg = ctx.config["referrals"]
    key = gateway_key(ctx)
    day = days.today()
    referral_id = secrets.token_hex(16)
    note = (note or "").strip()[: cfg["note_max_chars"]]
    code = new_code()
    with transaction(db):
        content = {
            "kind": "referral", "id": referral_id, "code": code, "cso": cso["id"], "day": day,
            "need": need, "phone": phone, "language": lang, "channel": channel,
            "governorate": governorate or "", "delegation": delegation or "",
            "answers": {k: answers.get(k) or "" for k in ANSWER_KEYS}, "note": note,
        }
        box, signature = sealing.seal(key, cso["id"], cso["box_key"], referral_id, content)
        # the fingerprint of the key it was sealed to: every desk checks it against the coordinator's registry
        index = ledger.append(db, "created", referral_id, envelope=box, day=day,
                              key=registry.key_fingerprint(cso["box_key"]))
        store.insert_referral(db, {"id": referral_id, "cso_id": cso["id"], "created_day": day, "envelope": box,
                                   "signature": signature, "ledger_index": index})
        if cfg["notify_caseworkers"] and cso["notify_phone"]:
            store.add_pending_notice(db, cso["id"])
        submitted = Submitted(referral_id, code, cso["name"], cso["contact"])
        low, high = cfg["person_sms_delay_seconds"]
        outbox.enqueue(db, phone, person_sms(ctx, lang, submitted), kind="reply", sensitive=True,
                       not_before=time.time() + low + secrets.randbelow(max(int(high - low), 0) + 1),
                       max_age_hours=ctx.config["dispatcher"]["max_age_hours"])
    notices.count_later(ctx, day[:7], need, governorate or UNKNOWN_PLACE)
    return submitted


def person_sms(ctx, lang: str, submitted: Submitted) -> str:
    """The code only, unless the deployment's SMS channel is held by the CSOs: then the organisation too."""
    if ctx.config["referrals"]["sms_held_by_csos"]:
        return i18n.t(lang, "referral.sms.person", code=submitted.code, org=submitted.org,
                      contact=bidi.safe(submitted.contact, lang))  # a phone number that reads in order in Arabic
    return i18n.t(lang, "referral.sms.code", code=submitted.code)
