"""The log's checkpoints are C2SP signed notes that outside verifiers and witnesses accept.

1. The example Go's golang.org/x/mod/sumdb/note documentation publishes (Peter Neumann's note and verifier key)
   verifies with referrals.protocol.note, and signing its text with the documented private key gives the same bytes.
2. A checkpoint the gateway writes verifies with a second implementation written here from the specs
   (c2sp.org/signed-note, tlog-checkpoint, tlog-cosignature), sharing no code with referrals.protocol.note: only
   hashlib, base64 and libsodium's bare Ed25519 verify. The same for a desk's cosignature.
"""
from __future__ import annotations

import base64
import hashlib

import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from referrals import ledger, store

from referrals.protocol import merkle, note, witness
from referrals.keyring import gateway_key, log_key

# golang.org/x/mod/sumdb/note, package documentation ("Signing Notes" and its example)
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann " + GO_SIG + "\n"


# --- an independent reading of the specs --------------------------------------------------------------------

def spec_key_id(name: str, sig_type: int, public: bytes) -> bytes:
    # signed-note: key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]
    return hashlib.sha256(name.encode("utf-8") + b"\x0a" + bytes([sig_type]) + public).digest()[:4]


def spec_parse_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    name, key_hash, material = vkey.split("+", 2)
    raw = base64.standard_b64decode(material)
    assert raw[0] == 0x01 and len(raw) == 33
    assert spec_key_id(name, 0x01, raw[1:]).hex() == key_hash
    return name, bytes.fromhex(key_hash), raw[1:]


def spec_verify_note(data: str, vkey: str) -> str:
    """signed-note: text ending in a newline, a blank line, lines '— <name> base64(key id || sig)'; the text is
    separated from the signatures by the last empty line; a known key must verify."""
    name, key_id, public = spec_parse_vkey(vkey)
    encoded = data.encode("utf-8")
    assert all(b >= 0x20 or b == 0x0A for b in encoded)
    split = encoded.rindex(b"\n\n")
    text, signatures = encoded[:split + 1], encoded[split + 2:]
    verified = False
    for line in signatures.split(b"\n")[:-1]:
        assert line.startswith("\u2014 ".encode())
        who, blob = line[len("\u2014 ".encode()):].decode().split(" ")
        raw = base64.standard_b64decode(blob)
        if who == name and raw[:4] == key_id:
            VerifyKey(public).verify(text, raw[4:])  # raises on a bad signature
            verified = True
    assert verified, "no signature from the known key"
    return text.decode()


def spec_parse_checkpoint(text: str) -> tuple[str, int, bytes]:
    """tlog-checkpoint: origin, decimal size without leading zeroes, base64 RFC 6962 root."""
    origin, size, root = text.split("\n")[:3]
    assert size == str(int(size))
    return origin, int(size), base64.standard_b64decode(root)


def spec_rfc6962_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) from RFC 6962 §2.1, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + spec_rfc6962_root(leaves[:k]) + spec_rfc6962_root(leaves[k:])).digest()


def spec_verify_cosignature(checkpoint_note: str, line: str, name: str, public: bytes) -> int:
    """tlog-cosignature, Ed25519: key ID with type 0x04; signature = u64 timestamp || sig over
    'cosignature/v1\\ntime <t>\\n' || checkpoint text."""
    text = checkpoint_note[:checkpoint_note.rindex("\n\n") + 1]
    who, blob = line.rstrip("\n")[2:].split(" ")
    raw = base64.standard_b64decode(blob)
    assert who == name and raw[:4] == spec_key_id(name, 0x04, public) and len(raw) == 76
    timestamp = int.from_bytes(raw[4:12], "big")
    VerifyKey(public).verify(f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode(), raw[12:])
    return timestamp


# --- the published example ----------------------------------------------------------------------------------

