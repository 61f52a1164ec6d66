"""The coordinator's key and the registrations it signs: who may receive referrals, with which keys.

The CSO network's coordinator keeps an Ed25519 key offline on its own machine (`dalil coordinator keygen`). Every
change to a CSO that matters to a person's privacy (its keys, name, public contact, needs, areas, whether it is
active) is a registration file the coordinator signs (`dalil coordinator sign`): a C2SP signed note whose text is
a fixed first line and one line of canonical JSON holding the CSO's *whole* record and a version number (``seq``,
1 for the first, +1 for each change, so an old file cannot be replayed). The gateway refuses a file that its
configured coordinator key did not sign, and appends the accepted file, verbatim, to the transparency log. The
desks pin the coordinator key at connect and re-check every registration in the log, for every CSO, at every
sync: an operator who points the gateway at a key of their own is seen by every desk.

Capacity, the caseworker's phone and the notice language stay operational settings of the gateway, unsigned: they
decide nothing about which key a referral is sealed to.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from nacl.signing import SigningKey

from referrals.protocol import note

HEADER = "dalil-registration/v1"
SIGNED_FIELDS = ("cso", "seq", "active", "name", "contact", "needs", "areas", "box_key", "verify_key")
DEFAULT_NAME = "dalil-coordinator"


class RegistrationError(ValueError):
    pass


# --- the coordinator's key, on the coordinator's machine ----------------------------------------------------

def keygen(path: str | os.PathLike, name: str = DEFAULT_NAME) -> note.Verifier:
    """Write a new coordinator key file (0600, never overwritten); returns its verifier."""
    note.check_name(name)
    key = SigningKey.generate()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps({"version": 1, "name": name, "seed": base64.b64encode(bytes(key)).decode()}))
    return note.verifier(name, bytes(key.verify_key))


def load_key(path: str | os.PathLike) -> tuple[str, SigningKey]:
    try:
        data = json.loads(Path(path).read_text())
        return note.check_name(data["name"]), SigningKey(base64.b64decode(data["seed"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RegistrationError(f"{path}: not a coordinator key file ({e.__class__.__name__})") from None


def coordinator(vkey: str) -> note.Verifier:
    try:
        return note.parse_vkey(vkey)
    except note.NoteError as e:
        raise RegistrationError(f"coordinator key: {e}") from None


# --- registrations ------------------------------------------------------------------------------------------

def record_text(record: dict) -> str:
    body = {k: record[k] for k in SIGNED_FIELDS}
    return HEADER + "\n" + json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def sign(name: str, key: SigningKey, record: dict) -> str:
    return note.sign(record_text(record), name, key)


def read(text: str) -> dict:
    """The record a registration note holds, without checking who signed it (the checks come after)."""
    try:
        body, _ = note.split(text)
        header, line, rest = body.split("\n", 2)
        record = json.loads(line)
    except (note.NoteError, ValueError):
        raise RegistrationError("not a registration file (a signed note from `dalil coordinator sign`)") from None
    if header != HEADER or rest or not isinstance(record, dict) or set(record) != set(SIGNED_FIELDS):
        raise RegistrationError("not a registration file (a signed note from `dalil coordinator sign`)")
    try:
        record["box_key"], record["verify_key"] = (base64.b64decode(record["box_key"]),
                                                   base64.b64decode(record["verify_key"]))
    except (TypeError, ValueError):
        raise RegistrationError("registration: the keys are not base64") from None
    if (not isinstance(record["seq"], int) or record["seq"] < 1 or not isinstance(record["active"], bool)
            or len(record["box_key"]) != 32 or len(record["verify_key"]) != 32):
        raise RegistrationError("registration: seq, active or keys are malformed")
    return record


def verify(text: str, coordinator_key: note.Verifier) -> dict:
    """The record, if ``coordinator_key`` signed the note; RegistrationError saying what is wrong otherwise."""
    record = read(text)
    try:
        note.open_note(text, [coordinator_key])
    except note.NoteError:
        raise RegistrationError(
            f"the registration of '{record['cso']}' is not signed by the coordinator key "
            f"{coordinator_key.fingerprint()} ({coordinator_key.name}); ask the coordinator to sign it with "
            "`dalil coordinator sign`") from None
    return record


def encode_keys(box_key: bytes, verify_key: bytes) -> dict:
    return {"box_key": base64.b64encode(box_key).decode(), "verify_key": base64.b64encode(verify_key).decode()}


def key_fingerprint(box_key: bytes) -> str:
    """What a "created" log entry records of the key its envelope was sealed to (and a registry entry's key)."""
    return note.fingerprint(box_key)
