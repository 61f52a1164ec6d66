"""The gateway's Ed25519 key, loaded once per process (it signs every envelope and every checkpoint), and the
coordinator's public key from the config (it signs every CSO registration)."""
from __future__ import annotations

from nacl.signing import SigningKey

from gateway import keys
from referrals import ledger
from referrals.protocol import note, registry


def gateway_key(ctx) -> SigningKey:
    key = ctx.services.referrals_signing_key
    if key is None:
        key = ctx.services.referrals_signing_key = keys.signing_key(ctx.keys_dir)
    return key


def log_key(ctx) -> note.Verifier:
    return ledger.log_verifier(ctx.config["referrals"]["log_origin"], gateway_key(ctx))


def coordinator_key(ctx) -> note.Verifier | None:
    """None while [referrals] coordinator_key is unset: then no registration is valid."""
    vkey = ctx.config["referrals"]["coordinator_key"]
    if not vkey:
        return None
    try:
        return registry.coordinator(vkey)
    except registry.RegistrationError as e:
        raise registry.RegistrationError(f"[referrals] {e}") from None
