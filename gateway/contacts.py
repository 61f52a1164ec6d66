"""What the gateway remembers about a number between sessions: language and governorate, nothing else.

Rows are keyed by an HMAC of the E.164 number, not the number. That keeps the number itself out of the file
(the privacy tests scan for it); it is not anonymity against someone holding the key and 10^8 guesses, so
nothing sensitive is ever stored here: no timestamps, no screens visited, no link to a referral.
"""
from __future__ import annotations

import functools
import hashlib
import hmac

import phonenumbers

from gateway.store import single_write


class BadNumber(ValueError):
    pass


@functools.lru_cache(maxsize=4096)  # every hop of a session repeats the number; parsing it is the slow part
def normalize(raw: str, region: str = "TN") -> str:
    """E.164 for a number as providers send it (+216..., 216..., 0021 6..., or 8 national digits)."""
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text[:3] == "216" and len(text.replace(" ", "")) == 11:
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise BadNumber("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise BadNumber("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_key(secret: bytes, e164: str) -> str:
    return hmac.new(secret, e164.encode(), hashlib.sha256).hexdigest()


def get(db, key: str) -> dict:
    row = db.execute("SELECT language, governorate FROM contacts WHERE contact_key = ?", [key]).fetchone()
    return {"language": row[0], "governorate": row[1]} if row else {"language": None, "governorate": None}


def remember(db, key: str, **fields) -> None:
    allowed = {k: v for k, v in fields.items() if k in ("language", "governorate")}
    if not allowed:
        return
    cols = ", ".join(allowed)
    marks = ", ".join("?" for _ in allowed)
    updates = ", ".join(f"{k} = excluded.{k}" for k in allowed)
    single_write(db, f"INSERT INTO contacts (contact_key, {cols}) VALUES (?, {marks}) "  # noqa: S608 (fixed names, bound values)
                     f"ON CONFLICT(contact_key) DO UPDATE SET {updates}", [key, *allowed.values()])


def forget(db, key: str) -> None:
    db.execute("DELETE FROM contacts WHERE contact_key = ?", [key])
