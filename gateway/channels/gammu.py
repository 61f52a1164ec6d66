"""Gammu: a USB GSM modem with a SIM, owned by gammu-smsd, for SMS with no internet and no Android phone.

gammu-smsd keeps the modem; Dalil and it meet in gammu-smsd's SQL backend on a SQLite file (docs/gammu.md says
why this backend and not the files one). The SQL here is against gammu-smsd's documented schema, not ours:

- out (the dispatcher's Sender): one ``outbox`` row per message, the parts of a long one in ``outbox_multipart``
  with their concatenation headers (UDH), ``Coding`` Unicode for UCS-2, all in one transaction so gammu-smsd never
  sees half a message. Our provider id is gammu's outbox ID, which ``sentitems`` keeps.
- results (``poll``): ``sentitems`` rows with our CreatorID say what became of each part: a send error or a
  failed delivery report fails the message, delivery reports for every part deliver it. Final rows are deleted
  (they hold the number and the text).
- in (``poll``): unprocessed ``inbox`` rows, parts of one long SMS joined by their UDH, go through the same
  inbound path as every channel (keyed by gammu's inbox ID, which is never reused), then are deleted. A row that
  cannot be read (a bad number, a broken header, no text) is logged by ID and deleted: never retried for ever.
- the modem's heartbeat: gammu-smsd updates its ``phones`` row every few seconds; that time is the channel's last
  poll, and routing leaves the modem out once it is older than ``offline_after_seconds``.
"""
from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
import time
from calendar import timegm
from dataclasses import dataclass

from gateway import channel_state, contacts, outbox
from gateway.channels.common import Channel
from gateway.inbound import InboundSMS, receive_sms
from gateway.store import transaction
from messages.segments import count, split_parts

log = logging.getLogger(__name__)

NAME = "gammu"
CREATOR = "dalil"
CODING = {"GSM-7": "Default_No_Compression", "UCS-2": "Unicode_No_Compression"}
FAILED = {"SendingError", "Error", "DeliveryFailed"}
SENT_NO_REPORT = {"SendingOKNoReport"}
REPORT_WINDOW_SECONDS = 24 * 3600  # a delivery report not in by then will not come: the row is dropped
PART_WAIT_SECONDS = 600  # the parts of a long SMS missing after this long: what arrived is handled alone
POLL_EVERY_SECONDS = 1.0
INBOX_BATCH = 100

_poll_lock = threading.Lock()
_last_poll = [float("-inf")]


def connect(section: dict) -> sqlite3.Connection:
    conn = sqlite3.connect(section["smsd_database"], timeout=section["timeout_seconds"], isolation_level=None)
    conn.execute("PRAGMA secure_delete=ON")  # deleted numbers and texts are zeroed, not left in free pages
    return conn


def _udh(ref: int, total: int, seq: int) -> str:
    return f"050003{ref:02X}{total:02X}{seq:02X}"


class Sender:
    def __init__(self, ctx):
        self.section = ctx.config["channels.gammu"]
        self.conn = None

    def send(self, msg: outbox.Outgoing) -> str:
        try:
            if self.conn is None:
                self.conn = connect(self.section)
            return str(self._insert(msg))
        except sqlite3.Error as e:
            self.conn = None
            raise outbox.Transient(f"gammu-smsd database: {type(e).__name__}: {e}") from None

    def _insert(self, msg: outbox.Outgoing) -> int:
        coding = CODING[count(msg.body).encoding]
        parts = split_parts(msg.body)
        ref = secrets.randbelow(256)
        report = "yes" if self.section["delivery_reports"] else "no"
        sender = self.section["phone_id"] or None
        with _immediate(self.conn):
            gid = self.conn.execute(
                "INSERT INTO outbox (DestinationNumber, TextDecoded, Coding, UDH, MultiPart, DeliveryReport, "
                "SenderID, CreatorID) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [msg.to, parts[0], coding, _udh(ref, len(parts), 1) if len(parts) > 1 else "",
                 "true" if len(parts) > 1 else "false", report, sender, CREATOR]).lastrowid
            for seq, text in enumerate(parts[1:], start=2):
                self.conn.execute(
                    "INSERT INTO outbox_multipart (ID, SequencePosition, TextDecoded, Coding, UDH) "
                    "VALUES (?, ?, ?, ?, ?)", [gid, seq, text, coding, _udh(ref, len(parts), seq)])
        return gid


class _immediate:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, *_):
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


# -- what gammu-smsd did: heartbeat, results, received messages ----------------------------------------------------

def poll(ctx) -> None:
    """Read gammu-smsd's side once a second at most (every dispatcher cycle calls it)."""
    with _poll_lock:
        if time.monotonic() - _last_poll[0] < POLL_EVERY_SECONDS:
            return
        _last_poll[0] = time.monotonic()
        section = ctx.config["channels.gammu"]
        try:
            conn = connect(section)
        except sqlite3.Error as e:
            log.warning("gammu: cannot open gammu-smsd's database: %s", e)
            return
        try:
            db = ctx.db()
            _heartbeat(conn, db, section)
            _results(conn, db)
            _inbox(ctx, conn)
        except sqlite3.Error as e:
            log.warning("gammu: reading gammu-smsd's database failed (%s); trying again", e)
        finally:
            conn.close()


