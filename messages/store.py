"""SQL of the messages package: the tables (MIGRATIONS) of subscribers, their consent log, opt-out keys, campaigns
and their runs, and the subscriber queries (campaigns' are in messages/campaigns/store.py). Functions take a
connection; the rules are in messages/subscribers.py."""

MIGRATIONS: list[str] = [
    # Subscribers opted in to receive blasts, so their number is kept: a blast must reach it. The consent log
    # records when, how and on which channel each change happened.
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        phone TEXT NOT NULL UNIQUE,
        language TEXT NOT NULL,
        governorate TEXT,
        delegation TEXT,
        interests TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX subscribers_audience ON subscribers(status, governorate, language);
    CREATE TABLE consent_log (
        id INTEGER PRIMARY KEY,
        subscriber_id INTEGER NOT NULL REFERENCES subscribers(id),
        at REAL NOT NULL,
        action TEXT NOT NULL,
        channel TEXT NOT NULL,
        via TEXT NOT NULL
    );
    CREATE INDEX consent_log_subscriber ON consent_log(subscriber_id, at);
    """,
    # Campaigns. The schedule is data here, not pickled APScheduler jobs: `dalil serve` re-registers a job per
    # scheduled campaign from this table at start, so a recurring campaign survives a restart (see
    # messages/schedule.py). A run is one queueing of a campaign; its run_key (the time it was due) makes a
    # run idempotent. opted_in_at serves the "active since" audience filter. opt_out_keys holds the contact key
    # (gateway.contacts HMAC, never the number) of people who sent STOP without being subscribed, so that no
    # import can add them later. The two outbox indexes serve campaign results and the opt-out sweep.
    """
    ALTER TABLE subscribers ADD COLUMN opted_in_at REAL;
    UPDATE subscribers SET opted_in_at = created_at WHERE status = 'active';
    CREATE INDEX subscribers_opted_in ON subscribers(opted_in_at);
    CREATE TABLE opt_out_keys (
        contact_key TEXT PRIMARY KEY
    );
    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'draft',
        texts TEXT NOT NULL,
        fallback_language TEXT NOT NULL,
        audience TEXT NOT NULL,
        schedule TEXT NOT NULL,
        send_at REAL,
        cron TEXT,
        rate_per_minute INTEGER NOT NULL DEFAULT 0,
        expiry_hours REAL NOT NULL,
        next_run_at REAL,
        paused_from TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX campaigns_due ON campaigns(status, next_run_at);
    CREATE TABLE campaign_runs (
        id INTEGER PRIMARY KEY,
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
        run_key TEXT NOT NULL,
        due_at REAL NOT NULL,
        started_at REAL NOT NULL,
        first_send_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        queued INTEGER NOT NULL DEFAULT 0,
        UNIQUE (campaign_id, run_key)
    );
    CREATE INDEX outbox_campaign ON outbox(campaign_id, state) WHERE campaign_id IS NOT NULL;
    CREATE INDEX outbox_subscriber ON outbox(subscriber_id, state) WHERE subscriber_id IS NOT NULL;
    """,
]


# -- subscribers ---------------------------------------------------------------------------------------------------

SUBSCRIBER_COLUMNS = ("id", "phone", "language", "governorate", "delegation", "interests", "status", "opted_in_at")


def subscriber(db, phone: str) -> dict | None:
    row = db.execute(f"SELECT {', '.join(SUBSCRIBER_COLUMNS)} FROM subscribers WHERE phone = ?", [phone]).fetchone()  # noqa: S608 (fixed names, bound values)
    return dict(zip(SUBSCRIBER_COLUMNS, row)) if row else None


def subscriber_status(db, phone: str) -> str | None:
    row = db.execute("SELECT status FROM subscribers WHERE phone = ?", [phone]).fetchone()
    return row[0] if row else None


def insert_subscriber(db, phone: str, language: str, governorate: str | None, delegation: str | None,
                      interests: str, now: float) -> int:
    return db.execute(
        "INSERT INTO subscribers (phone, language, governorate, delegation, interests, status, created_at, "
        "updated_at, opted_in_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?) RETURNING id",
        [phone, language, governorate, delegation, interests, now, now, now]).fetchone()[0]


def widen_subscription(db, subscriber_id: int, language: str, governorate: str | None, delegation: str | None,
                       interests: str, now: float) -> None:
    """Active again with these interests; a given area replaces the old one; opted in now unless already in."""
    db.execute("UPDATE subscribers SET language = ?, governorate = coalesce(?, governorate), "
               "delegation = coalesce(?, delegation), interests = ?, status = 'active', updated_at = ?, "
               "opted_in_at = CASE WHEN status = 'active' THEN opted_in_at ELSE ? END WHERE id = ?",
               [language, governorate, delegation, interests, now, now, subscriber_id])


def set_interests(db, subscriber_id: int, interests: str, now: float) -> None:
    db.execute("UPDATE subscribers SET interests = ?, updated_at = ? WHERE id = ?", [interests, now, subscriber_id])


def set_opted_out(db, subscriber_id: int, now: float) -> None:
    db.execute("UPDATE subscribers SET status = 'opted_out', updated_at = ? WHERE id = ?", [now, subscriber_id])


def set_opted_in(db, subscriber_id: int, now: float) -> None:
    db.execute("UPDATE subscribers SET status = 'active', opted_in_at = ?, updated_at = ? WHERE id = ?",
               [now, now, subscriber_id])


def delete_subscriber(db, subscriber_id: int) -> None:
    """The subscription and its consent history (the outbox's link to it is gateway.blasts.forget_subscriber)."""
    db.execute("DELETE FROM consent_log WHERE subscriber_id = ?", [subscriber_id])
    db.execute("DELETE FROM subscribers WHERE id = ?", [subscriber_id])


def log_consent(db, subscriber_id: int, action: str, channel: str, via: str, at: float) -> None:
    db.execute("INSERT INTO consent_log (subscriber_id, at, action, channel, via) VALUES (?, ?, ?, ?, ?)",
               [subscriber_id, at, action, channel, via])


def consent_rows(db, phone: str) -> list[tuple]:
    """(at, action, channel, via) of the number's consent history, oldest first."""
    return db.execute("SELECT c.at, c.action, c.channel, c.via FROM consent_log c JOIN subscribers s "
                      "ON s.id = c.subscriber_id WHERE s.phone = ? ORDER BY c.at, c.id", [phone]).fetchall()


def remember_opt_out_key(db, key: str) -> None:
    db.execute("INSERT INTO opt_out_keys (contact_key) VALUES (?) ON CONFLICT DO NOTHING", [key])


def forget_opt_out_key(db, key: str) -> None:
    db.execute("DELETE FROM opt_out_keys WHERE contact_key = ?", [key])


def opted_out_numbers(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT phone FROM subscribers WHERE status = 'opted_out'")}


def opt_out_marks(db) -> set[str]:
    """The coarse marks erased numbers leave (subscribers.opt_out_mark), never a number's full key."""
    return {r[0] for r in db.execute("SELECT contact_key FROM opt_out_keys WHERE contact_key LIKE 'mark:%'")}


def any_opt_out_key(db, *keys: str) -> bool:
    marks = ", ".join("?" for _ in keys)
    return db.execute(f"SELECT 1 FROM opt_out_keys WHERE contact_key IN ({marks})", list(keys)).fetchone() is not None  # noqa: S608 (placeholders only)


def subscriber_counts(db) -> tuple[list[tuple], list[tuple]]:
    """(status, subscribers) and, of the active ones, (language, subscribers)."""
    return (db.execute("SELECT status, count(*) FROM subscribers GROUP BY status").fetchall(),
            db.execute("SELECT language, count(*) FROM subscribers WHERE status = 'active' GROUP BY language"
                       ).fetchall())


def subscriber_rows(db, *, status: str | None, governorate: str | None, limit: int):
    """Rows for staff, newest first (a cursor, not a list: the table can be large)."""
    return db.execute(
        "SELECT phone, language, governorate, delegation, interests, status, opted_in_at FROM subscribers "
        "WHERE (CAST(:status AS TEXT) IS NULL OR status = :status) "
        "AND (CAST(:gov AS TEXT) IS NULL OR governorate = :gov) "
        "ORDER BY id DESC LIMIT :limit", {"status": status, "gov": governorate, "limit": limit})
