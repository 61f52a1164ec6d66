"""The desk's own SQLite file, on the CSO's machine: the only place a referral exists in clear.

Deleted rows are overwritten (secure_delete) and the WAL is truncated after an erasure, as on the gateway.
"""
from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS referrals (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    need TEXT NOT NULL,
    received_day TEXT NOT NULL,
    content TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'new',
    decline_reason TEXT NOT NULL DEFAULT '',
    private_note TEXT NOT NULL DEFAULT '',
    ledger_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outgoing (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('ack_referral', 'ack_notice', 'event')),
    item TEXT NOT NULL,
    event TEXT
);
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS registry (
    cso TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    active INTEGER NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    entry INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    id TEXT PRIMARY KEY,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
COLUMNS = ("id", "code", "need", "received_day", "content", "status", "decline_reason", "private_note",
           "ledger_index")


@contextmanager
def connect(path: str):
    """One connection per use: the inbox's threads and the sync thread never share one."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA secure_delete=ON")
        conn.executescript(SCHEMA)
        yield conn
    finally:
        conn.close()


@contextmanager
def transaction(conn):
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _referral(row) -> dict | None:
    if row is None:
        return None
    r = dict(zip(COLUMNS, row))
    r["content"] = json.loads(r["content"])
    return r


def add_referral(conn, content: dict, day: str, ledger_index: int) -> bool:
    cur = conn.execute("INSERT INTO referrals (id, code, need, received_day, content, ledger_index) "
                       "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                       [content["id"], content["code"], content["need"], day, json.dumps(content, ensure_ascii=False),
                        ledger_index])
    return cur.rowcount > 0


def referrals(conn) -> list[dict]:
    return [_referral(r) for r in conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM referrals ORDER BY received_day DESC, code")]  # noqa: S608 (fixed names, bound values)


def referral(conn, referral_id: str) -> dict | None:
    return _referral(conn.execute(f"SELECT {', '.join(COLUMNS)} FROM referrals WHERE id = ?",  # noqa: S608 (fixed names, bound values)
                                  [referral_id]).fetchone())


def open_count(conn) -> int:
    """Referrals this CSO still works on: what the gateway weighs against its capacity when routing."""
    return conn.execute("SELECT count(*) FROM referrals WHERE status NOT IN ('declined', 'closed')").fetchone()[0]


def has_referral(conn, referral_id: str) -> bool:
    return conn.execute("SELECT 1 FROM referrals WHERE id = ?", [referral_id]).fetchone() is not None


def set_status(conn, referral_id: str, status: str, reason: str | None = None) -> None:
    if reason is None:
        conn.execute("UPDATE referrals SET status = ? WHERE id = ?", [status, referral_id])
    else:
        conn.execute("UPDATE referrals SET status = ?, decline_reason = ? WHERE id = ?", [status, reason, referral_id])


def set_note(conn, referral_id: str, note: str) -> None:
    conn.execute("UPDATE referrals SET private_note = ? WHERE id = ?", [note, referral_id])


def delete_referral(conn, referral_id: str) -> None:
    conn.execute("DELETE FROM referrals WHERE id = ?", [referral_id])


def scrub(conn) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def queue(conn, kind: str, item: str, event: str | None = None) -> None:
    conn.execute("INSERT INTO outgoing (kind, item, event) VALUES (?, ?, ?)", [kind, item, event])


def outgoing(conn) -> list[tuple[int, str, str, str | None]]:
    return conn.execute("SELECT seq, kind, item, event FROM outgoing ORDER BY seq").fetchall()


def sent(conn, seqs: list[int]) -> None:
    conn.executemany("DELETE FROM outgoing WHERE seq = ?", [[s] for s in seqs])


# --- the log as this desk has seen it -----------------------------------------------------------------------

def leaf_hashes(conn) -> list[bytes]:
    return [h for (h,) in conn.execute("SELECT hash FROM leaves ORDER BY idx")]


def add_leaves(conn, first: int, hashes: list[bytes]) -> None:
    conn.executemany("INSERT INTO leaves (idx, hash) VALUES (?, ?)", [[first + i, h] for i, h in enumerate(hashes)])


def registry_entry(conn, cso: str) -> dict | None:
    row = conn.execute("SELECT cso, seq, active, key, name, entry FROM registry WHERE cso = ?", [cso]).fetchone()
    return dict(zip(("cso", "seq", "active", "key", "name", "entry"), row)) if row else None


def active_key(conn, key: str) -> bool:
    return conn.execute("SELECT 1 FROM registry WHERE key = ? AND active = 1", [key]).fetchone() is not None


def save_registration(conn, cso: str, seq: int, active: bool, key: str, name: str, entry: int) -> None:
    conn.execute("INSERT INTO registry (cso, seq, active, key, name, entry) VALUES (?, ?, ?, ?, ?, ?) "
                 "ON CONFLICT(cso) DO UPDATE SET seq = excluded.seq, active = excluded.active, key = excluded.key, "
                 "name = excluded.name, entry = excluded.entry", [cso, seq, int(active), key, name, entry])


def alert(conn, on_day: str, kind: str, **params) -> bool:
    """Record an alert once: the same finding at every sync is one alert, not one a sync."""
    text = json.dumps(params, sort_keys=True)
    if conn.execute("SELECT 1 FROM alerts WHERE kind = ? AND params = ?", [kind, text]).fetchone():
        return False
    conn.execute("INSERT INTO alerts (day, kind, params) VALUES (?, ?, ?)", [on_day, kind, text])
    return True


def alerts(conn) -> list[dict]:
    return [{"day": d, "kind": k, "params": json.loads(p)}
            for d, k, p in conn.execute("SELECT day, kind, params FROM alerts ORDER BY seq DESC")]


def reject(conn, item_id: str, reason: str) -> bool:
    """False when this item was already rejected (so it is alerted once, not at every sync)."""
    return conn.execute("INSERT INTO rejected (id, reason) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        [item_id, reason]).rowcount > 0


def get_state(conn, key: str, default: str = "") -> str:
    row = conn.execute("SELECT value FROM state WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_state(conn, key: str, value: str) -> None:
    conn.execute("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                 [key, value])
