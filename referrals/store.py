"""SQL of the referrals package (the gateway's side; the CSO desk keeps its own file: referrals/desk/store.py).

What is *not* here matters most: no table holds a phone number, an answer, a nationality or status, a note, a
delegation, a reference code, or a time finer than a day. A referral row is what the relay needs until the CSO's
desk acknowledges it: which CSO, the sealed envelope, its log position and day. Once acknowledged the row goes;
what stays is a hash of its id and its state (``delivered``, so a desk's status events can be checked), which the
log's leaves hold anyway. The municipality's counts are counters per month, need and governorate
(``referral_counts``), kept apart from any referral. Erasure notices are rows of the same size for every CSO.
"""
from __future__ import annotations

import json

MIGRATIONS: list[str] = [
    """
    CREATE TABLE csos (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        contact TEXT NOT NULL,
        notify_phone TEXT,
        language TEXT NOT NULL DEFAULT 'fr',
        box_key BLOB NOT NULL,
        verify_key BLOB NOT NULL,
        token_hash BLOB NOT NULL,
        needs TEXT NOT NULL,
        areas TEXT NOT NULL,
        capacity INTEGER NOT NULL,
        active INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE referrals (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL UNIQUE,
        cso_id TEXT NOT NULL REFERENCES csos(id),
        need TEXT NOT NULL,
        governorate TEXT,
        created_day TEXT NOT NULL,
        state TEXT NOT NULL,
        state_day TEXT NOT NULL,
        envelope BLOB,
        signature BLOB,
        ledger_index INTEGER NOT NULL
    );
    CREATE INDEX referrals_cso_state ON referrals(cso_id, state);
    CREATE TABLE erasure_notices (
        id TEXT PRIMARY KEY,
        cso_id TEXT NOT NULL REFERENCES csos(id),
        sealed BLOB NOT NULL,
        signature BLOB NOT NULL,
        created_day TEXT NOT NULL
    );
    CREATE TABLE desk_nonces (
        cso_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (cso_id, nonce)
    ) WITHOUT ROWID;
    CREATE TABLE ledger_entries (
        idx INTEGER PRIMARY KEY,
        data BLOB NOT NULL
    );
    CREATE TABLE ledger_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE ledger_heads (
        tree_size INTEGER PRIMARY KEY,
        root BLOB NOT NULL,
        day TEXT NOT NULL,
        signature BLOB NOT NULL
    );
    """,
    # registrations signed by the coordinator (referrals.protocol.registry) and checkpoints signed on a schedule
    # (referrals.ledger) replace the per-append heads; desks cosign checkpoints as witnesses
    """
    ALTER TABLE csos ADD COLUMN registration_index INTEGER;
    DROP TABLE ledger_heads;
    CREATE TABLE ledger_checkpoint (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        tree_size INTEGER NOT NULL,
        note TEXT NOT NULL
    );
    CREATE TABLE witness_cosignatures (
        cso_id TEXT PRIMARY KEY REFERENCES csos(id),
        tree_size INTEGER NOT NULL,
        note TEXT NOT NULL
    );
    """,
    # Nothing per referral outlives delivery (issue 10): the row keeps only the CSO, the envelope, its log position
    # and day; acknowledged rows leave a hash and a state; counts move to counters; caseworker notices become a
    # count per CSO sent as a digest; a CSO's open load is what its desk reports. WITHOUT ROWID, so no row id
    # tells the order rows came in. Rows already acknowledged are counted and dropped.
    """
    CREATE TABLE referral_counts (
        month TEXT NOT NULL,
        need TEXT NOT NULL,
        governorate TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (month, need, governorate)
    ) WITHOUT ROWID;
    INSERT INTO referral_counts (month, need, governorate, n)
        SELECT substr(created_day, 1, 7), need, coalesce(governorate, 'unknown'), count(*) FROM referrals
        GROUP BY 1, 2, 3;
    CREATE TABLE referrals_pending (
        id TEXT PRIMARY KEY,
        cso_id TEXT NOT NULL REFERENCES csos(id),
        created_day TEXT NOT NULL,
        envelope BLOB NOT NULL,
        signature BLOB NOT NULL,
        ledger_index INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO referrals_pending SELECT id, cso_id, created_day, envelope, signature, ledger_index FROM referrals
        WHERE envelope IS NOT NULL;
    DROP TABLE referrals;
    ALTER TABLE referrals_pending RENAME TO referrals;
    CREATE INDEX referrals_cso ON referrals(cso_id, ledger_index);
    CREATE TABLE delivered (
        ref TEXT PRIMARY KEY,
        state TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE notice_digest (
        cso_id TEXT PRIMARY KEY REFERENCES csos(id),
        pending INTEGER NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE csos ADD COLUMN open_reported INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE report_published (
        month TEXT PRIMARY KEY,
        data TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
]
# PostgreSQL has no implicit rowid: erasure notices are read in the order they were written (gateway.store)
PG_EXTRA = {1: "ALTER TABLE erasure_notices ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;"}


CSO_COLUMNS = ("id", "name", "contact", "notify_phone", "language", "box_key", "verify_key", "token_hash",
               "needs", "areas", "capacity", "active", "registration_index")


# --- CSOs ---------------------------------------------------------------------------------------------------

def _cso(row) -> dict | None:
    if row is None:
        return None
    cso = dict(zip(CSO_COLUMNS, row))
    cso["needs"], cso["areas"] = json.loads(cso["needs"]), json.loads(cso["areas"])
    cso["active"] = bool(cso["active"])
    return cso


def insert_cso(db, cso: dict) -> None:
    values = dict(cso, needs=json.dumps(cso["needs"]), areas=json.dumps(cso["areas"]), active=int(cso["active"]))
    db.execute(f"INSERT INTO csos ({', '.join(CSO_COLUMNS)}) VALUES ({', '.join('?' * len(CSO_COLUMNS))})",  # noqa: S608 (fixed names, bound values)
               [values[c] for c in CSO_COLUMNS])


def update_cso(db, cso_id: str, **fields) -> None:
    for key in ("needs", "areas"):
        if key in fields:
            fields[key] = json.dumps(fields[key])
    if "active" in fields:
        fields["active"] = int(fields["active"])
    sets = ", ".join(f"{k} = ?" for k in fields if k in CSO_COLUMNS and k != "id")
    db.execute(f"UPDATE csos SET {sets} WHERE id = ?", [v for k, v in fields.items() if k in CSO_COLUMNS] + [cso_id])  # noqa: S608 (fixed names, bound values)


def get_cso(db, cso_id: str) -> dict | None:
    return _cso(db.execute(f"SELECT {', '.join(CSO_COLUMNS)} FROM csos WHERE id = ?", [cso_id]).fetchone())  # noqa: S608 (fixed names, bound values)


def list_csos(db, active_only: bool = False) -> list[dict]:
    where = "WHERE active = 1" if active_only else ""
    return [_cso(r) for r in db.execute(f"SELECT {', '.join(CSO_COLUMNS)} FROM csos {where} ORDER BY id")]  # noqa: S608 (fixed names, bound values)


def open_load(db) -> dict[str, int]:
    """Per CSO: envelopes waiting for its desk plus the open referrals its desk last reported."""
    return dict(db.execute("SELECT c.id, c.open_reported + (SELECT count(*) FROM referrals r WHERE r.cso_id = c.id) "
                           "FROM csos c").fetchall())


def add_open(db, cso_id: str, n: int) -> None:
    db.execute("UPDATE csos SET open_reported = open_reported + ? WHERE id = ?", [n, cso_id])


def report_open(db, cso_id: str, n: int) -> None:
    db.execute("UPDATE csos SET open_reported = ? WHERE id = ?", [n, cso_id])


# --- referrals ---------------------------------------------------------------------------------------------

REFERRAL_COLUMNS = ("id", "cso_id", "created_day", "envelope", "signature", "ledger_index")


def _referral(row) -> dict | None:
    return dict(zip(REFERRAL_COLUMNS, row)) if row else None


def insert_referral(db, referral: dict) -> None:
    db.execute(f"INSERT INTO referrals ({', '.join(REFERRAL_COLUMNS)}) "  # noqa: S608 (fixed names, bound values)
               f"VALUES ({', '.join('?' * len(REFERRAL_COLUMNS))})", [referral[c] for c in REFERRAL_COLUMNS])


def get_referral(db, referral_id: str) -> dict | None:
    return _referral(db.execute(f"SELECT {', '.join(REFERRAL_COLUMNS)} FROM referrals WHERE id = ?",  # noqa: S608 (fixed names, bound values)
                                [referral_id]).fetchone())


def pending_for_cso(db, cso_id: str) -> list[dict]:
    """Envelopes still held for a CSO, in log order."""
    return [_referral(r) for r in db.execute(
        f"SELECT {', '.join(REFERRAL_COLUMNS)} FROM referrals "  # noqa: S608 (fixed names, bound values)
        "WHERE cso_id = ? ORDER BY ledger_index", [cso_id])]


def drop_referral(db, referral_id: str) -> None:
    db.execute("DELETE FROM referrals WHERE id = ?", [referral_id])


def unfetched_before(db, day: str) -> list[dict]:
    """Envelopes created before ``day`` that no desk has acknowledged."""
    return [_referral(r) for r in db.execute(
        f"SELECT {', '.join(REFERRAL_COLUMNS)} FROM referrals "  # noqa: S608 (fixed names, bound values)
        "WHERE created_day < ? ORDER BY ledger_index", [day])]


def delivered_state(db, ref: str) -> str | None:
    row = db.execute("SELECT state FROM delivered WHERE ref = ?", [ref]).fetchone()
    return row[0] if row else None


def set_delivered(db, ref: str, state: str) -> None:
    db.execute("INSERT INTO delivered (ref, state) VALUES (?, ?) ON CONFLICT(ref) DO UPDATE SET state = excluded.state",
               [ref, state])


def count_referral(db, month: str, need: str, governorate: str, n: int = 1) -> None:
    db.execute("INSERT INTO referral_counts (month, need, governorate, n) VALUES (?, ?, ?, ?) "
               "ON CONFLICT(month, need, governorate) DO UPDATE SET n = referral_counts.n + excluded.n",
               [month, need, governorate, n])


def counts(db) -> list[tuple[str, str, str, int]]:
    """(month, need, governorate, count): counts are all the municipality's report is made of."""
    return db.execute("SELECT month, need, governorate, n FROM referral_counts ORDER BY month").fetchall()


def drop_counts(db, month: str) -> None:
    db.execute("DELETE FROM referral_counts WHERE month = ?", [month])


def published_months(db) -> set[str]:
    return {m for (m,) in db.execute("SELECT month FROM report_published")}


def save_published(db, month: str, data: str) -> None:
    db.execute("INSERT INTO report_published (month, data) VALUES (?, ?) ON CONFLICT DO NOTHING", [month, data])


def published(db) -> list[tuple[str, str]]:
    return db.execute("SELECT month, data FROM report_published ORDER BY month").fetchall()


def add_pending_notice(db, cso_id: str) -> None:
    db.execute("INSERT INTO notice_digest (cso_id, pending) VALUES (?, 1) "
               "ON CONFLICT(cso_id) DO UPDATE SET pending = notice_digest.pending + 1", [cso_id])


def take_pending_notices(db) -> list[tuple[str, int]]:
    rows = db.execute("SELECT cso_id, pending FROM notice_digest WHERE pending > 0 ORDER BY cso_id").fetchall()
    db.execute("DELETE FROM notice_digest")
    return rows


# --- erasure notices ----------------------------------------------------------------------------------------

def insert_notice(db, notice_id: str, cso_id: str, sealed: bytes, signature: bytes, day: str) -> None:
    db.execute("INSERT INTO erasure_notices (id, cso_id, sealed, signature, created_day) VALUES (?, ?, ?, ?, ?)",
               [notice_id, cso_id, sealed, signature, day])


def notices_for_cso(db, cso_id: str) -> list[dict]:
    return [dict(zip(("id", "sealed", "signature", "created_day"), r)) for r in db.execute(
        "SELECT id, sealed, signature, created_day FROM erasure_notices WHERE cso_id = ? ORDER BY rowid", [cso_id])]


def delete_notice(db, cso_id: str, notice_id: str) -> bool:
    return db.execute("DELETE FROM erasure_notices WHERE id = ? AND cso_id = ?", [notice_id, cso_id]).rowcount > 0



# --- desk request nonces ------------------------------------------------------------------------------------

def remember_nonce(db, cso_id: str, nonce: str, expires_at: float, now: float) -> bool:
    """False when the nonce was already used (a replay). Old nonces go: the timestamp window refuses them anyway."""
    db.execute("DELETE FROM desk_nonces WHERE expires_at < ?", [now])
    cur = db.execute("INSERT INTO desk_nonces (cso_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     [cso_id, nonce, expires_at])
    return cur.rowcount > 0


# --- the transparency log -----------------------------------------------------------------------------------

def ledger_size(db) -> int:
    return db.execute("SELECT coalesce(max(idx) + 1, 0) FROM ledger_entries").fetchone()[0]


def insert_entry(db, index: int, data: bytes) -> None:
    db.execute("INSERT INTO ledger_entries (idx, data) VALUES (?, ?)", [index, data])


def get_entry(db, index: int) -> bytes | None:
    row = db.execute("SELECT data FROM ledger_entries WHERE idx = ?", [index]).fetchone()
    return row[0] if row else None


def iter_entries(db):
    yield from db.execute("SELECT idx, data FROM ledger_entries ORDER BY idx")


def get_node(db, level: int, index: int) -> bytes:
    row = db.execute("SELECT hash FROM ledger_nodes WHERE level = ? AND idx = ?", [level, index]).fetchone()
    if row is None:
        raise LookupError(f"ledger node ({level}, {index}) is missing")
    return row[0]


def put_node(db, level: int, index: int, value: bytes) -> None:
    db.execute("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?) "
               "ON CONFLICT(level, idx) DO UPDATE SET hash = excluded.hash", [level, index, value])


def iter_nodes(db):
    yield from db.execute("SELECT level, idx, hash FROM ledger_nodes ORDER BY level, idx")


def latest_checkpoint(db) -> tuple[int, str] | None:
    return db.execute("SELECT tree_size, note FROM ledger_checkpoint WHERE id = 1").fetchone()


def save_checkpoint(db, size: int, note: str) -> None:
    db.execute("INSERT INTO ledger_checkpoint (id, tree_size, note) VALUES (1, ?, ?) "
               "ON CONFLICT(id) DO UPDATE SET tree_size = excluded.tree_size, note = excluded.note", [size, note])


def iter_entries_from(db, first: int, end: int):
    yield from db.execute("SELECT idx, data FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                          [first, end])


# --- witnesses ----------------------------------------------------------------------------------------------

def save_cosignature(db, cso_id: str, size: int, note: str) -> None:
    db.execute("INSERT INTO witness_cosignatures (cso_id, tree_size, note) VALUES (?, ?, ?) "
               "ON CONFLICT(cso_id) DO UPDATE SET tree_size = excluded.tree_size, note = excluded.note",
               [cso_id, size, note])


def cosignatures(db) -> list[tuple[str, int, str]]:
    return db.execute("SELECT cso_id, tree_size, note FROM witness_cosignatures ORDER BY cso_id").fetchall()
