"""The key that seals sensitive queued messages: made when the process starts, held only in its memory.

A reply to a person (and so every message about a referral) waits in the outbox as ciphertext to this key
(a libsodium sealed box to the process's X25519 public key), padded to one size, until a provider takes it; then
it is wiped. Nothing on disk can open it: not the database, its WAL, a backup, a replica or the disk's free
blocks. The price: a message the process could not send before it stopped cannot be sent by the next one; it is
dropped, counted, and shown by `dalil status` (gateway.outbox).

``tag`` names the process that holds the key (its pid, its host, a random part), so another process on the same
database leaves those rows alone while their owner lives, and drops them once it is gone. Only the owner's host
can tell that: on several hosts (docs/operations.md) another host's rows are left to it, or to their expiry.
`dalil serve` publishes its public key in the outbox (gateway.outbox.register_holder): a command-line process
that queues a sensitive message (`dalil poll close`) seals it to the server, whose dispatcher sends it.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import socket

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

PADDED = 1024  # bytes of plaintext every sealed text is padded to: a long SMS and a short one look the same


HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]  # which host, not its name


class _Key:
    def __init__(self):
        self.private = PrivateKey.generate()
        self.mac = secrets.token_bytes(32)
        self.tag = f"{os.getpid()}.{HOST}-{secrets.token_hex(6)}"


_key = _Key()


def tag() -> str:
    return _key.tag


def public_key() -> bytes:
    return bytes(_key.private.public_key)


def seal(text: str, to: bytes | None = None) -> str:
    """Sealed to this process, or to the holder whose public key is ``to``."""
    data = text.encode() + b"\x80"
    if len(data) > PADDED:  # longer than any SMS we send; pad to the next step rather than refuse
        data += b"\x00" * (-len(data) % PADDED)
    else:
        data += b"\x00" * (PADDED - len(data))
    return base64.b64encode(SealedBox(PublicKey(to or public_key())).encrypt(data)).decode()


def unseal(sealed: str) -> str | None:
    """The text, or None when it was sealed by another process (or is not ours at all)."""
    try:
        data = SealedBox(_key.private).decrypt(base64.b64decode(sealed))
    except (CryptoError, ValueError, TypeError):
        return None
    return data.rstrip(b"\x00")[:-1].decode()


def blind(value: str) -> str:
    """A stand-in for an id that another log also holds (a provider's message id, an idempotency key): matches
    within this process, joins to nothing once the process is gone."""
    return hmac.new(_key.mac, value.encode(), hashlib.sha256).hexdigest()[:32]


def holder_alive(other: str | None) -> bool:
    """Is the process that sealed a row with this tag still running (so it may still send it)?"""
    if not other:
        return False
    if other == _key.tag:
        return True
    pid, _, host = other.split("-", 1)[0].partition(".")
    if host and host != HOST:  # a process of another gateway host: it is for that host to say
        return True
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def renew_after_fork() -> None:
    """A forked child must not share its parent's tag (it would claim rows it cannot open)."""
    global _key
    _key = _Key()


os.register_at_fork(after_in_child=renew_after_fork)
