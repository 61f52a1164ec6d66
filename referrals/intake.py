"""A consented referral becomes a sealed envelope, a log entry and two SMS, in one transaction.

Called only after the person said yes on the consent screen that named the organisation: nothing before that
point is written anywhere. What is sealed: the number, the answers and the note. What is stored in clear: the
routing metadata (CSO, need, governorate, day). The reference code is random: nothing about the person, their
number or the time can be computed from it, or it from them.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from gateway import outbox
from gateway.store import transaction
from messages import i18n
from referrals import days, ledger, registry, sealing, store
from referrals.keyring import gateway_key

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud over a phone and typed on a keypad
CODE_LENGTH = 6
ANSWER_KEYS = ("nationality", "status")


@dataclass(frozen=True)
class Submitted:
    referral_id: str
    code: str
    org: str
    contact: str


def new_code(db) -> str:
    while True:
        code = "R-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if not store.code_taken(db, code):
            return code


def submit(ctx, db, cso: dict, *, phone: str, lang: str, channel: str, need: str, governorate: str | None,
           delegation: str | None, answers: dict, note: str) -> Submitted:
    cfg = ctx.config["referrals"]
    key = gateway_key(ctx)
    day = days.today()
    referral_id = secrets.token_hex(16)
    note = (note or "").strip()[: cfg["note_max_chars"]]
    with transaction(db):
        code = new_code(db)
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
        store.insert_referral(db, {
            "id": referral_id, "code": code, "cso_id": cso["id"], "need": need, "governorate": governorate or None,
            "created_day": day, "state": "sealed", "state_day": day, "envelope": box, "signature": signature,
            "ledger_index": index,
        })
        if cfg["notify_caseworkers"] and cso["notify_phone"]:
            # no personal data, but still wiped once sent: code + CSO + send time would date the referral
            text = i18n.t(cso["language"], "referral.sms.caseworker", code=code,
                          category=i18n.t(cso["language"], f"help.need.{need}"))
            outbox.enqueue(db, cso["notify_phone"], text, kind="referral", sensitive=True,
                           idempotency_key=f"referral-notice:{referral_id}",
                           max_age_hours=ctx.config["dispatcher"]["max_age_hours"])
    return Submitted(referral_id, code, cso["name"], cso["contact"])


def person_sms(lang: str, submitted: Submitted) -> str:
    return i18n.t(lang, "referral.sms.person", code=submitted.code, org=submitted.org, contact=submitted.contact)
