"""Secrets the gateway keeps in files under [gateway] keys_dir, created by `dalil init` (or at first start)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from nacl.signing import SigningKey


def _read_or_create(path: Path, make) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


def secret(keys_dir: str, name: str, nbytes: int = 32) -> bytes:
    return _read_or_create(Path(keys_dir) / f"{name}.key", lambda: secrets.token_bytes(nbytes))


def signing_key(keys_dir: str) -> SigningKey:
    """The gateway's Ed25519 key: signs sealed envelopes and the transparency log's tree heads."""
    seed = _read_or_create(Path(keys_dir) / "gateway-signing.key", lambda: bytes(SigningKey.generate()))
    return SigningKey(seed)
