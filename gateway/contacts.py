"""What the gateway remembers about a number between sessions: language and governorate, nothing else.

Callers are known by a contact key, an HMAC of the E.164 number (``contact_key``); other packages use it too
(opt-outs). This table does not store it: a row is keyed by an HMAC of the contact key under a key of the
current *epoch*, half of [gateway] caller_window_days long, kept in keys_dir as contacts-<epoch>.key. A caller
heard from again is moved to the current epoch. When an epoch ends, the rows of the one before it are deleted
(secure_delete zeroes their pages) and its key file is overwritten and removed: so the set of numbers that ever
called cannot be rebuilt beyond the window, by trying 10^8 numbers against the table or anything else on the
server. Within the window it can, with the keys; so nothing sensitive is stored here: no timestamps, no screens
visited, no link to a referral. The table has no row ids: insertion order is not kept.
"""
from __future__ import annotations

import functools
import hmac
import os
import re
import secrets
import threading
import time
from pathlib import Path

import phonenumbers

from gateway import store
from gateway.store import single_write


TUNISIAN_E164 = re.compile(r"\+216[0-9]{8}")


class BadNumber(ValueError):
    pass


@functools.lru_cache(maxsize=4096)  # every hop of a session repeats the number; parsing it is the slow part
def normalize(raw: str, region: str = "TN") -> str:
    """E.164 for a number as providers send it (+216..., 216..., 0021 6..., or 8 national digits)."""
    text = (raw or "").strip()
    if TUNISIAN_E164.fullmatch(text):  # how aggregators send every Tunisian caller: already E.164, 8 digits
        return text
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text[:3] == "216" and len(text.replace(" ", "")) == 11:
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise BadNumber("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise BadNumber("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_key(secret: bytes, e164: str) -> str:
    return hmac.digest(secret, e164.encode(), "sha256").hex()  # one C call: it runs on every hop


class _Epochs:
    """The epoch keys of this process's keys_dir (set by gateway.initialize)."""

    def __init__(self):
        self.keys_dir: Path | None = None
        self.length = 15 * 86400.0
        self.lock = threading.Lock()
        self.cache: dict[int, bytes] = {}
        self.swept = -1


_epochs = _Epochs()


def configure(keys_dir: str, window_days: float) -> None:
    _epochs.keys_dir = Path(keys_dir)
    _epochs.length = max(window_days, 1 / 24) / 2 * 86400
    _epochs.cache.clear()
    _epochs.swept = -1


def current_epoch(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // _epochs.length)


def _epoch_key(epoch: int) -> bytes:
    with _epochs.lock:
        if epoch not in _epochs.cache:
            path = _epochs.keys_dir / f"contacts-{epoch}.key"
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
            _epochs.cache[epoch] = path.read_bytes()
        return _epochs.cache[epoch]


def _row_key(key: str, epoch: int) -> str:
    return hmac.digest(_epoch_key(epoch), key.encode(), "sha256").hex()


def _destroy(path: Path) -> None:
    """Overwrite in place, then remove: the old key must not stay in the file's blocks."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.write(b"\0" * size)
        f.flush()
        os.fsync(f.fileno())
    path.unlink()


def sweep(db, now: float | None = None) -> int:
    """At an epoch's turn: forget the rows and the key of the epoch before the last. Returns rows deleted."""
    epoch = current_epoch(now)
    if _epochs.swept == epoch or _epochs.keys_dir is None:
        return 0
    try:
        deleted = single_write(db, "DELETE FROM contacts WHERE epoch < ?", [epoch - 1]).rowcount
    except store.OperationalError:  # read-only or full for now: menus still work, the next call sweeps
        return 0
    for path in _epochs.keys_dir.glob("contacts-*.key"):
        stem = path.stem.split("-", 1)[1]
        if stem.isdigit() and int(stem) < epoch - 1:
            _epochs.cache.pop(int(stem), None)
            _destroy(path)
    _epochs.swept = epoch
    return deleted


def _newest_row(db, key: str, epoch: int):
    """The caller's row under this epoch's or last epoch's key (at most one exists), in one read."""
    sweep(db)
    rows = db.execute("SELECT epoch, language, governorate FROM contacts WHERE contact_key IN (?, ?)",
                      [_row_key(key, epoch), _row_key(key, epoch - 1)]).fetchall()
    return max(rows, default=None)


def get(db, key: str) -> dict:
    row = _newest_row(db, key, current_epoch())
    return {"language": row[1], "governorate": row[2]} if row else {"language": None, "governorate": None}


def remember(db, key: str, **fields) -> None:
    """Set language and/or governorate for a caller, moving their row to the current epoch.

    Two statements, each atomic on its own and no read first (this runs inside USSD hops, where every SQLite
    call lets another request's thread in): the current epoch's row takes the new values and, from last epoch's
    row, what it knew; then last epoch's row goes. A crash between the two leaves both rows, which the read
    resolves (the newest wins) and the epoch's sweep removes."""
    allowed = {k: v for k, v in fields.items() if k in ("language", "governorate") and v is not None}
    if not allowed:
        return
    epoch = current_epoch()
    current, last = _row_key(key, epoch), _row_key(key, epoch - 1)
    language, governorate = allowed.get("language"), allowed.get("governorate")
    sweep(db)
    single_write(db, "INSERT INTO contacts (contact_key, epoch, language, governorate) VALUES (?, ?, "
                     "coalesce(?, (SELECT language FROM contacts WHERE contact_key = ?)), "
                     "coalesce(?, (SELECT governorate FROM contacts WHERE contact_key = ?))) "
                     "ON CONFLICT(contact_key) DO UPDATE SET language = coalesce(?, contacts.language), "
                     "governorate = coalesce(?, contacts.governorate)",
                 [current, epoch, language, last, governorate, last, language, governorate])
    single_write(db, "DELETE FROM contacts WHERE contact_key = ?", [last])


def forget(db, key: str) -> None:
    epoch = current_epoch()
    for e in (epoch, epoch - 1):
        db.execute("DELETE FROM contacts WHERE contact_key = ?", [_row_key(key, e)])
