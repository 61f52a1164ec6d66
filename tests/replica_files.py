"""What tests read of a Litestream replica: the transaction ids Litestream reports (to wait until it has shipped
what was written) and the pages inside its LTX files, which are LZ4-compressed, so that a scan for a phone number
reads what an operator could decompress and not only the bytes as stored.

LTX (github.com/superfly/ltx, ltx.go and decoder.go): a 100-byte header (page size at offset 8), then per page a
6-byte header (page number, flags; flag 1: a 4-byte size and an LZ4 block follow), page number 0 ending them.
"""
from __future__ import annotations

import json
import struct
import subprocess
import time
from pathlib import Path

from gateway import backup


AT_SMS = "/hooks/africastalking/at-token-3f9a/sms"

OFFICE = """
[gateway]
database = "data/dalil.db"
keys_dir = "keys"
log_file = "dalil.log"

[channels.africastalking]
enabled = true
username = "sandbox"
api_key = "test-key"
webhook_token = "at-token-3f9a"

[dispatcher]
enabled = false
"""


def office_config(sections: str) -> str:
    """An office's config for a `dalil serve` the tests run: the database in data/ (the disk that dies), Africa's
    Talking's webhooks (the token tests/test_referral_e2e.py dials), no dispatcher, and ``sections``."""
    return OFFICE + sections


def sms(server, phone: str, text: str, n: str):
    """An inbound SMS as Africa's Talking posts it."""
    return server.post(AT_SMS, data={"from": phone, "to": "85000", "text": text, "id": n,
                                     "date": "2026-11-30 10:00:00", "linkId": "", "networkCode": "60502"})


def litestream_json(plan, *args: str):
    proc, conf = backup.start(plan, *args, "-json", on_database=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=30)
    finally:
        conf.close()
    return json.loads(out) if proc.returncode == 0 and out.strip() else None


def wait_until_shipped(plan, timeout: float = 60.0) -> str:
    """Until the replica holds the last transaction Litestream has read from the WAL, twice in a row (it looks at
    the WAL every second); returns that transaction id."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        time.sleep(1.2)
        status = litestream_json(plan, "status")
        files = litestream_json(plan, "ltx", "-level", "all") or []
        local = status[0]["local_txid"] if status else None
        shipped = max((f["max_txid"] for f in files), default=None)
        if local and shipped and shipped >= local:
            if last == local:
                return local
            last = local
    raise AssertionError(f"Litestream did not ship everything within {timeout}s")


def lz4_block(src: bytes, size: int) -> bytes:
    """LZ4's block format: sequences of literals and a match (offset, length) into what was already written."""
    out, i = bytearray(), 0

    def length(n: int) -> int:
        nonlocal i
        if n == 15:
            while True:
                b = src[i]
                i += 1
                n += b
                if b != 255:
                    break
        return n

    while i < len(src):
        token = src[i]
        i += 1
        n = length(token >> 4)
        out += src[i:i + n]
        i += n
        if i >= len(src):
            break
        offset = src[i] | src[i + 1] << 8
        i += 2
        start = len(out) - offset
        for k in range(length(token & 15) + 4):
            out.append(out[start + k])
    assert len(out) == size, f"LZ4 block: {len(out)} bytes, expected {size}"
    return bytes(out)


def ltx_pages(data: bytes):
    assert data[:4] == b"LTX1", "not an LTX file"
    page_size = struct.unpack(">I", data[8:12])[0]
    i = 100
    while True:
        pgno, flags = struct.unpack(">IH", data[i:i + 6])
        i += 6
        if pgno == 0:
            return
        assert flags & 1, "LTX page without a size prefix (an older format)"
        (n,) = struct.unpack(">I", data[i:i + 4])
        i += 4
        yield pgno, lz4_block(data[i:i + n], page_size)
        i += n


def readable(path: Path) -> bytes:
    """A file as an operator can read it: LTX files decompressed, any other file as it is."""
    data = path.read_bytes()
    if path.suffix == ".ltx":
        return data + b"".join(page for _, page in ltx_pages(data))
    return data


def holding(folder: Path, words: list[str]) -> list[str]:
    """Files under ``folder`` (relative names) holding any of ``words``, in UTF-8 or UTF-16."""
    found = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        try:
            data = readable(path)
        except FileNotFoundError:  # deleted by Litestream's retention while we looked
            continue
        if any(enc in data for w in words for enc in (w.encode(), w.encode("utf-16-le"))):
            found.append(str(path.relative_to(folder)))
    return found
