"""SQL of the jobs package.

A profile is keyed by the contact key (gateway.contacts: an HMAC of the number), never the number: the number
the alerts need is sealed (``sealed``, a secretbox under the jobs key in keys_dir), so a copy of the database
without the keys folder lists no one. No nationality, no status, no time finer than a day, no row id.
``job_matches`` says which profile an offer reached and what the person answered (alerted, yes, no, asked, done),
so a bare reply answers the right offer and an offer never alerts a person twice; it goes with the profile.
``job_counts`` are counters per offer (alerts, yes, no, and the follow-up's answers): the follow-up's answer is
only ever a counter.
"""
from __future__ import annotations

import json

MIGRATIONS: list[str] = [
    """
    CREATE TABLE job_trades (
        code TEXT PRIMARY KEY,
        labels TEXT,
        position INTEGER NOT NULL
    );
    INSERT INTO job_trades (code, position) VALUES ('construction', 1), ('agriculture', 2), ('hospitality', 3),
        ('textiles', 4), ('care', 5), ('driving', 6), ('retail', 7), ('crafts', 8), ('it', 9);
    CREATE TABLE job_profiles (
        key TEXT PRIMARY KEY,
        sealed BLOB NOT NULL,
        language TEXT NOT NULL,
        trade TEXT NOT NULL,
        level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
        governorate TEXT NOT NULL,
        delegation TEXT NOT NULL DEFAULT '',
        travel TEXT NOT NULL CHECK (travel IN ('delegation', 'governorate', 'anywhere')),
        availability TEXT NOT NULL CHECK (availability IN ('full', 'part', 'seasonal', 'any')),
        expires_day TEXT NOT NULL,
        reminded INTEGER NOT NULL DEFAULT 0,
        prompt TEXT
    ) WITHOUT ROWID;
    CREATE INDEX job_profiles_match ON job_profiles(trade, level, expires_day);
    CREATE INDEX job_profiles_expiry ON job_profiles(expires_day);
    CREATE TABLE job_offers (
        id INTEGER PRIMARY KEY,
        state TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'open', 'closed')),
        trade TEXT NOT NULL,
        level INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('full', 'part', 'seasonal')),
        governorate TEXT NOT NULL,
        delegation TEXT NOT NULL DEFAULT '',
        starts TEXT NOT NULL,
        ends TEXT NOT NULL,
        places INTEGER NOT NULL,
        contact TEXT NOT NULL,
        contact_language TEXT NOT NULL,
        texts TEXT NOT NULL,
        created_day TEXT NOT NULL,
        closed_day TEXT
    );
    CREATE TABLE job_matches (
        offer_id INTEGER NOT NULL REFERENCES job_offers(id),
        key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('alerted', 'yes', 'no', 'asked', 'done')),
        follow_day TEXT,
        PRIMARY KEY (offer_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX job_matches_key ON job_matches(key);
    CREATE TABLE job_counts (
        offer_id INTEGER NOT NULL REFERENCES job_offers(id),
        what TEXT NOT NULL CHECK (what IN ('alerted', 'yes', 'no', 'contacted', 'not_contacted')),
        n INTEGER NOT NULL,
        PRIMARY KEY (offer_id, what)
    ) WITHOUT ROWID;
    """,
]

PROFILE_COLUMNS = ("key", "sealed", "language", "trade", "level", "governorate", "delegation", "travel",
                   "availability", "expires_day", "reminded", "prompt")
OFFER_COLUMNS = ("id", "state", "trade", "level", "kind", "governorate", "delegation", "starts", "ends", "places",
                 "contact", "contact_language", "texts", "created_day", "closed_day")


# -- trades --------------------------------------------------------------------------------------------------

def trades(db) -> list[tuple[str, dict | None]]:
    """(code, labels or None for a built-in trade whose labels are in the catalogs), in menu order."""
    return [(code, json.loads(labels) if labels else None)
            for code, labels in db.execute("SELECT code, labels FROM job_trades ORDER BY position, code")]


def add_trade(db, code: str, labels: dict) -> None:
    db.execute("INSERT INTO job_trades (code, labels, position) "
               "VALUES (?, ?, (SELECT coalesce(max(position), 0) + 1 FROM job_trades))",
               [code, json.dumps(labels, ensure_ascii=False)])


