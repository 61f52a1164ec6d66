"""Sealed envelopes: what only the receiving CSO's desk can open, signed so it knows the gateway made it.

An envelope is a libsodium sealed box (X25519 + XSalsa20-Poly1305, anonymous sender) to the CSO's public key,
holding canonical JSON. The plaintext is padded to one size (SIZE bytes) first, so every envelope and every
erasure notice is the same size: nothing tells whether a note was written, how long it was, or what kind it
is. The gateway signs ``context || recipient || id || box``
with its Ed25519 key: the signature binds the box to the CSO and the referral (or notice) it was made for, so an
envelope moved to another row, or another CSO's, fails the desk's check.

The same construction carries erasure notices (referrals.erasure).
"""
from __future__ import annotations

import base64
import json

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

SIZE = 2048  # a 300-character Arabic note (UTF-8, JSON-escaped where needed) and the rest fit with room
MAX_PLAINTEXT = SIZE - 1
CONTEXT = {"referral": b"dalil-envelope-v1\n", "erasure": b"dalil-erasure-v1\n"}


class EnvelopeError(Exception):
    """The envelope was not made by this gateway for this CSO and row, or was changed since."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def _pad(data: bytes) -> bytes:
    # 0x80 then zeros (ISO/IEC 7816-4): unambiguous to strip, whatever the JSON ends with
    data += b"\x80"
    return data + b"\x00" * (SIZE - len(data))


def _unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80"):
        raise EnvelopeError("bad padding")
    return stripped[:-1]


def _signed_message(kind: str, recipient: str, item_id: str, box: bytes) -> bytes:
    return CONTEXT[kind] + recipient.encode() + b"\n" + item_id.encode() + b"\n" + box


def seal(gateway_key: SigningKey, cso_id: str, cso_box_key: bytes, item_id: str, content: dict,
         kind: str = "referral") -> tuple[bytes, bytes]:
    """(box, signature) for ``content`` sealed to the CSO's X25519 public key."""
    plain = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    if len(plain) > MAX_PLAINTEXT:
        raise ValueError("envelope content too large")
    box = SealedBox(PublicKey(cso_box_key)).encrypt(_pad(plain))
    return box, gateway_key.sign(_signed_message(kind, cso_id, item_id, box)).signature


def check_signature(gateway_verify_key: VerifyKey, cso_id: str, item_id: str, box: bytes, signature: bytes,
                    kind: str = "referral") -> None:
    try:
        gateway_verify_key.verify(_signed_message(kind, cso_id, item_id, box), signature)
    except (BadSignatureError, ValueError, TypeError):
        raise EnvelopeError("the gateway's signature does not match this envelope") from None


def open_envelope(gateway_verify_key: VerifyKey, cso_id: str, cso_secret: PrivateKey, item_id: str, box: bytes,
                  signature: bytes, kind: str = "referral") -> dict:
    """Check the signature, open the box, check the content names the same item; raise EnvelopeError otherwise."""
    check_signature(gateway_verify_key, cso_id, item_id, box, signature, kind)
    try:
        plain = _unpad(SealedBox(cso_secret).decrypt(box))
        content = json.loads(plain)
    except (CryptoError, ValueError):
        raise EnvelopeError("the envelope does not open with this CSO's key") from None
    if not isinstance(content, dict) or content.get("id") != item_id or content.get("kind") != kind:
        raise EnvelopeError("the envelope's content belongs to another item")
    return content
