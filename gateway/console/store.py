"""SQL of the console: staff accounts (``users``), failed sign-ins (``login_attempts``) and the counts the
dashboard draws. Functions take a connection; the rules (roles, passwords, lockouts) are in users.py."""
from __future__ import annotations

USER_COLUMNS = ("id", "username", "role", "language", "active", "session_epoch", "created_at", "last_login")
_SELECT_USER = f"SELECT {', '.join(USER_COLUMNS)} FROM users"  # noqa: S608 (fixed names)
# what may change on an account, as the column each keyword sets
_UPDATABLE = {"role": "role = ?", "active": "active = ?", "password_hash": "password_hash = ?",
              "language": "language = ?"}


def _user(row) -> dict | None:
    return dict(zip(USER_COLUMNS, row)) if row else None


def user_by_id(db, user_id: int) -> dict | None:
    return _user(db.execute(f"{_SELECT_USER} WHERE id = ?", [user_id]).fetchone())


def user_by_name(db, username: str) -> dict | None:
    return _user(db.execute(f"{_SELECT_USER} WHERE username = ?", [username]).fetchone())


def all_users(db) -> list[dict]:
    return [_user(r) for r in db.execute(f"{_SELECT_USER} ORDER BY username COLLATE NOCASE")]


def insert_user(db, username: str, password_hash: str, role: str, language: str, now: float) -> int:
    return db.execute("INSERT INTO users (username, password_hash, role, language, created_at) VALUES (?, ?, ?, ?, ?) "
                      "RETURNING id", [username, password_hash, role, language, now]).fetchone()[0]


def update_user(db, user_id: int, changes: dict, end_sessions: bool) -> None:
    """Set the columns in ``changes`` (role, active, password_hash, language); ``end_sessions`` bumps the
    account's session epoch, which signs out every open session."""
    sets = [_UPDATABLE[name] for name in changes] + (["session_epoch = session_epoch + 1"] if end_sessions else [])
    if sets:
        db.execute(f"UPDATE users SET {', '.join(sets)} WHERE id = ?", [*changes.values(), user_id])  # noqa: S608 (fixed names, bound values)


def count_active_admins(db) -> int:
    return db.execute("SELECT count(*) FROM users WHERE role = 'admin' AND active = 1").fetchone()[0]


def credentials(db, username: str) -> tuple[int, str, int] | None:
    """(id, password hash, active) of the account with this name."""
    return db.execute("SELECT id, password_hash, active FROM users WHERE username = ?", [username]).fetchone()


def recent_failures(db, column: str, value: str, since: float, limit: int) -> list[float]:
    """Times of the latest failed sign-ins by this name's key or this address (``column``), newest first."""
    assert column in ("username_key", "address")  # noqa: S101 (a fixed name from users.py, never input)
    return [r[0] for r in db.execute(f"SELECT at FROM login_attempts WHERE {column} = ? AND at > ? "  # noqa: S608 (fixed names, bound values)
                                     "ORDER BY at DESC LIMIT ?", [value, since, limit])]


def record_failure(db, username_key: str, address: str, now: float, forget_before: float) -> None:
    db.execute("DELETE FROM login_attempts WHERE at <= ?", [forget_before])
    db.execute("INSERT INTO login_attempts (username_key, address, at) VALUES (?, ?, ?)", [username_key, address, now])


def record_login(db, user_id: int, username_key: str, now: float) -> None:
    db.execute("UPDATE users SET last_login = ? WHERE id = ?", [now, user_id])
    db.execute("DELETE FROM login_attempts WHERE username_key = ?", [username_key])


# -- the dashboard's counts ----------------------------------------------------------------------------------------

_TIMES = {"outbox": "sent_at", "inbound_seen": "seen_at"}  # messages out by when they went, in by the hour seen


def per_bucket(db, table: str, start: float, step: float, n: int) -> list[int]:
    """Rows of ``table`` ("outbox": sent, "inbound_seen": received) in each of n steps from start."""
    column = _TIMES[table]
    counts = [0] * n
    rows = db.execute(f"SELECT CAST(floor((({column}) - ?) / ?) AS INTEGER) AS b, count(*) FROM {table} "  # noqa: S608 (fixed names, bound values)
                      f"WHERE {column} >= ? AND {column} < ? GROUP BY b", [start, step, start, start + step * n])
    for bucket, count in rows:
        if 0 <= bucket < n:
            counts[bucket] = count
    return counts


def per_span(db, table: str, bounds: list[float]) -> list[int]:
    """Rows of ``table`` between each pair of consecutive bounds (local days are not all 86400 s long)."""
    column = _TIMES[table]
    return [db.execute(f"SELECT count(*) FROM {table} WHERE {column} >= ? AND {column} < ?",  # noqa: S608 (fixed names, bound values)
                       [bounds[i], bounds[i + 1]]).fetchone()[0] for i in range(len(bounds) - 1)]


def active_services(db) -> int:
    return db.execute("SELECT count(*) FILTER (WHERE status = 'active') FROM services").fetchone()[0]


def active_subscribers(db) -> int:
    return db.execute("SELECT count(*) FROM subscribers WHERE status = 'active'").fetchone()[0]
