"""How a CSO desk proves who it is to the gateway, shared by both sides.

Each request carries the CSO's bearer token *and* an Ed25519 signature, by the key made on the CSO's machine,
over the method, path, a timestamp, a random nonce and the body's hash. The token alone would do over HTTPS;
offices often have plain HTTP on a LAN, where a token can be sniffed and a request replayed. The signature key
never travels, the timestamp bounds how long a request is good for, and the gateway refuses a nonce it has seen.
"""
from __future__ import annotations

import hashlib
import secrets
import time

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

CONTEXT = b"dalil-desk-request-v1\n"
CSO_HEADER = "X-Dalil-CSO"
TIME_HEADER = "X-Dalil-Timestamp"
NONCE_HEADER = "X-Dalil-Nonce"
SIGNATURE_HEADER = "X-Dalil-Signature"


def message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return CONTEXT + "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(cso_id: str, token: str, key: SigningKey, method: str, path: str, body: bytes = b"",
         now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """Headers for one request; ``path`` includes the query string exactly as sent."""
    timestamp = str(int(now if now is not None else time.time()))
    nonce = nonce or secrets.token_hex(16)
    signature = key.sign(message(method, path, timestamp, nonce, body)).signature
    return {"Authorization": f"Bearer {token}", CSO_HEADER: cso_id, TIME_HEADER: timestamp, NONCE_HEADER: nonce,
            SIGNATURE_HEADER: signature.hex()}


def check_signature(verify_key: VerifyKey, method: str, path: str, timestamp: str, nonce: str, body: bytes,
                    signature_hex: str) -> bool:
    try:
        verify_key.verify(message(method, path, timestamp, nonce, body), bytes.fromhex(signature_hex))
        return True
    except (BadSignatureError, ValueError, TypeError):
        return False
