"""Erasure notices as the desk reads them: Argon2id(number, salt), so a desk finds a person's referrals without
the notice carrying the number (why, and the gateway's side: referrals.erasure)."""
from __future__ import annotations

import hmac

from nacl.pwhash import argon2id

from referrals.protocol import sealing

OPSLIMIT = argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT = argon2id.MEMLIMIT_INTERACTIVE


def blind(phone: str, salt: bytes, opslimit: int = OPSLIMIT, memlimit: int = MEMLIMIT) -> bytes:
    return argon2id.kdf(32, phone.encode(), salt, opslimit=opslimit, memlimit=memlimit)


def matches(phone: str, notice: dict) -> bool:
    """On the desk: does this notice ask to erase referrals from ``phone``?"""
    try:
        salt, match = sealing.unb64(notice["salt"]), sealing.unb64(notice["match"])
        opslimit, memlimit = int(notice["opslimit"]), int(notice["memlimit"])
    except (KeyError, ValueError, TypeError):
        return False
    if len(salt) != argon2id.SALTBYTES or not (OPSLIMIT <= opslimit <= 16 and MEMLIMIT <= memlimit <= 1 << 30):
        return False  # parameters outside sane bounds: refuse rather than burn the desk's memory
    return hmac.compare_digest(blind(phone, salt, opslimit, memlimit), match)