def _utc(text) -> float | None:
    try:
        return float(timegm(time.strptime(str(text)[:19], "%Y-%m-%d %H:%M:%S")))
    except (TypeError, ValueError):
        return None


def _heartbeat(conn, db, section: dict) -> None:
    where, params = ("WHERE ID = ?", [section["phone_id"]]) if section["phone_id"] else ("", [])
    row = conn.execute(f"SELECT max(UpdatedInDB) FROM phones {where}", params).fetchone()  # noqa: S608 (fixed text)
    seen = _utc(row[0]) if row else None
    if seen:
        with transaction(db):
            channel_state.record_seen(db, NAME, min(seen, time.time()))


def _results(conn, db) -> None:
    rows = conn.execute("SELECT ID, Status, StatusError, InsertIntoDB FROM sentitems WHERE CreatorID = ? "
                        "ORDER BY ID, SequencePosition", [CREATOR]).fetchall()
    by_id: dict[int, list] = {}
    for gid, status, error, inserted in rows:
        by_id.setdefault(gid, []).append((status, error, inserted))
    done = []
    with transaction(db):
        for gid, parts in by_id.items():
            outcome = _outcome(parts)
            if outcome is None:
                continue
            delivered, reason = outcome
            if delivered is not None:
                outbox.record_receipt(db, NAME, str(gid), delivered, reason)
            done.append(gid)
    if done:
        with _immediate(conn):
            conn.executemany("DELETE FROM sentitems WHERE ID = ?", [[g] for g in done])


def _outcome(parts: list) -> tuple[bool | None, str | None] | None:
    """(delivered?, reason) once final; (None, None) for final without a verdict; None while in progress."""
    statuses = {p[0] for p in parts}
    failed = statuses & FAILED
    if failed:
        code = next((p[1] for p in parts if p[0] in failed), -1)
        return False, f"gammu: {sorted(failed)[0]}" + (f" (error {code})" if code not in (None, -1) else "")
    if statuses == {"DeliveryOK"}:
        return True, None
    if statuses <= SENT_NO_REPORT | {"DeliveryOK"}:
        return None, None  # the network was not asked for reports: sent is all we will know
    oldest = min((_utc(p[2]) or 0.0) for p in parts)
    if time.time() - oldest > REPORT_WINDOW_SECONDS:
        return None, None
    return None


@dataclass
class _Row:
    id: int
    sender: str
    text: str
    udh: str


def _inbox(ctx, conn) -> None:
    rows = [_Row(r[0], r[1] or "", r[2] if r[2] is not None else "", (r[3] or "").upper())
            for r in conn.execute("SELECT ID, SenderNumber, TextDecoded, UDH FROM inbox WHERE Processed = 'false' "
                                  "ORDER BY ID LIMIT ?", [INBOX_BATCH])]
    received = {r[0]: _utc(r[1]) for r in conn.execute(
        "SELECT ID, ReceivingDateTime FROM inbox WHERE Processed = 'false' ORDER BY ID LIMIT ?", [INBOX_BATCH])}
    handled: list[int] = []
    groups: dict[tuple, dict[int, _Row]] = {}
    totals: dict[tuple, int] = {}
    for row in rows:
        header = _concat(row.udh)
        if header is False:
            log.warning("gammu: inbox row %d has a header we cannot read; skipped", row.id)
            handled.append(row.id)
            continue
        if header is None:
            _receive(ctx, [row], handled)
            continue
        ref, total, seq = header
        key = (row.sender, ref, total)
        groups.setdefault(key, {})[seq] = row
        totals[key] = total
    for key, parts in groups.items():
        oldest = min((received.get(r.id) or time.time()) for r in parts.values())
        if len(parts) == totals[key] or time.time() - oldest > PART_WAIT_SECONDS:
            _receive(ctx, [parts[s] for s in sorted(parts)], handled)
    if handled:
        with _immediate(conn):
            conn.executemany("DELETE FROM inbox WHERE ID = ?", [[i] for i in handled])


def _concat(udh: str):
    """(reference, total, sequence) of a concatenation header, None without one, False if it cannot be read."""
    if not udh:
        return None
    try:
        data = bytes.fromhex(udh)
    except ValueError:
        return False
    i = 1
    while i + 1 < len(data):
        iei, length = data[i], data[i + 1]
        body = data[i + 2:i + 2 + length]
        if iei == 0x00 and length == 3 and len(body) == 3:
            return body[0], body[1], body[2]
        if iei == 0x08 and length == 4 and len(body) == 4:
            return (body[0] << 8) | body[1], body[2], body[3]
        i += 2 + length
    return None


def _receive(ctx, parts: list[_Row], handled: list[int]) -> None:
    first = parts[0]
    ids = [p.id for p in parts]
    try:
        phone = contacts.normalize(first.sender)
    except contacts.BadNumber:
        log.warning("gammu: inbox row %d has no usable sender number; skipped", first.id)
        handled.extend(ids)
        return
    text = "".join(p.text for p in parts)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        log.warning("gammu: inbox row %d holds text that is not valid Unicode; skipped", first.id)
        handled.extend(ids)
        return
    receive_sms(ctx, InboundSMS(NAME, phone, text, f"inbox:{first.id}"))
    handled.extend(ids)


# no webhooks: gammu-smsd and Dalil meet in its database, read by ``poll`` each dispatcher cycle
CHANNEL = Channel(NAME, sender=Sender, needs=("smsd_database",), polled=True, poll=poll)
