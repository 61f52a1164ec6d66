"""The database: a SQLite file (the default) or PostgreSQL (``gateway.pgstore``), and versioned migrations
collected from every package.

Each package keeps its SQL in its own store module, which lists ``MIGRATIONS`` (SQL scripts, applied in order,
never edited once released: add a new one instead). PostgreSQL runs the same scripts, read by
``gateway.pgstore.from_sqlite``, and after a version the ``PG_EXTRA`` of that version where SQLite's dialect cannot
say it (a trigger, a column SQLite has implicitly). ``gateway.schemas()`` lists the store modules. The version
reached by each package is kept in ``schema_versions``. Store modules write SQL both engines read; ``dialect(db)``
tells them apart where they differ.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import sqlite_utils

from gateway import pgstore

# what callers catch, whichever engine: the database is unreachable, locked or full; a write broke a constraint
OperationalError = (sqlite3.OperationalError, *pgstore.OperationalError)
IntegrityError = (sqlite3.IntegrityError, pgstore.IntegrityError)
UnstorableValue = pgstore.DataError


@dataclass(frozen=True)
class Schema:
    """One package's tables: its migration scripts in order, its version kept in schema_versions by name."""
    package: str
    migrations: Sequence[str]
    pg_extra: Mapping[int, str] = field(default_factory=dict)  # PG_EXTRA: PostgreSQL only, by version


MIGRATIONS = [
    # contacts are keyed by a keyed hash of the number, never the number: the referral privacy test scans the
    # whole file for the caller's number, and a caller who asks for help has used the information line first.
    # No timestamps either: a last-seen time could be matched to a referral's time.
    """
    CREATE TABLE contacts (
        contact_key TEXT PRIMARY KEY,
        language TEXT,
        governorate TEXT
    );
    CREATE TABLE inbound_seen (
        dedupe_key TEXT PRIMARY KEY,
        seen_at REAL NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT UNIQUE,
        to_number TEXT,
        body TEXT,
        kind TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 5,
        state TEXT NOT NULL DEFAULT 'queued',
        channel TEXT,
        encoding TEXT,
        segments INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before REAL NOT NULL DEFAULT 0,
        expires_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        provider_id TEXT,
        error TEXT,
        sensitive INTEGER NOT NULL DEFAULT 0,
        campaign_id INTEGER,
        subscriber_id INTEGER
    );
    CREATE INDEX outbox_ready ON outbox(state, priority, not_before);
    CREATE INDEX outbox_provider ON outbox(provider_id);
    CREATE TABLE channel_health (
        channel TEXT PRIMARY KEY,
        last_success REAL,
        last_error REAL,
        last_error_text TEXT
    );
    """,
    # Delivery: a dispatcher holds a row only for a lease, so a crashed one's rows come back; the channel a caller
    # asked for is kept apart from the channel that actually took the message; the circuit breaker and the
    # SMSSync phone's last poll live in channel_health; the token buckets live here so that several
    # dispatchers (threads or processes) share one rate limit per channel.
    """
    ALTER TABLE outbox ADD COLUMN requested_channel TEXT;
    ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
    ALTER TABLE outbox ADD COLUMN lease_until REAL;
    ALTER TABLE outbox ADD COLUMN sent_at REAL;
    ALTER TABLE outbox ADD COLUMN delivered_at REAL;
    CREATE INDEX outbox_leases ON outbox(state, lease_until);
    ALTER TABLE channel_health ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE channel_health ADD COLUMN open_until REAL;
    ALTER TABLE channel_health ADD COLUMN last_seen REAL;
    CREATE TABLE rate_buckets (
        channel TEXT PRIMARY KEY,
        tokens REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # Staff console: accounts (scrypt password hashes; session_epoch rises on a password or role change and
    # ends every open session of that account) and failed logins for the rate limit. A failed login keeps a
    # keyed hash of the typed name, not the name: people type their password into the wrong field.
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'campaign', 'municipality')),
        language TEXT NOT NULL DEFAULT 'ar',
        active INTEGER NOT NULL DEFAULT 1,
        session_epoch INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        last_login REAL
    );
    CREATE TABLE login_attempts (
        id INTEGER PRIMARY KEY,
        username_key TEXT NOT NULL,
        address TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX login_attempts_user ON login_attempts(username_key, at);
    CREATE INDEX login_attempts_address ON login_attempts(address, at);
    """,
    # Links that say when they are down: the last message in per channel (the last out is last_success, the last
    # poll last_seen), and per channel whether staff were told it is down (so they are told once, and again when
    # it recovers). watched_since: a link never heard from counts its silence from when we started watching it.
    """
    ALTER TABLE channel_health ADD COLUMN last_in REAL;
    CREATE TABLE link_alerts (
        channel TEXT PRIMARY KEY,
        watched_since REAL NOT NULL,
        down_since REAL
    );
    """,
    # Sensitive rows are sealed under a key held by one process (gateway.memkey): sealed_by names it, route_hint
    # carries the channels whose prefix rules the sealed number matched. Their times are days: the trigger
    # floors every time a statement writes, in the same statement, so no finer time reaches a page.
    """
    ALTER TABLE outbox ADD COLUMN sealed_by TEXT;
    ALTER TABLE outbox ADD COLUMN route_hint TEXT;
    CREATE TRIGGER outbox_sensitive_days AFTER UPDATE ON outbox
    WHEN NEW.sensitive = 1 AND NEW.updated_at != CAST(NEW.updated_at / 86400 AS INTEGER) * 86400.0
    BEGIN
        UPDATE outbox SET updated_at = CAST(NEW.updated_at / 86400 AS INTEGER) * 86400.0,
            sent_at = CAST(NEW.sent_at / 86400 AS INTEGER) * 86400.0,
            delivered_at = CAST(NEW.delivered_at / 86400 AS INTEGER) * 86400.0,
            not_before = CASE WHEN NEW.state IN ('queued', 'sending') THEN NEW.not_before ELSE 0 END
        WHERE id = NEW.id;
    END;
    """,
    # No list of callers beyond the window (gateway.contacts): rows keyed under a per-epoch key, with the epoch
    # so that old ones can be deleted, and no row ids. Rows from before have no epoch key: they are dropped
    # (callers pick their language again).
    """
    DROP TABLE contacts;
    CREATE TABLE contacts (
        contact_key TEXT PRIMARY KEY,
        epoch INTEGER NOT NULL,
        language TEXT,
        governorate TEXT
    ) WITHOUT ROWID;
    CREATE INDEX contacts_epoch ON contacts(epoch);
    """,
    # the public keys of running servers, so that a command-line process seals to one (gateway.memkey)
    """
    CREATE TABLE outbox_holders (
        tag TEXT PRIMARY KEY,
        public_key BLOB NOT NULL
    );
    """,
]

