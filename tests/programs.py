"""The real carrier-side programs, run on loopback in a temp folder: Kannel (bearerbox, smsbox and the fakesmsc
SMSC simulator from kannel-extras) and gammu-smsd with Gammu's dummy phone driver. Each is stopped by its own
process id at the end of the test.

Kannel has two fake SMSCs: ``mt`` (Dalil's route: a fakesmsc that stays connected prints every message Kannel
sends it) and ``mo``, which no outgoing message may use, where a short-lived fakesmsc injects one received SMS.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from harness import free_port

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
GAMMU_SCHEMA = Path(__file__).resolve().parent.parent / "gateway" / "channels" / "gammu_smsd.sql"
HAVE_KANNEL = all(shutil.which(p) or Path(p).exists() for p in ("bearerbox", "smsbox", FAKESMSC))

# Two UCS-2 segments: what an Arabic notice costs on a carrier route.
ARABIC_NOTICE = ("مرحبا بكم في دليل. يفتح مكتب التشغيل بالقيروان أبوابه يوم الاثنين للتسجيل في برنامج التكوين "
                 "المهني للشباب، احضروا بطاقة التعريف.")


def wait_for(predicate, timeout: float = 15.0, what: str = "condition", step: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class MT:
    """One message as the SMSC simulator received it."""
    sender: str
    receiver: str
    udh: bytes
    coding: str  # "text", "data" or "ucs-2" as fakesmsc prints it
    payload: bytes

    def text(self, encoding: str = "utf-8") -> str:
        """The payload read as ``encoding``: UTF-16BE for a UCS-2 message (fakesmsc labels a single one "ucs-2",
        but every part with a header "data"), else the UTF-8 Kannel keeps GSM texts in."""
        return self.payload.decode("utf-16-be" if self.coding == "ucs-2" else encoding)

    @property
    def part(self) -> tuple[int, int]:
        """(sequence, total) from the concatenation header, (1, 1) without one."""
        return (self.udh[5], self.udh[4]) if len(self.udh) >= 6 and self.udh[1] == 0 else (1, 1)


_GOT = re.compile(r"Got message \d+: <(.*)>\s*$")


def parse_mt(line: str) -> MT | None:
    m = _GOT.search(line)
    if not m:
        return None
    words = m.group(1).split(" ")
    sender, receiver, kind = words[0], words[1], words[2]
    udh = b""
    rest = words[3:]
    if kind == "udh":
        udh = urllib.parse.unquote_to_bytes(rest[0])
        kind, rest = rest[1], rest[2:]
    body = " ".join(rest)
    # fakesmsc url-encodes with '+' for a space (a real '+' is %2B)
    payload = body.encode() if kind == "text" else urllib.parse.unquote_to_bytes(body.replace("+", " "))
    return MT(sender, receiver, udh, kind, payload)


class Kannel:
    def __init__(self, folder: Path, username="dalil", password="kannel-pw-31"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.username, self.password = username, password
        self.admin_port, self.box_port, self.sendsms_port = free_port(), free_port(), free_port()
        self.mt_port, self.mo_port = free_port(), free_port()
        self.post_url = ""
        self.conf = self.folder / "kannel.conf"
        self.bearerbox = self.smsbox = self.sink = None
        self.sink_log = self.folder / "fakesmsc-mt.log"

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    def _config(self) -> str:
        f = self.folder
        return f"""
group = core
admin-port = {self.admin_port}
admin-password = admin-pw-9
admin-interface = 127.0.0.1
smsbox-port = {self.box_port}
smsbox-interface = 127.0.0.1
box-allow-ip = 127.0.0.1
log-file = "{f}/bearerbox.log"
log-level = 1
store-type = file
store-location = "{f}/bearerbox.store"
dlr-storage = internal
sms-resend-freq = 1

group = smsc
smsc = fake
smsc-id = mt
port = {self.mt_port}
connect-allow-ip = 127.0.0.1

