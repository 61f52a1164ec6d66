"""A CSO's two key pairs, made and kept on its own machine, and the public bundle it gives the coordinator.

The sealed-box key opens envelopes; the Ed25519 key signs desk requests and witness cosignatures. The file never
leaves the CSO's machine; the bundle (dalil-cso-1:<box>:<verify>) is what `dalil cso keygen` prints.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

BUNDLE_PREFIX = "dalil-cso-1"


class RegistryError(ValueError):
    pass


def keygen(path: str | os.PathLike) -> str:
    """Write a new key pair file (mode 0600, never overwritten) and return the public bundle to register."""
    path = Path(path)
    box, sign = PrivateKey.generate(), SigningKey.generate()
    data = json.dumps({"version": 1, "box_secret": base64.b64encode(bytes(box)).decode(),
                       "sign_seed": base64.b64encode(bytes(sign)).decode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(data)
    return bundle(bytes(box.public_key), bytes(sign.verify_key))


def load_keys(path: str | os.PathLike) -> tuple[PrivateKey, SigningKey]:
    try:
        data = json.loads(Path(path).read_text())
        return (PrivateKey(base64.b64decode(data["box_secret"])), SigningKey(base64.b64decode(data["sign_seed"])))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegistryError(f"{path}: not a CSO key file ({e.__class__.__name__})") from None


def bundle(box_public: bytes, verify_key: bytes) -> str:
    enc = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    return f"{BUNDLE_PREFIX}:{enc(box_public)}:{enc(verify_key)}"


def parse_bundle(text: str) -> tuple[bytes, bytes]:
    try:
        prefix, box, verify = text.strip().split(":")
        dec = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))  # noqa: E731
        keys = dec(box), dec(verify)
    except ValueError:
        raise RegistryError("the public key must be the line `dalil cso keygen` printed (dalil-cso-1:...)") from None
    if prefix != BUNDLE_PREFIX or any(len(k) != 32 for k in keys):
        raise RegistryError("the public key must be the line `dalil cso keygen` printed (dalil-cso-1:...)")
    return keys
