"""The gateway's Ed25519 key, loaded once per process (it signs every envelope and every tree head)."""
from __future__ import annotations

from nacl.signing import SigningKey

from gateway import keys


def gateway_key(ctx) -> SigningKey:
    key = ctx.services.get("referrals.signing_key")
    if key is None:
        key = ctx.services["referrals.signing_key"] = keys.signing_key(ctx.keys_dir)
    return key