# -- profiles ------------------------------------------------------------------------------------------------

def profile(db, key: str) -> dict | None:
    row = db.execute(f"SELECT {', '.join(PROFILE_COLUMNS)} FROM job_profiles WHERE key = ?", [key]).fetchone()  # noqa: S608 (fixed columns)
    return dict(zip(PROFILE_COLUMNS, row)) if row else None


def save_profile(db, values: dict) -> None:
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    updates = ", ".join(f"{k} = excluded.{k}" for k in values if k != "key")
    db.execute(f"INSERT INTO job_profiles ({cols}) VALUES ({marks}) ON CONFLICT(key) DO UPDATE SET {updates}",  # noqa: S608 (fixed names, bound values)
               list(values.values()))


def delete_profile(db, key: str) -> bool:
    """The profile and every match of it: nothing says any more that this key was alerted or answered."""
    db.execute("DELETE FROM job_matches WHERE key = ?", [key])
    return bool(db.execute("DELETE FROM job_profiles WHERE key = ?", [key]).rowcount)


def renew(db, key: str, expires_day: str) -> bool:
    return bool(db.execute("UPDATE job_profiles SET expires_day = ?, reminded = 0, prompt = NULL WHERE key = ?",
                           [expires_day, key]).rowcount)


def set_prompt(db, key: str, prompt: str | None) -> None:
    db.execute("UPDATE job_profiles SET prompt = ? WHERE key = ?", [prompt, key])


def expired_keys(db, today: str) -> list[str]:
    return [r[0] for r in db.execute("SELECT key FROM job_profiles WHERE expires_day < ?", [today])]


def due_reminders(db, until_day: str):
    return db.execute("SELECT key, sealed, language, expires_day FROM job_profiles WHERE reminded = 0 "
                      "AND expires_day <= ?", [until_day])


def mark_reminded(db, key: str) -> None:
    db.execute("UPDATE job_profiles SET reminded = 1, prompt = 'renew' WHERE key = ?", [key])


def profile_cells(db, today: str, first: str, second: str) -> list[tuple[str, str, int]]:
    """Live profiles counted by two of trade, level, governorate."""
    allowed = {"trade", "level", "governorate"}
    assert first in allowed and second in allowed  # noqa: S101 (fixed names only; never user input)
    return db.execute(f"SELECT {first}, {second}, count(*) FROM job_profiles WHERE expires_day >= ? "  # noqa: S608 (fixed names)
                      f"GROUP BY {first}, {second}", [today]).fetchall()


# -- offers --------------------------------------------------------------------------------------------------

def _offer(row) -> dict | None:
    if row is None:
        return None
    out = dict(zip(OFFER_COLUMNS, row))
    out["texts"] = json.loads(out["texts"])
    return out


def insert_offer(db, values: dict) -> int:
    values = {**values, "texts": json.dumps(values["texts"], ensure_ascii=False)}
    cols = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    return db.execute(f"INSERT INTO job_offers ({cols}) VALUES ({marks}) RETURNING id",  # noqa: S608 (fixed names, bound values)
                      list(values.values())).fetchone()[0]


def offer(db, offer_id: int) -> dict | None:
    return _offer(db.execute(f"SELECT {', '.join(OFFER_COLUMNS)} FROM job_offers WHERE id = ?",  # noqa: S608 (fixed columns)
                             [offer_id]).fetchone())


def offers(db, states: tuple[str, ...] = ("draft", "open", "closed")) -> list[dict]:
    marks = ", ".join("?" for _ in states)
    return [_offer(r) for r in db.execute(f"SELECT {', '.join(OFFER_COLUMNS)} FROM job_offers "  # noqa: S608 (fixed columns)
                                          f"WHERE state IN ({marks}) ORDER BY id DESC", list(states))]


def set_offer_state(db, offer_id: int, state: str, expected: str, day: str | None = None) -> bool:
    return bool(db.execute("UPDATE job_offers SET state = ?, closed_day = coalesce(?, closed_day) "
                           "WHERE id = ? AND state = ?", [state, day, offer_id, expected]).rowcount)


def offer_states(db) -> dict[str, int]:
    return dict(db.execute("SELECT state, count(*) FROM job_offers GROUP BY state").fetchall())


