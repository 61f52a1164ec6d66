"""SQL of the polls package.

What is not here matters most. An answer is never a row: each one adds 1 to a counter of (question, answer,
governorate) and to one of (question, answer, language), so nothing ties a person's answers to each other, to a
time, or to their number. "Once per person" is a keyed hash of the number (``poll_voters``) under a key that
exists only while the poll is open (``poll_keys``); closing deletes the key, the hashes and the sealed requests
for the result SMS. WITHOUT ROWID tables keyed by those random values keep no order of arrival.
"""
from __future__ import annotations

import functools
import json

MIGRATIONS: list[str] = [
    """
    CREATE TABLE polls (
        id INTEGER PRIMARY KEY,
        keyword TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'closed')),
        definition TEXT NOT NULL,
        campaign_id INTEGER,
        created_day TEXT NOT NULL,
        closed_day TEXT
    );
    CREATE TABLE poll_keys (
        poll_id INTEGER PRIMARY KEY REFERENCES polls(id),
        key BLOB NOT NULL
    );
    CREATE TABLE poll_voters (
        poll_id INTEGER NOT NULL REFERENCES polls(id),
        tag BLOB NOT NULL,
        PRIMARY KEY (poll_id, tag)
    ) WITHOUT ROWID;
    CREATE TABLE poll_tally (
        poll_id INTEGER NOT NULL REFERENCES polls(id),
        question INTEGER NOT NULL,
        answer INTEGER NOT NULL,
        dimension TEXT NOT NULL CHECK (dimension IN ('governorate', 'language')),
        value TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (poll_id, question, answer, dimension, value)
    ) WITHOUT ROWID;
    CREATE TABLE poll_result_requests (
        poll_id INTEGER NOT NULL REFERENCES polls(id),
        id BLOB NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (poll_id, id)
    ) WITHOUT ROWID;
    """,
]

COLUMNS = "id, keyword, state, definition, campaign_id, created_day, closed_day"


@functools.lru_cache(maxsize=256)
def parse_definition(text: str) -> dict:
    """A stored definition, parsed once: it is read on every hop of a poll and never changes once open (callers
    must not modify the dict)."""
    return json.loads(text)


def _row(row) -> dict | None:
    if row is None:
        return None
    out = dict(zip(COLUMNS.split(", "), row))
    out["definition_text"] = out["definition"]
    out["definition"] = parse_definition(out["definition"])
    return out


def insert(db, keyword: str, definition: dict, day: str) -> int:
    return db.execute("INSERT INTO polls (keyword, definition, created_day) VALUES (?, ?, ?) RETURNING id",
                      [keyword, json.dumps(definition, ensure_ascii=False), day]).fetchone()[0]


def update_definition(db, poll_id: int, keyword: str, definition: dict) -> None:
    db.execute("UPDATE polls SET keyword = ?, definition = ? WHERE id = ? AND state = 'draft'",
               [keyword, json.dumps(definition, ensure_ascii=False), poll_id])


def get(db, poll_id: int) -> dict | None:
    return _row(db.execute(f"SELECT {COLUMNS} FROM polls WHERE id = ?", [poll_id]).fetchone())  # noqa: S608 (fixed columns)


def listing(db, states: tuple[str, ...] = ("draft", "open", "closed")) -> list[dict]:
    marks = ", ".join("?" for _ in states)
    rows = db.execute(f"SELECT {COLUMNS} FROM polls WHERE state IN ({marks}) ORDER BY id DESC",  # noqa: S608 (fixed columns)
                      list(states)).fetchall()
    return [_row(r) for r in rows]


def by_keyword(db, keyword: str) -> dict | None:
    """The poll an SMS keyword means: the open one, else the latest closed one (drafts answer nothing)."""
    return _row(db.execute(f"SELECT {COLUMNS} FROM polls WHERE upper(keyword) = upper(?) AND state != 'draft' "  # noqa: S608 (fixed columns)
                           "ORDER BY state = 'open' DESC, id DESC LIMIT 1", [keyword]).fetchone())


def keyword_taken(db, keyword: str, except_id: int | None = None) -> bool:
    return db.execute("SELECT 1 FROM polls WHERE upper(keyword) = upper(?) AND state != 'closed' "
                      "AND id IS DISTINCT FROM ?", [keyword, except_id]).fetchone() is not None


def open_poll(db, poll_id: int, key: bytes) -> bool:
    cur = db.execute("UPDATE polls SET state = 'open' WHERE id = ? AND state = 'draft'", [poll_id])
    if cur.rowcount:
        db.execute("INSERT INTO poll_keys (poll_id, key) VALUES (?, ?)", [poll_id, key])
    return bool(cur.rowcount)


def key(db, poll_id: int) -> bytes | None:
    row = db.execute("SELECT key FROM poll_keys WHERE poll_id = ?", [poll_id]).fetchone()
    return row[0] if row else None


def mark_closed(db, poll_id: int, day: str) -> bool:
    """Closed, and every trace of who took part destroyed: the key, the voters' hashes, the sealed requests."""
    cur = db.execute("UPDATE polls SET state = 'closed', closed_day = ? WHERE id = ? AND state = 'open'",
                     [day, poll_id])
    for table in ("poll_voters", "poll_result_requests", "poll_keys"):
        db.execute(f"DELETE FROM {table} WHERE poll_id = ?", [poll_id])  # noqa: S608 (fixed table names)
    return bool(cur.rowcount)


def set_campaign(db, poll_id: int, campaign_id: int) -> None:
    db.execute("UPDATE polls SET campaign_id = ? WHERE id = ?", [campaign_id, poll_id])


def add_voter(db, poll_id: int, tag: bytes) -> bool:
    """False when this tag already answered (one answer per person per poll)."""
    cur = db.execute("INSERT INTO poll_voters (poll_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING", [poll_id, tag])
    return bool(cur.rowcount)


def has_voter(db, poll_id: int, tag: bytes) -> bool:
    return db.execute("SELECT 1 FROM poll_voters WHERE poll_id = ? AND tag = ?", [poll_id, tag]).fetchone() is not None


def count_up(db, poll_id: int, rows: list[tuple[int, int, str, str]]) -> None:
    """Add 1 to each (question, answer, dimension, value) counter."""
    db.conn.executemany(
        "INSERT INTO poll_tally (poll_id, question, answer, dimension, value, n) VALUES (?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (poll_id, question, answer, dimension, value) DO UPDATE SET n = poll_tally.n + 1",
        [(poll_id, *row) for row in rows])


def tally(db, poll_id: int) -> list[tuple[int, int, str, str, int]]:
    return db.execute("SELECT question, answer, dimension, value, n FROM poll_tally WHERE poll_id = ?",
                      [poll_id]).fetchall()


def respondents(db, poll_id: int) -> int:
    row = db.execute("SELECT coalesce(sum(n), 0) FROM poll_tally WHERE poll_id = ? AND question = 1 "
                     "AND dimension = 'language'", [poll_id]).fetchone()
    return row[0]


def add_result_request(db, poll_id: int, request_id: bytes, sealed: bytes) -> None:
    db.execute("INSERT INTO poll_result_requests (poll_id, id, sealed) VALUES (?, ?, ?)",
               [poll_id, request_id, sealed])


def result_requests(db, poll_id: int) -> list[bytes]:
    return [r[0] for r in db.execute("SELECT sealed FROM poll_result_requests WHERE poll_id = ?", [poll_id])]
