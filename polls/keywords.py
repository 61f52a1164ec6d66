"""A poll's SMS keyword: "WATER" starts the poll as a conversation, "WATER 2" also answers its first question.

A keyword of a closed poll gets a polite "this poll is closed"; a draft's keyword means nothing yet.
"""
from __future__ import annotations

from flows import sms as conversation
from messages.keywords import fold
from polls import store
from polls.model import KEYWORD


def _subscriber_language(ctx, db, phone: str) -> str | None:
    """An invited subscriber who never used the menus answers in the language they subscribed in."""
    from gateway import contacts
    from messages import subscribers
    try:
        known = subscribers.get(db, contacts.normalize(phone, ctx.config["sms"]["default_region"]))
    except contacts.BadNumber:
        return None
    return known["language"] if known else None


def handle(ctx, db, sms) -> list[str] | None:
    first = fold(sms.text).partition(" ")[0]
    if not KEYWORD.match(first):
        return None
    row = store.by_keyword(db, first)
    if row is None:
        return None
    rest = fold(sms.text).partition(" ")[2]
    lang = _subscriber_language(ctx, db, sms.phone)
    if row["state"] == "open":
        return conversation.start_at(ctx, db, sms.phone, "poll_begin", {"poll_start": row["id"]}, rest, lang)
    return conversation.start_at(ctx, db, sms.phone, "poll_closed", {}, lang=lang)