# -- matching ------------------------------------------------------------------------------------------------

MATCH_WHERE = (
    "p.trade = :trade AND p.level >= :level AND p.expires_day >= :today "
    "AND p.availability IN (:kind, 'any') "
    "AND (p.travel = 'anywhere' OR p.governorate = :governorate AND "
    "     (p.travel = 'governorate' OR :delegation = '' OR p.delegation IN ('', :delegation))) "
    "AND NOT EXISTS (SELECT 1 FROM opt_out_keys o WHERE o.contact_key = p.key) "
    "AND NOT EXISTS (SELECT 1 FROM job_matches m WHERE m.offer_id = :offer AND m.key = p.key)"
)


def match_params(offer_row: dict, today: str) -> dict:
    return {"trade": offer_row["trade"], "level": offer_row["level"], "today": today, "kind": offer_row["kind"],
            "governorate": offer_row["governorate"], "delegation": offer_row["delegation"], "offer": offer_row["id"]}


def matching(db, offer_row: dict, today: str):
    """A cursor over (key, sealed, language) of the live profiles this offer reaches: streamed, never a list."""
    return db.conn.execute(f"SELECT p.key, p.sealed, p.language FROM job_profiles p WHERE {MATCH_WHERE}",  # noqa: S608 (fixed SQL)
                           match_params(offer_row, today))


def matching_by_language(db, offer_row: dict, today: str) -> dict[str, int]:
    return dict(db.conn.execute(f"SELECT p.language, count(*) FROM job_profiles p WHERE {MATCH_WHERE} "  # noqa: S608 (fixed SQL)
                                "GROUP BY p.language", match_params(offer_row, today)).fetchall())


def add_match(db, offer_id: int, key: str, state: str = "alerted") -> bool:
    return bool(db.execute("INSERT INTO job_matches (offer_id, key, state) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                           [offer_id, key, state]).rowcount)


def add_matches(db, offer_id: int, keys: list[str]) -> None:
    """Alerted: the match, and the offer as what a one-key reply from each of them answers."""
    db.conn.executemany("INSERT INTO job_matches (offer_id, key, state) VALUES (?, ?, 'alerted') "
                        "ON CONFLICT DO NOTHING", [(offer_id, key) for key in keys])
    db.conn.executemany("UPDATE job_profiles SET prompt = ? WHERE key = ?",
                        [(f"offer:{offer_id}", key) for key in keys])


def match_state(db, offer_id: int, key: str) -> str | None:
    row = db.execute("SELECT state FROM job_matches WHERE offer_id = ? AND key = ?", [offer_id, key]).fetchone()
    return row[0] if row else None


def set_match(db, offer_id: int, key: str, state: str, expected: str, follow_day: str | None = None) -> bool:
    return bool(db.execute("UPDATE job_matches SET state = ?, follow_day = ? WHERE offer_id = ? AND key = ? "
                           "AND state = ?", [state, follow_day, offer_id, key, expected]).rowcount)


def pending_offers(db, key: str) -> list[int]:
    """Open offers this person was alerted to and has not answered, newest first."""
    return [r[0] for r in db.execute(
        "SELECT m.offer_id FROM job_matches m JOIN job_offers o ON o.id = m.offer_id WHERE m.key = ? "
        "AND m.state = 'alerted' AND o.state = 'open' ORDER BY m.offer_id DESC", [key])]


def due_follow_ups(db, today: str):
    return db.execute("SELECT m.offer_id, m.key, p.sealed, p.language FROM job_matches m JOIN job_profiles p "
                      "ON p.key = m.key WHERE m.state = 'yes' AND m.follow_day <= ?", [today])


def count_up(db, offer_id: int, what: str, n: int = 1) -> None:
    db.execute("INSERT INTO job_counts (offer_id, what, n) VALUES (?, ?, ?) "
               "ON CONFLICT (offer_id, what) DO UPDATE SET n = job_counts.n + ?",
               [offer_id, what, n, n])


def counts(db, offer_id: int | None = None) -> dict[str, int]:
    if offer_id is None:
        return dict(db.execute("SELECT what, sum(n) FROM job_counts GROUP BY what").fetchall())
    return dict(db.execute("SELECT what, n FROM job_counts WHERE offer_id = ?", [offer_id]).fetchall())
