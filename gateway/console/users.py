"""Console accounts and the login rate limit, in the gateway's SQLite file (tables in gateway/store.py).

Passwords are hashed with scrypt (werkzeug). A failed login is remembered for ``WINDOW_SECONDS`` under a keyed
hash of the typed name and under the client address; ``MAX_FAILURES`` in the window, by either, refuses further
tries, the right password included, until the window has passed.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import time

from werkzeug.security import check_password_hash, generate_password_hash

from gateway.console import store
from gateway.store import transaction
from messages.i18n import LANGUAGES

ROLES = ("admin", "campaign", "municipality")
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 512
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
# scrypt's cost (N=2^15, r=8, p=1: werkzeug's default today), written out so that a library upgrade cannot lower
# it unnoticed; tests/test_console.py checks that an account is stored with it
HASH_METHOD = "scrypt:32768:8:1"
# checked against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = generate_password_hash("not a password, only for timing", method=HASH_METHOD)


class UserError(ValueError):
    """A user cannot be created or changed; ``field`` names the form field, ``code`` the catalog key suffix."""

    def __init__(self, field: str, code: str, message: str):
        super().__init__(message)
        self.field, self.code = field, code


def _hash(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


def now() -> float:
    return time.time()


def check_username(username: str) -> str:
    username = (username or "").strip()
    if not USERNAME.fullmatch(username):
        raise UserError("username", "username_format",
                        "2 to 64 letters, digits or . _ @ -, beginning with a letter or digit")
    return username


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise UserError("password", "password_short", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError("password", "password_long", f"at most {MAX_PASSWORD} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError("role", "role_unknown", f"one of {', '.join(ROLES)}")
    return role


def get(db, user_id: int) -> dict | None:
    return store.user_by_id(db, user_id)


def by_name(db, username: str) -> dict | None:
    return store.user_by_name(db, (username or "").strip())


def list_users(db) -> list[dict]:
    return store.all_users(db)


def create(db, username: str, password: str, role: str, language: str = "ar") -> int:
    username, role = check_username(username), check_role(role)
    check_password(password)
    if language not in LANGUAGES:
        raise UserError("language", "language_unknown", f"one of {', '.join(LANGUAGES)}")
    with transaction(db):
        if by_name(db, username):
            raise UserError("username", "username_taken", f"a user named {username!r} already exists")
        return store.insert_user(db, username, _hash(password), role, language, now())


def update(db, user_id: int, *, role: str | None = None, active: bool | None = None,
           password: str | None = None, language: str | None = None) -> None:
    """Change an account; a new role, password or deactivation ends the account's open sessions."""
    changes, ends_sessions = {}, False
    if role is not None:
        changes["role"] = check_role(role)
        ends_sessions = True
    if active is not None:
        changes["active"] = int(active)
        ends_sessions = ends_sessions or not active
    if password is not None:
        changes["password_hash"] = _hash(check_password(password))
        ends_sessions = True
    if language is not None:
        if language not in LANGUAGES:
            raise UserError("language", "language_unknown", f"one of {', '.join(LANGUAGES)}")
        changes["language"] = language
    if changes or ends_sessions:
        with transaction(db):
            store.update_user(db, user_id, changes, ends_sessions)


def count_active_admins(db) -> int:
    return store.count_active_admins(db)


# -- logging in ---------------------------------------------------------------------------------------------

def username_key(secret: bytes, username: str) -> str:
    return hmac.new(secret, (username or "").strip().lower().encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def locked_for(db, secret: bytes, username: str, address: str) -> float:
    """Seconds until this name and this address may try again; 0 when they may now."""
    since = now() - WINDOW_SECONDS
    waits = []
    for column, value in (("username_key", username_key(secret, username)), ("address", address)):
        times = store.recent_failures(db, column, value, since, MAX_FAILURES)
        if len(times) >= MAX_FAILURES:
            waits.append(times[-1] + WINDOW_SECONDS - now())
    return max(waits, default=0.0)


def record_failure(db, secret: bytes, username: str, address: str) -> None:
    with transaction(db):
        store.record_failure(db, username_key(secret, username), address, now(), now() - WINDOW_SECONDS)


def authenticate(db, username: str, password: str) -> dict | None:
    """The active user with this name and password, or None. Costs the same whether or not the name exists."""
    row = store.credentials(db, (username or "").strip())
    if row is None or len(password or "") > MAX_PASSWORD:
        check_password_hash(_DUMMY_HASH, (password or "")[:MAX_PASSWORD])
        return None
    if not check_password_hash(row[1], password or "") or not row[2]:
        return None
    return get(db, row[0])


def logged_in(db, secret: bytes, user_id: int, username: str) -> None:
    with transaction(db):
        store.record_login(db, user_id, username_key(secret, username), now())