# What PostgreSQL runs besides a script above, read by gateway.pgstore.from_sqlite, by the version it comes with:
# the trigger that floors a sensitive row's times to the day (before the row is written, where SQLite's rewrites
# it just after); a rowid column where a query orders by SQLite's rowid.
PG_EXTRA = {
    5: """
    CREATE FUNCTION outbox_sensitive_days() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.sensitive = 1 THEN
            NEW.updated_at := floor(NEW.updated_at / 86400) * 86400.0;
            NEW.sent_at := floor(NEW.sent_at / 86400) * 86400.0;
            NEW.delivered_at := floor(NEW.delivered_at / 86400) * 86400.0;
            IF NEW.state NOT IN ('queued', 'sending') THEN NEW.not_before := 0; END IF;
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER outbox_sensitive_days BEFORE UPDATE ON outbox
        FOR EACH ROW EXECUTE FUNCTION outbox_sensitive_days();
    """,
    7: "ALTER TABLE outbox_holders ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;",
}

_local = threading.local()
_WRITE_LOCK = threading.RLock()


def connect(path: str):
    """The database at ``[gateway] database``: a PostgreSQL pool for a postgresql:// URL, else a SQLite
    connection for this thread (SQLite connections are not shared between threads)."""
    if pgstore.is_url(path):
        return pgstore.connect(path)
    cache = getattr(_local, "dbs", None)
    if cache is None:
        cache = _local.dbs = {}
    db = cache.get(path)
    if db is None:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Redacted or deleted rows are overwritten with zeros, not left in free pages for anyone to read.
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        db = cache[path] = sqlite_utils.Database(conn)
    return db


def is_file(database: str) -> bool:
    """``[gateway] database`` names a SQLite file (not :memory:, not a PostgreSQL URL)."""
    return database != ":memory:" and not pgstore.is_url(database)


def close_pools() -> None:
    """Close this process's PostgreSQL pools (tests, between databases)."""
    pgstore.close_all()


def dialect(db) -> str:
    return getattr(db, "dialect", "sqlite")


def close_thread_connections() -> None:
    for db in getattr(_local, "dbs", {}).values():
        db.conn.close()
    _local.dbs = {}
    pgstore.close_thread_listeners()


