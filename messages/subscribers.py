"""Subscribers: who opted in to which updates, the log of every consent change, and opt-out everywhere.

Opting out is global and immediate: the subscriber's status changes, the change is logged (when, how, on which
channel), and every blast still queued for them is closed as "skipped: opted out" in the same transaction.
A blast already claimed by a dispatcher is caught at send time by messages.sendcheck.hold. A number that says
STOP without being subscribed is remembered by its contact key (an HMAC, not the number) in opt_out_keys, so
that no CSV import can add it later.
"""
from __future__ import annotations

import hashlib
import time

from gateway import blasts
from gateway.store import transaction
from messages import store
from messages.i18n import LANGUAGES

INTERESTS = ("jobs", "training", "business", "municipal")

# The outbox has no "skipped" state (its states belong to the delivery code): a blast row that must not go out
# because its subscriber opted out is closed as failed with exactly this error, and campaign results count it
# apart from real failures.
SKIPPED_OPTED_OUT = "skipped: opted out"

def parse_interests(topic_or_list) -> set[str]:
    """'all', None or '' mean every interest; otherwise a name or a list of names from INTERESTS."""
    if topic_or_list in (None, "", "all"):
        return set(INTERESTS)
    items = [topic_or_list] if isinstance(topic_or_list, str) else list(topic_or_list)
    if "all" in items:
        return set(INTERESTS)
    unknown = set(items) - set(INTERESTS)
    if unknown:
        raise ValueError(f"unknown interest(s): {', '.join(sorted(unknown))}; known: {', '.join(INTERESTS)}")
    return set(items)


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; known: {', '.join(LANGUAGES)}")


def get(db, phone: str) -> dict | None:
    sub = store.subscriber(db, phone)
    if sub is None:
        return None
    sub["interests"] = set(filter(None, sub["interests"].split(",")))
    return sub


def log_consent(db, subscriber_id: int, action: str, channel: str, via: str, now: float | None = None) -> None:
    store.log_consent(db, subscriber_id, action, channel, via, time.time() if now is None else now)


def consent_history(db, phone: str) -> list[dict]:
    return [dict(zip(("at", "action", "channel", "via"), r)) for r in store.consent_rows(db, phone)]


def subscribe(db, phone: str, *, language: str, governorate: str | None = None, delegation: str | None = None,
              interests=None, channel: str, via: str, contact_key: str | None = None,
              now: float | None = None) -> int:
    """Opt a number in (or widen its interests); returns the subscriber id. Interests accumulate.

    This is the person's own request (keyword, menu), so it also lifts an earlier opt-out.
    """
    _check_language(language)
    wanted = parse_interests(interests)
    now = time.time() if now is None else now
    with transaction(db):
        existing = get(db, phone)
        if existing is None:
            sub_id = store.insert_subscriber(db, phone, language, governorate, delegation, ",".join(sorted(wanted)),
                                             now)
        else:
            sub_id = existing["id"]
            store.widen_subscription(db, sub_id, language, governorate, delegation,
                                     ",".join(sorted(existing["interests"] | wanted)), now)
        if contact_key:
            store.forget_opt_out_key(db, contact_key)
        log_consent(db, sub_id, "opt_in", channel, via, now)
    return sub_id


def drop_interest(db, phone: str, topic: str, *, channel: str, via: str, contact_key: str | None = None,
                  now: float | None = None) -> set[str]:
    """Stop one topic for an active subscriber; the topics left. Dropping the last one is a full opt-out."""
    existing = get(db, phone)
    if existing is None or existing["status"] != "active":
        return set()
    left = existing["interests"] - parse_interests(topic)
    if not left:
        opt_out(db, phone, channel=channel, via=via, contact_key=contact_key, now=now)
        return set()
    now = time.time() if now is None else now
    with transaction(db):
        store.set_interests(db, existing["id"], ",".join(sorted(left)), now)
        log_consent(db, existing["id"], "topic_removed", channel, via, now)
    return left


def opt_out(db, phone: str, *, channel: str, via: str, contact_key: str | None = None,
            now: float | None = None) -> bool:
    """Global and immediate; returns False if the number was not subscribed (nothing to change).

    With a ``contact_key``, a number we never subscribed is still remembered as refusing blasts.
    """
    now = time.time() if now is None else now
    with transaction(db):
        existing = get(db, phone)
        if existing is None:
            if contact_key:
                store.remember_opt_out_key(db, contact_key)
            return False
        if existing["status"] != "opted_out":
            store.set_opted_out(db, existing["id"], now)
            log_consent(db, existing["id"], "opt_out", channel, via, now)
        skip_queued_blasts(db, existing["id"], now)
    return True


def opt_in_again(db, phone: str, *, channel: str, via: str, contact_key: str | None = None,
                 now: float | None = None) -> str:
    """START: 'resumed' for a subscriber who had opted out, 'already' for an active one, 'unknown' otherwise."""
    now = time.time() if now is None else now
    with transaction(db):
        existing = get(db, phone)
        if existing is None:
            return "unknown"
        if existing["status"] == "active":
            return "already"
        store.set_opted_in(db, existing["id"], now)
        if contact_key:
            store.forget_opt_out_key(db, contact_key)
        log_consent(db, existing["id"], "opt_in", channel, via, now)
    return "resumed"


def opt_out_mark(phone: str) -> str:
    """What an erased number leaves for opt-out compliance: 16 bits of a hash, shared by about 1,500 of the 10^8
    Tunisian mobile numbers, so the table lists no one; an import skips every number with a mark (docs/privacy.md)."""
    return "mark:" + hashlib.sha256(b"dalil-opt-out:" + phone.encode()).hexdigest()[:4]


def erase(db, phone: str, contact_key: str | None = None) -> None:
    """"Delete my data": the subscription, its preferences and its consent history go; a coarse mark stays."""
    with transaction(db):
        row = store.subscriber(db, phone)
        if row:
            skip_queued_blasts(db, row["id"])
            blasts.forget_subscriber(db, row["id"])
            store.delete_subscriber(db, row["id"])
        if contact_key:
            store.forget_opt_out_key(db, contact_key)
        store.remember_opt_out_key(db, opt_out_mark(phone))


def skip_queued_blasts(db, subscriber_id: int, now: float | None = None) -> int:
    """Close every blast still waiting for this subscriber; returns how many."""
    return blasts.skip_for_subscriber(db, subscriber_id, SKIPPED_OPTED_OUT, now)


def is_opted_out(db, phone: str, contact_key: str | None = None) -> bool:
    status = store.subscriber_status(db, phone)
    if status is not None:
        return status == "opted_out"
    return bool(contact_key) and store.any_opt_out_key(db, contact_key)


def counts(db) -> dict[str, int]:
    """Subscribers by status, and active ones by language."""
    by_status, by_language = store.subscriber_counts(db)
    return {**{f"status:{s}": n for s, n in by_status}, **{f"language:{lang}": n for lang, n in by_language}}


def listing(db, *, status: str | None = None, governorate: str | None = None, limit: int = 50):
    """Rows for staff, newest first (a cursor, not a list: the table can be large)."""
    return store.subscriber_rows(db, status=status, governorate=governorate, limit=limit)
