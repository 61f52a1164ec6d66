"""The erasure keyword by SMS, in Arabic, French and English (the words are in the referrals catalogs)."""
from __future__ import annotations

import re
import unicodedata

from gateway import contacts
from messages import i18n
from referrals import erasure

ARABIC_MARKS = re.compile(r"[\u064B-\u065F\u0670\u0640]")  # harakat and tatweel: "امسحْ" is "امسح"


def normalize(text: str) -> str:
    text = ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text or ""))
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return re.sub(r"[\s\W_]+", " ", text).strip().casefold()


def keyword_language(text: str) -> str | None:
    said = normalize(text)
    if not said:
        return None
    for lang in i18n.LANGUAGES:
        words = {normalize(w) for w in i18n.t(lang, "referral.erase.keywords").split(",")}
        if said in words:
            return lang
    return None


def handle(ctx, db, sms) -> list[str] | None:
    lang = keyword_language(sms.text)
    if lang is None:
        return None
    key = contacts.contact_key(ctx.secret("contacts"), sms.phone)
    erasure.request(ctx, db, sms.phone, key)
    return [i18n.t(lang, "help.erase.done_all")]
