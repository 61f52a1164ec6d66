"""Taking a person's answers without keeping who they are.

The answers live in the session's memory until the last question; then, in one transaction, the number's keyed
hash under the poll's key is added to ``poll_voters`` (refused if it is there: one answer per person) and each
answer adds 1 to two counters (with the caller's home governorate, and with their language). A request for the
result SMS is sealed under the same key and opened only at close.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from nacl.secret import SecretBox

from gateway.store import transaction
from polls import store
from polls.model import Poll

UNKNOWN_AREA = "unknown"


def voter_tag(key: bytes, e164: str) -> bytes:
    return hmac.new(key, e164.encode(), hashlib.sha256).digest()


def already_answered(db, poll: Poll, e164: str) -> bool:
    key = store.key(db, poll.id)
    return key is None or store.has_voter(db, poll.id, voter_tag(key, e164))


def record(db, poll: Poll, e164: str, answers: list[int], governorate: str | None, language: str) -> bool:
    """False when this number has already answered (or the poll closed meanwhile: no key)."""
    with transaction(db):
        key = store.key(db, poll.id)
        if key is None or not store.add_voter(db, poll.id, voter_tag(key, e164)):
            return False
        rows = []
        for question, answer in enumerate(answers, start=1):
            rows.append((question, answer, "governorate", governorate or UNKNOWN_AREA))
            rows.append((question, answer, "language", language))
        store.count_up(db, poll.id, rows)
    return True


def ask_for_result(db, poll: Poll, e164: str, language: str) -> bool:
    with transaction(db):
        key = store.key(db, poll.id)
        if key is None:
            return False
        sealed = SecretBox(key).encrypt(json.dumps({"phone": e164, "lang": language}).encode())
        store.add_result_request(db, poll.id, secrets.token_bytes(16), sealed)
    return True