group = smsc
smsc = fake
smsc-id = mo
allowed-smsc-id = mo
port = {self.mo_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.box_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{f}/smsbox.log"
log-level = 1
mo-recode = true
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = {self.username}
password = {self.password}
concatenation = true
max-messages = 10
user-allow-ip = 127.0.0.1

group = sms-service
keyword = default
catch-all = true
post-url = "{self.post_url}?id=%I&from=%p&to=%P"
max-messages = 0
concatenation = true
"""

    def start(self, post_url: str) -> "Kannel":
        self.post_url = post_url
        self.conf.write_text(self._config())
        self.start_bearerbox()
        self.smsbox = subprocess.Popen(["smsbox", "-v", "4", str(self.conf)], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, cwd=self.folder)
        wait_for(lambda: _listening(self.sendsms_port), what="smsbox's sendsms port")
        self.connect_sink()
        return self

    def start_bearerbox(self) -> None:
        self.bearerbox = subprocess.Popen(["bearerbox", "-v", "4", str(self.conf)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, cwd=self.folder)
        wait_for(lambda: _listening(self.box_port) and _listening(self.mt_port), what="bearerbox's ports")

    def connect_sink(self) -> None:
        """The MT side of the simulator: a fakesmsc that sends nothing and prints what it receives."""
        before = self._count_connected()
        with open(self.sink_log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.sink = subprocess.Popen([FAKESMSC, "-H", "127.0.0.1", "-r", str(self.mt_port), "-m", "0",
                                          "1 2 text x"], stdout=log, stderr=log, cwd=self.folder)
        wait_for(lambda: self._count_connected() > before, what="fakesmsc connected")

    def _count_connected(self) -> int:
        return self._read("bearerbox.log").count("Fakesmsc client connected")

    def _read(self, name: str) -> str:
        path = self.folder / name
        return path.read_text(errors="replace") if path.exists() else ""

    def received(self) -> list[MT]:
        lines = self.sink_log.read_text(errors="replace").splitlines() if self.sink_log.exists() else []
        return [m for m in map(parse_mt, lines) if m]

    def inject(self, sender: str, receiver: str, text: str, wait_until=None, timeout: float = 15.0) -> None:
        """One SMS from a phone, through the mo fake SMSC: a fakesmsc that sends it once, left running until
        ``wait_until()`` is true (the webhook got it), then stopped."""
        if all(ord(c) < 128 for c in text):
            line = f"{sender} {receiver} text {text}"
        else:
            line = f"{sender} {receiver} ucs2 {urllib.parse.quote(text.encode('utf-16-be'))}"
        proc = subprocess.Popen([FAKESMSC, "-H", "127.0.0.1", "-r", str(self.mo_port), "-i", "0.05", "-m", "1", line],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.folder)
        try:
            wait_for(wait_until or (lambda: False), timeout=timeout, what=f"the SMS {text!r} to reach Dalil")
        finally:
            _stop(proc)

    def kill_bearerbox(self) -> None:
        _stop(self.bearerbox, signal.SIGKILL)
        _stop(self.sink)

    def restart_bearerbox(self) -> None:
        wait_for(lambda: not _listening(self.box_port), what="bearerbox gone")
        self.start_bearerbox()
        self.connect_sink()

    def stop(self) -> None:
        for proc in (self.sink, self.smsbox, self.bearerbox):
            _stop(proc)


class GammuSmsd:
    """gammu-smsd on the dummy driver (a phone kept in a folder), with its SQL backend on a SQLite file."""

    def __init__(self, folder: Path, phone_id: str = "modem1"):
        self.folder = Path(folder)
        self.phone = self.folder / "phone"
        for n in range(1, 6):
            (self.phone / "sms" / str(n)).mkdir(parents=True, exist_ok=True)
        self.database = self.folder / "smsd.db"
        self.phone_id = phone_id
        self.rc = self.folder / "smsdrc"
        self.proc = None
        self._next_location = 1

    def create_database(self) -> None:
        conn = sqlite3.connect(self.database)
        conn.executescript(GAMMU_SCHEMA.read_text())
        conn.close()

    def start(self) -> "GammuSmsd":
        if not self.database.exists():
            self.create_database()
        self.rc.write_text(f"""[gammu]
device = {self.phone}
model = dummy
connection = none

[smsd]
service = sql
driver = sqlite3
database = {self.database.name}
dbdir = {self.folder}/
logfile = {self.folder}/smsd.log
debuglevel = 0
phoneid = {self.phone_id}
commtimeout = 1
sendtimeout = 5
statusfrequency = 1
receivefrequency = 1
loopsleep = 1
deliveryreport = sms
checksecurity = 0
checkbattery = 0
checksignal = 0
checknetwork = 0
""")
        self.proc = subprocess.Popen(["gammu-smsd", "-c", str(self.rc)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.folder, env={**os.environ, "LANG": "C"})
        wait_for(lambda: self.query("SELECT count(*) FROM phones")[0][0], what="gammu-smsd to register its modem")
        return self

    def stop(self) -> None:
        _stop(self.proc)

    def query(self, sql: str, params=()) -> list:
        conn = sqlite3.connect(self.database, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def _write(self, body: str) -> None:
        """A message the modem received, as the dummy driver keeps it (Gammu's SMS backup format)."""
        location = self._next_location
        self._next_location += 1
        tmp = self.phone / f".{location}.tmp"
        tmp.write_text(body)
        tmp.rename(self.phone / "sms" / "1" / str(location))  # whole, or not at all, when gammu-smsd looks

    def receive(self, sender: str, text: str, udh: str = "") -> None:
        coding = "Default" if all(ord(c) < 128 for c in text) else "Unicode"
        self._write(f"""[SMSBackup000]
SMSC = "123456"
PDU = Deliver
State = UnRead
Number = "{sender}"
{f"UDH = {udh}" if udh else ""}
Text00 = {text.encode("utf-16-be").hex().upper()}
Coding = {coding}
Folder = 1
Length = {len(text)}
Class = -1
""")

    def delivery_report(self, number: str, delivered: bool = True, reference: int = 255) -> None:
        """A status report from the network for the last message to ``number`` (the dummy driver gives every
        message the reference 255)."""
        word = "Delivered" if delivered else "Failed"
        self._write(f"""[SMSBackup000]
SMSC = "123456"
PDU = Status_Report
State = UnRead
Number = "{number}"
Text00 = {word.encode("utf-16-be").hex().upper()}
Coding = Default
Folder = 1
Length = {len(word)}
Class = -1
MessageReference = {reference}
DeliveryStatus = {0 if delivered else 64}
""")