@contextmanager
def transaction(db, immediate: bool = True):
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception: nothing is half-written."""
    if dialect(db) == pgstore.DIALECT:
        with db.transaction():
            yield db
        return
    conn = db.conn
    if conn.in_transaction:  # nested use joins the outer transaction
        yield db
        return
    if not immediate:
        yield from _run(conn, "BEGIN", db)
        return
    # Writers of this process queue on a lock rather than in SQLite's busy handler, which sleeps 1, 2, 5, 10 ms...
    # between tries: under load that sleeping, not the writing, made the slowest USSD hops.
    with _WRITE_LOCK:
        yield from _run(conn, "BEGIN IMMEDIATE", db)


def serialize(db, name: str) -> None:
    """Inside a transaction: one at a time among the transactions that serialize on ``name``, until COMMIT.
    PostgreSQL takes an advisory lock; SQLite's BEGIN IMMEDIATE already lets one writer in at a time."""
    if dialect(db) == pgstore.DIALECT:
        db.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [name])


def notify(db, channel: str) -> None:
    """Tell PostgreSQL listeners (``Database.wait_for``) on ``channel``, at COMMIT; SQLite's readers poll."""
    if dialect(db) == pgstore.DIALECT:
        db.execute("SELECT pg_notify(?, '')", [channel])


def single_write(db, sql: str, params=()):
    """One statement that commits on its own, queued on the same lock as transactions (see transaction)."""
    if dialect(db) == pgstore.DIALECT:  # row locks, not one writer at a time
        return db.execute(sql, params)
    with _WRITE_LOCK:
        return db.execute(sql, params)


def _run(conn, begin: str, db):
    conn.execute(begin)
    try:
        yield db
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(db, schemas: Iterable[Schema]) -> dict[str, int]:
    """Apply each package's pending migrations, in the order given (``gateway.schemas()``: a package's tables
    may refer to those of the packages before it); returns the version each package is at."""
    postgresql = dialect(db) == pgstore.DIALECT
    if postgresql:  # two servers starting at once must not both create the tables
        db.execute("SELECT pg_advisory_lock(7246)")
        db.execute(pgstore.PRELUDE)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_versions (package TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        return {schema.package: _migrate_package(db, schema, postgresql) for schema in schemas}
    finally:
        if postgresql:
            db.execute("SELECT pg_advisory_unlock(7246)")


def _migrate_package(db, schema: Schema, postgresql: bool) -> int:
    row = db.execute("SELECT version FROM schema_versions WHERE package = ?", [schema.package]).fetchone()
    current = row[0] if row else 0
    for version, script in _pending(schema, current, postgresql):
        with transaction(db):
            if postgresql:
                db.execute(script)
            else:
                for statement in _statements(script):
                    db.execute(statement)
            db.execute("INSERT INTO schema_versions VALUES (?, ?) "
                       "ON CONFLICT(package) DO UPDATE SET version = excluded.version", [schema.package, version])
    return len(schema.migrations)


def _pending(schema: Schema, current: int, postgresql: bool) -> list[tuple[int, str]]:
    """The scripts after ``current``, each with the version it brings the package to."""
    pending = enumerate(schema.migrations[current:], start=current + 1)
    if not postgresql:
        return list(pending)
    return [(v, pgstore.from_sqlite(script) + schema.pg_extra.get(v, "")) for v, script in pending]


def _statements(script: str):
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf
            buf = ""
    if buf.strip():
        yield buf


BUSY_TIMEOUT_MS = 10000  # as connect() sets it
REPLICATED_SCRUB_WAIT_MS = 100


def scrub_wal(db) -> None:
    """After redacting, fold the WAL into the file and truncate it, so old page images do not linger there.
    (PostgreSQL's WAL is its own: docs/operations.md says what an operator of one keeps and for how long.)

    While Litestream copies the file (gateway/backup.py) its long read transaction holds the WAL: the truncation
    cannot finish, and waiting for it held every writer back for the whole busy timeout (10 s, measured). On a
    replicated file the checkpoint folds what it can and gives up after a moment; Litestream's own checkpoints
    restart the WAL (docs/privacy.md says what this leaves)."""
    if dialect(db) == pgstore.DIALECT:
        return
    replicated = db.execute("SELECT 1 FROM sqlite_master WHERE name = '_litestream_lock'").fetchone()
    if not replicated:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    db.conn.execute(f"PRAGMA busy_timeout={REPLICATED_SCRUB_WAIT_MS}")
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def now() -> float:
    return time.time()
