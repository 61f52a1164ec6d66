"""The SMS ways in: the keyword (JOB, EMPLOI/METIER, مهنة) opens the profile as a conversation, and a one-key
reply (1 / 2, or yes / no in any of the three languages) answers the last SMS the jobs package sent the number:
an alert (1 shares the number with the offer's contact), a reminder (1 keeps the profile), a follow-up (1: the
employer called). A reply is read that way only when the number has such a prompt waiting and is not in the
middle of a menu conversation, where 1 and 2 are menu choices.
"""
from __future__ import annotations

from flows import sms as conversation
from jobs import matching, profiles, store
from messages import i18n
from messages.i18n import LANGUAGES
from messages.keywords import fold


def _words(key: str) -> set[str]:
    return {fold(w) for lang in LANGUAGES for w in i18n.t(lang, key).split(",") if fold(w)}


def _key(ctx, e164: str) -> str:
    from gateway import contacts
    return contacts.contact_key(ctx.services.contacts_secret, e164)


def handle(ctx, db, sms) -> list[str] | None:
    said = fold(sms.text)
    first, _, rest = said.partition(" ")
    if first and first in _words("jobs.kw.open"):
        return conversation.start_at(ctx, db, sms.phone, "jobs", {}, rest)
    yes, no = said in _words("jobs.kw.yes"), said in _words("jobs.kw.no")
    if not (yes or no):
        return None
    key = _key(ctx, sms.phone)
    row = store.profile(db, key)
    if row is None or not row["prompt"] or ctx.services.sms_sessions.get(f"sms:{key}") is not None:
        return None
    lang, prompt = row["language"], row["prompt"]
    if prompt == "renew":
        if not yes:
            return None
        until = profiles.renew(ctx, db, key)
        return [i18n.t(lang, "jobs.renewed", day=_day(until, lang))]
    kind, _, offer_id = prompt.partition(":")
    if kind == "offer":
        return [i18n.t(lang, matching.answer(ctx, db, key, sms.phone, int(offer_id), yes))]
    if kind == "followup":
        return [i18n.t(lang, matching.follow_up_answer(db, key, int(offer_id), yes))]
    return None


def _day(day: str, lang: str) -> str:
    from datetime import date
    return i18n.when(date.fromisoformat(day), lang, "short")
