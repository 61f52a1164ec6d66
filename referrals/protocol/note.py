"""C2SP signed notes, checkpoints and cosignatures: the formats outside verifiers and witnesses already read.

- signed-note (c2sp.org/signed-note): a text ending in a newline, a blank line, then lines
  ``— <key name> base64(key ID || signature)``. Ed25519 key IDs are SHA-256(name || "\\n" || 0x01 || key)[:4];
  a verifier key ("vkey") is ``<name>+<key ID hex>+base64(0x01 || key)``, as in Go's golang.org/x/mod/sumdb/note.
- tlog-checkpoint (c2sp.org/tlog-checkpoint): the note text is the origin line, the tree size in decimal and the
  base64 RFC 6962 root; the log signs it with a key named like the origin.
- tlog-cosignature (c2sp.org/tlog-cosignature), Ed25519 type 0x04: a witness signs
  ``cosignature/v1\\ntime <t>\\n`` followed by the checkpoint text; the signature is key ID || u64 time || sig.

Written out rather than taken from a library: the format is a few lines, and the tests check it against the
example Go's documentation publishes and against a second implementation written from the spec.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014 "
MAX_SIGNATURES = 100


class NoteError(ValueError):
    pass


def key_id(name: str, alg: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public).digest()[:4]


def check_name(name: str) -> str:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"key name {name!r}: must be non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True)
class Verifier:
    name: str
    alg: int
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.alg, self.public)

    @property
    def vkey(self) -> str:
        return f"{self.name}+{self.id.hex()}+{base64.b64encode(bytes([self.alg]) + self.public).decode()}"

    def fingerprint(self) -> str:
        return fingerprint(self.public)


def verifier(name: str, public: bytes, alg: int = ED25519) -> Verifier:
    return Verifier(check_name(name), alg, bytes(public))


def parse_vkey(text: str, alg: int = ED25519) -> Verifier:
    """A verifier key line; NoteError unless it is well formed and its key ID matches."""
    try:
        name, hex_id, data = text.strip().split("+", 2)
        raw = base64.b64decode(data, validate=True)
        wanted = bytes.fromhex(hex_id)
    except (ValueError, binascii.Error):
        raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>") from None
    if len(raw) != 33 or raw[0] != alg or len(wanted) != 4:
        raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>")
    v = verifier(name, raw[1:], alg)
    if v.id != wanted:
        raise NoteError(f"verifier key for {name}: the key ID does not match the key")
    return v


def fingerprint(public: bytes) -> str:
    """A short form of a key to read over the phone: 16 hex digits in 4 groups."""
    digest = hashlib.sha256(bytes(public)).hexdigest()[:16].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 16, 4))


# --- notes --------------------------------------------------------------------------------------------------

def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note text ends with a newline and has no empty line")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note holds no control characters")


def sign(text: str, name: str, key: SigningKey) -> str:
    """The signed note: text, a blank line, one Ed25519 signature line."""
    _check_text(text)
    return text + "\n" + signature_line(text, name, key) + "\n"


def signature_line(text: str, name: str, key: SigningKey) -> str:
    kid = key_id(check_name(name), ED25519, bytes(key.verify_key))
    return DASH + name + " " + base64.b64encode(kid + key.sign(text.encode()).signature).decode()


def split(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """(text, [(key name, signature bytes)]) of a note, checking only its shape."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a note holds no control characters")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, lines = note[:cut + 1], note[cut + 2:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    sigs = []
    for line in lines:
        if not line.startswith(DASH):
            raise NoteError("a signature line starts with an em dash and a space")
        name, _, data = line[len(DASH):].rpartition(" ")
        try:
            raw = base64.b64decode(data, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("a signature is base64") from None
        if len(raw) < 5 or not name:
            raise NoteError("a signature is a key ID and a signature")
        sigs.append((check_name(name), raw))
    return text, sigs


def open_note(note: str, verifiers: list[Verifier]) -> tuple[str, list[Verifier]]:
    """The text and the known keys that signed it. A known key whose signature fails rejects the note, and so
    does a note no known key signed (signed-note §Signatures)."""
    text, sigs = split(note)
    good = []
    for name, raw in sigs:
        for v in verifiers:
            if v.name != name or v.id != raw[:4] or v.alg != ED25519:
                continue
            try:
                VerifyKey(v.public).verify(text.encode(), raw[4:])
            except (BadSignatureError, ValueError):
                raise NoteError(f"the signature of {name} does not verify") from None
            if v not in good:
                good.append(v)
    if not good:
        raise NoteError("no signature from a known key")
    return text, good


# --- checkpoints --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise NoteError("a checkpoint is an origin, a size and a root, each on its own line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not (size.isascii() and size.isdigit()) or (size != "0" and size.startswith("0")):
        raise NoteError("the checkpoint size is a decimal number without leading zeroes")
    try:
        raw = base64.b64decode(root, validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise NoteError("the checkpoint root is 32 bytes in base64")
    return Checkpoint(origin, int(size), raw, text)


def open_checkpoint(note: str, log: Verifier) -> Checkpoint:
    text, _ = open_note(note, [log])
    cp = parse_checkpoint(text)
    if cp.origin != log.name:
        raise NoteError(f"the checkpoint is for {cp.origin!r}, not {log.name!r}")
    return cp


# --- cosignatures -------------------------------------------------------------------------------------------

def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def cosign(text: str, name: str, key: SigningKey, timestamp: int) -> str:
    kid = key_id(check_name(name), COSIGNATURE_V1, bytes(key.verify_key))
    sig = key.sign(cosigned_message(text, timestamp)).signature
    return DASH + name + " " + base64.b64encode(kid + struct.pack(">Q", timestamp) + sig).decode()


def cosignatures(note: str, witness: Verifier) -> list[int]:
    """Timestamps of the valid cosignatures by ``witness`` (a type 0x04 verifier) on the note's checkpoint."""
    text, sigs = split(note)
    times = []
    for name, raw in sigs:
        if name != witness.name or raw[:4] != witness.id or len(raw) != 4 + 8 + 64:
            continue
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        try:
            VerifyKey(witness.public).verify(cosigned_message(text, timestamp), raw[12:])
        except (BadSignatureError, ValueError):
            continue
        times.append(timestamp)
    return times
