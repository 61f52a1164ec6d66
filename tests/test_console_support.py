"""Helpers for the staff console tests (no tests here): accounts of each role, signing in, posting with CSRF."""
from __future__ import annotations

import re
import shutil
import time

import pytest

from gateway.console import users
from messages import i18n

PASSWORD = "a long staff password"
ACCOUNTS = {"admin": "admin", "staff": "campaign", "muni": "municipality"}


def add_accounts(app, language: str = "en") -> None:
    db = app.extensions["dalil"].db()
    for name, role in ACCOUNTS.items():
        users.create(db, name, PASSWORD, role, language)


@pytest.fixture
def console_app(demo_app):
    add_accounts(demo_app)
    return demo_app


@pytest.fixture
def locale_copy(tmp_path, monkeypatch):
    """The catalogs copied to a temporary folder, so that editing flow texts never touches the repository's."""
    target = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, target)
    monkeypatch.setattr(i18n, "LOCALE_DIR", target)
    i18n.reload()
    yield target
    monkeypatch.undo()
    i18n.reload()


def csrf(client) -> str:
    """The form token a console page carries: Flask-WTF's signature of the secret in the session (made here as
    Flask-WTF makes it, to spare a page load per POST), or, before the session has one, a page's (the login
    page, or where it sends a signed-in user)."""
    with client.session_transaction() as s:
        secret = s.get("csrf_token")
    if secret is None:
        page = client.get("/console/login", follow_redirects=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    from itsdangerous import URLSafeTimedSerializer
    return URLSafeTimedSerializer(client.application.secret_key, salt="wtf-csrf-token").dumps(secret)


def login(client, username: str, password: str = PASSWORD, follow: bool = False):
    client.environ_base.setdefault("HTTP_ACCEPT_LANGUAGE", "en")  # before sign-in, the browser's language
    client.get("/console/login")
    return client.post("/console/login", data={"username": username, "password": password, "csrf_token": csrf(client)},
                       follow_redirects=follow)


def signed_in(app, username: str):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 303, response.text
    return client


def post(client, path: str, data=None, **kw):
    data = dict(data or {})
    data.setdefault("csrf_token", csrf(client))
    return client.post(path, data=data, **kw)


def post_json(client, path: str, body: dict):
    return client.post(path, json=body, headers={"X-CSRF-Token": csrf(client), "Accept": "application/json"})


def field_error(html: str, field: str) -> str | None:
    match = re.search(rf'id="err-{re.escape(field)}"[^>]*>([^<]*)<', html)
    return match.group(1).strip() if match else None


def wait_for_job(client, location: str) -> dict:
    job_id = location.rsplit("/", 1)[1]
    for _ in range(200):
        info = client.get(f"/console/jobs/{job_id}/progress", headers={"Accept": "application/json"}).get_json()
        if info["state"] != "running":
            return info
        time.sleep(0.05)
    raise AssertionError("job did not finish")