def test_the_go_documentation_example_verifies():
    verifier = note.parse_vkey(GO_VKEY)
    text, signers = note.open_note(GO_NOTE, [verifier])
    assert text == GO_TEXT and signers == [verifier] and verifier.vkey == GO_VKEY
    assert spec_verify_note(GO_NOTE, GO_VKEY) == GO_TEXT
    # the documented private key signs the same bytes (Ed25519 is deterministic)
    seed = base64.b64decode(GO_SKEY.split("+", 4)[-1])[1:]
    assert note.sign(GO_TEXT, "PeterNeumann", SigningKey(seed)) == GO_NOTE


def test_a_changed_note_or_a_wrong_key_is_refused():
    verifier = note.parse_vkey(GO_VKEY)
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(GO_NOTE.replace("answer", "Answer"), [verifier])
    other = note.verifier("PeterNeumann", bytes(SigningKey.generate().verify_key))
    with pytest.raises(note.NoteError, match="no signature from a known key"):
        note.open_note(GO_NOTE, [other])
    with pytest.raises(BadSignatureError):
        spec_verify_note(GO_NOTE.replace("answer", "Answer"), GO_VKEY)
    for bad in ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "PeterNeumann+c74f20a3",
                "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"):
        with pytest.raises(note.NoteError):
            note.parse_vkey(bad)


# --- what the gateway writes --------------------------------------------------------------------------------

def test_a_gateway_checkpoint_and_a_desk_cosignature_verify_with_an_independent_implementation(app):
    ctx = app.extensions["dalil"]
    db = ctx.db()
    for i in range(13):
        ledger.append(db, ("created", "fetched")[i % 2], f"ref-{i}")
    size, signed = ledger.sign_checkpoint(db, gateway_key(ctx), ctx.config["referrals"]["log_origin"])

    vkey = log_key(ctx).vkey
    assert vkey.startswith("dalil.local/referrals+")
    origin, tree_size, root = spec_parse_checkpoint(spec_verify_note(signed, vkey))
    entries = [data for _, data in store.iter_entries(db)]
    assert (origin, tree_size, size) == ("dalil.local/referrals", 13, 13)
    assert root == spec_rfc6962_root(entries) == merkle.root_of(entries)
    assert signed.count("\u2014 dalil.local/referrals ") == 1  # the key name matches the origin line

    # a desk's witness answer to the add-checkpoint request, checked the same way
    desk_key = SigningKey.generate()
    body = witness.add_checkpoint_body(ledger.tree(db), signed, size, 0)
    assert body == "old 0\n\n" + signed
    cp, line = witness.add_checkpoint(body, log_key(ctx), None, "dalil-desk/amal", desk_key, now=1_700_000_000)
    assert cp.size == 13
    assert spec_verify_cosignature(signed, line, "dalil-desk/amal", bytes(desk_key.verify_key)) == 1_700_000_000

    # the next add-checkpoint carries a consistency proof from the size the desk cosigned
    for i in range(5):
        ledger.append(db, "closed", f"ref-{i}")
    size2, signed2 = ledger.sign_checkpoint(db, gateway_key(ctx), ctx.config["referrals"]["log_origin"])
    body = witness.add_checkpoint_body(ledger.tree(db), signed2, size2, 13)
    assert body.startswith("old 13\n") and len(body.split("\n\n")[0].split("\n")) > 1
    cp2, _ = witness.add_checkpoint(body, log_key(ctx), (13, cp.root), "dalil-desk/amal", desk_key)
    assert cp2.size == 18
    for last, status in (((12, cp.root), 409), ((13, bytes(32)), 422)):  # a stale size, a forked root
        with pytest.raises(witness.Refused) as refused:
            witness.add_checkpoint(body, log_key(ctx), last, "dalil-desk/amal", desk_key)
        assert refused.value.status == status
    stranger = note.verifier(ctx.config["referrals"]["log_origin"], bytes(SigningKey.generate().verify_key))
    with pytest.raises(witness.Refused) as refused:
        witness.add_checkpoint(body, stranger, (13, cp.root), "dalil-desk/amal", desk_key)
    assert refused.value.status == 403
