"""Subscribers: who opted in to which updates, and the log of every consent change."""
from __future__ import annotations

import time

from gateway.store import transaction

INTERESTS = ("jobs", "training", "business", "municipal")


def _interests(topic_or_list) -> set[str]:
    if topic_or_list in (None, "", "all"):
        return set(INTERESTS)
    items = [topic_or_list] if isinstance(topic_or_list, str) else list(topic_or_list)
    unknown = set(items) - set(INTERESTS)
    if unknown:
        raise ValueError(f"unknown interest(s): {', '.join(sorted(unknown))}")
    return set(items)


def get(db, phone: str) -> dict | None:
    row = db.execute("SELECT id, phone, language, governorate, delegation, interests, status FROM subscribers "
                     "WHERE phone = ?", [phone]).fetchone()
    if row is None:
        return None
    keys = ("id", "phone", "language", "governorate", "delegation", "interests", "status")
    sub = dict(zip(keys, row))
    sub["interests"] = set(filter(None, sub["interests"].split(",")))
    return sub


def log_consent(db, subscriber_id: int, action: str, channel: str, via: str) -> None:
    db.execute("INSERT INTO consent_log (subscriber_id, at, action, channel, via) VALUES (?, ?, ?, ?, ?)",
               [subscriber_id, time.time(), action, channel, via])


def subscribe(db, phone: str, *, language: str, governorate: str | None = None, delegation: str | None = None,
              interests=None, channel: str, via: str) -> int:
    """Opt a number in (or widen its interests); returns the subscriber id. Interests accumulate."""
    wanted = _interests(interests)
    now = time.time()
    with transaction(db):
        existing = get(db, phone)
        if existing is None:
            cur = db.execute(
                "INSERT INTO subscribers (phone, language, governorate, delegation, interests, status, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
                [phone, language, governorate, delegation, ",".join(sorted(wanted)), now, now])
            sub_id = cur.lastrowid
        else:
            sub_id = existing["id"]
            db.execute("UPDATE subscribers SET language = ?, governorate = coalesce(?, governorate), "
                       "delegation = coalesce(?, delegation), interests = ?, status = 'active', updated_at = ? "
                       "WHERE id = ?",
                       [language, governorate, delegation, ",".join(sorted(existing["interests"] | wanted)), now,
                        sub_id])
        log_consent(db, sub_id, "opt_in", channel, via)
    return sub_id


def opt_out(db, phone: str, *, channel: str, via: str) -> bool:
    """Global and immediate; returns False if the number was not subscribed."""
    with transaction(db):
        existing = get(db, phone)
        if existing is None:
            return False
        db.execute("UPDATE subscribers SET status = 'opted_out', updated_at = ? WHERE id = ?",
                   [time.time(), existing["id"]])
        log_consent(db, existing["id"], "opt_out", channel, via)
    return True
