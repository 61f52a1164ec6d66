"""Erasure: a person asks (SMS keyword or USSD) and every desk holding their referrals deletes them.

The gateway cannot know which CSOs hold a person's referrals: it keeps nothing that links a number to a
referral, on purpose (a hash or HMAC of a number would be such a link, and 10^8 Tunisian numbers are quickly
tried). So the request goes to *every* active CSO whose registration is valid (referrals.csos.usable), sealed to
each one's key, one notice per CSO, whether or not the person ever asked for help: the municipality sees the same
opaque rows for everyone. The log entry of the request names the keys the notices were sealed to, so every desk
checks that no inactive or unregistered key got one.

A notice does not carry the number either, because CSOs that never served the person should not learn it. It
carries a fresh random salt and Argon2id(number, salt); a desk recomputes that for each number it holds and
deletes the matches. Recovering the number from a notice means running Argon2id (64 MiB, ~0.1 s) over the
number space once per notice: possible for a determined CSO, not a casual glance. Each desk acknowledges the
notice, one event whatever it deleted: an "erased" event per referral would name the person's referrals in the
log. A notice names the log position of the request: a referral the person makes afterwards is kept.
Everything else the gateway holds on the number goes in the same request: the remembered language and home
governorate, the subscription, its preferences and its consent history (messages.subscribers.erase), leaving
only a coarse opt-out mark that lists no one. A number with nothing stored gets the same answer and the same
notices.
Notices do not expire: a desk that syncs once a month still gets them (they go once acknowledged).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from nacl.pwhash import argon2id

from gateway import contacts
from gateway.store import transaction
from messages import subscribers
from referrals import csos, ledger, store
from referrals.protocol import days, registry, sealing
from referrals.protocol.erasure_match import MEMLIMIT, OPSLIMIT, blind
from referrals.keyring import coordinator_key, gateway_key

REPEAT_SECONDS = 3600


def _repeated(ctx, phone: str) -> bool:
    """True when this number asked within the last REPEAT_SECONDS: its first request already went to every CSO.

    Kept in memory only, keyed by an HMAC under a secret made at start and never written down, so the
    limiter is no list of who asked: a restart forgets both."""
    if ctx.services.referrals_erasure_recent is None:
        ctx.services.referrals_erasure_recent = {"secret": secrets.token_bytes(32), "seen": {}}
    state = ctx.services.referrals_erasure_recent
    now = time.monotonic()
    seen = state["seen"]
    for k in [k for k, t in seen.items() if now - t > REPEAT_SECONDS]:
        del seen[k]
    key = hmac.new(state["secret"], phone.encode(), hashlib.sha256).digest()
    if key in seen:
        return True
    seen[key] = now
    return False


def request(ctx, db, phone: str, contact_key: str | None = None) -> int:
    """Queue a sealed erasure notice for every CSO; returns how many. Joins the caller's transaction.

    A repeat within the hour answers the same but queues nothing new: a loop of ERASE texts must not flood
    the desks with notices that each cost an Argon2id run per referral they hold."""
    if contact_key:
        contacts.forget(db, contact_key)  # the language and home area remembered for the number go too
        from jobs import profiles  # the skills profile and what it was matched to (docs/jobs.md)
        profiles.delete(db, contact_key)
    subscribers.erase(db, phone, contact_key)  # subscription, preferences, consent history; a coarse STOP mark
    if _repeated(ctx, phone):
        return 0
    salt = secrets.token_bytes(argon2id.SALTBYTES)
    match = blind(phone, salt)  # before the transaction: ~0.1 s of work should not hold the write lock
    key = gateway_key(ctx)
    day = days.today()
    request_id = secrets.token_hex(16)
    with transaction(db):
        # referrals logged before this entry are the ones to erase; a later one is a new request for help
        recipients = csos.usable(db, coordinator_key(ctx))  # active, and as the coordinator registered them
        # the log names the keys the notices were sealed to, so every desk can check no one else got one
        before = ledger.append(db, "erasure_requested", request_id, day=day,
                               keys=sorted(registry.key_fingerprint(c["box_key"]) for c in recipients))
        for cso in recipients:
            notice_id = secrets.token_hex(16)
            content = {"kind": "erasure", "id": notice_id, "day": day, "salt": sealing.b64(salt),
                       "match": sealing.b64(match), "opslimit": OPSLIMIT, "memlimit": MEMLIMIT, "before": before}
            box, signature = sealing.seal(key, cso["id"], cso["box_key"], notice_id, content, kind="erasure")
            store.insert_notice(db, notice_id, cso["id"], box, signature, day)
    return len(recipients)
