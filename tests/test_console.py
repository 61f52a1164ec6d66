"""The staff console's doors: signing in, the rate limit, CSRF, sessions, roles, error pages, `dalil user`."""
# ruff: noqa: F811 (pytest fixtures imported from test_console_support)
from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.console import auth, ui, users
from messages import i18n
from test_console_support import (  # noqa: F401 (fixtures)
    PASSWORD, console_app, csrf, login, post, post_json, signed_in,
)

CONSOLE = Path(__file__).parent.parent / "gateway" / "console"
AREA_PAGES = {
    "dashboard": "/console/dashboard", "directory": "/console/directory", "flows": "/console/flows",
    "campaigns": "/console/campaigns", "subscribers": "/console/subscribers", "simulator": "/console/simulator",
    "reports": "/console/reports", "users": "/console/users",
}


# -- signing in ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, landing", [("admin", "/console/dashboard"), ("staff", "/console/dashboard"),
                                           ("muni", "/console/reports")])
def test_each_role_signs_in_and_lands_on_its_first_page(console_app, name, landing):
    client = console_app.test_client()
    response = login(client, name)
    assert response.status_code == 303 and response.headers["Location"] == landing
    assert client.get(landing).status_code == 200


def test_a_page_asks_for_sign_in_and_comes_back_after_it(console_app):
    client = console_app.test_client()
    response = client.get("/console/directory?tab=locations")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login?next=")
    client.get(response.headers["Location"])
    back = client.post(response.headers["Location"], data={"username": "staff", "password": PASSWORD,
                                                          "csrf_token": csrf(client)})
    assert back.headers["Location"] == "/console/directory?tab=locations"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/elsewhere", "/console\\..\\x"])
def test_next_never_leads_outside_the_console(console_app, target):
    client = console_app.test_client()
    client.get("/console/login")
    response = client.post("/console/login?next=" + target,
                           data={"username": "admin", "password": PASSWORD, "csrf_token": csrf(client)})
    assert response.headers["Location"] == "/console/dashboard"


def test_next_to_a_page_the_role_cannot_open_lands_on_its_own_page(console_app):
    client = console_app.test_client()
    client.get("/console/login")
    response = client.post("/console/login?next=/console/subscribers",
                           data={"username": "muni", "password": PASSWORD, "csrf_token": csrf(client)})
    assert response.headers["Location"] == "/console/reports"


def test_wrong_password_and_unknown_name_get_the_same_answer(console_app):
    client = console_app.test_client()
    wrong = login(client, "admin", "not the password at all")
    unknown = login(client, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password." in wrong.text and "Wrong username or password." in unknown.text
    assert client.get("/console/dashboard").status_code == 302


def test_passwords_are_stored_as_scrypt_hashes(console_app):
    db = console_app.extensions["dalil"].db()
    stored = db.execute("SELECT password_hash FROM users WHERE username = 'admin'").fetchone()[0]
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_accounts_are_hashed_at_the_production_cost(app, production_passwords):
    """The suite makes its accounts with cheaper scrypt (conftest.py); the gateway's own cost is checked here."""
    db = app.extensions["dalil"].db()
    user_id = users.create(db, "amina", PASSWORD, "admin", "en")
    users.update(db, users.create(db, "nabil", PASSWORD, "campaign", "en"), password="another long password")
    for name in ("amina", "nabil"):
        stored = db.execute("SELECT password_hash FROM users WHERE username = ?", [name]).fetchone()[0]
        assert stored.startswith("scrypt:32768:8:1$"), stored[:20]  # N=2^15, r=8, p=1
    assert users.by_name(db, "amina")["id"] == user_id
    assert login(app.test_client(), "amina").status_code == 303
    assert login(app.test_client(), "nabil", "another long password").status_code == 303
    assert login(app.test_client(), "nabil").status_code == 401


def test_a_deactivated_account_cannot_sign_in(console_app):
    db = console_app.extensions["dalil"].db()
    users.update(db, users.by_name(db, "staff")["id"], active=False)
    assert login(console_app.test_client(), "staff").status_code == 401


# -- the rate limit -----------------------------------------------------------------------------------------

def test_five_failures_lock_the_name_even_for_the_right_password_then_the_window_passes(console_app, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(users, "now", lambda: clock[0])
    client = console_app.test_client()
    for _ in range(users.MAX_FAILURES):
        assert login(client, "admin", "wrong password 123").status_code == 401
    locked = login(client, "admin")
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.text and "15 min" in locked.text
    # another address is refused too: the limit is also per name
    other = console_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert login(other, "admin").status_code == 429
    clock[0] += users.WINDOW_SECONDS + 1
    assert login(client, "admin").status_code == 303


def test_one_address_trying_many_names_is_locked_too(console_app, monkeypatch):
    client = console_app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.0.0.66"
    for n in range(users.MAX_FAILURES):
        assert login(client, f"guess{n}", "wrong password 123").status_code == 401
    assert login(client, "staff").status_code == 429
    elsewhere = console_app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.0.0.67"
    assert login(elsewhere, "staff").status_code == 303


def test_failed_logins_keep_no_typed_name_in_the_database(console_app):
    client = console_app.test_client()
    login(client, "my-password-typed-as-name", "x" * 12)
    db = console_app.extensions["dalil"].db()
    rows = db.execute("SELECT username_key, address FROM login_attempts").fetchall()
    assert len(rows) == 1 and "my-password" not in rows[0][0]


def test_success_clears_the_name_s_failures(console_app):
    client = console_app.test_client()
    for _ in range(users.MAX_FAILURES - 1):
        login(client, "staff", "wrong password 123")
    assert login(client, "staff").status_code == 303
    other = console_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert login(other, "staff", "wrong password 123").status_code == 401
    assert login(other, "staff").status_code == 303


# -- CSRF ---------------------------------------------------------------------------------------------------

def test_a_post_without_the_token_is_refused_with_a_clear_page(console_app):
    client = signed_in(console_app, "admin")
    response = client.post("/console/users", data={"username": "eve", "role": "admin", "password": "x" * 20,
                                                    "password2": "x" * 20})
    assert response.status_code == 400
    assert "This form has expired" in response.text and "Nothing was saved" in response.text
    assert "Traceback" not in response.text
    db = console_app.extensions["dalil"].db()
    assert users.by_name(db, "eve") is None


def test_a_stale_token_from_before_signing_in_again_is_refused(console_app):
    client = signed_in(console_app, "admin")
    old = csrf(client)
    post(client, "/console/logout")
    login(client, "admin")
    assert csrf(client) != old
    response = client.post("/console/users", data={"username": "eve", "role": "admin", "password": "x" * 20,
                                                    "password2": "x" * 20, "csrf_token": old})
    assert response.status_code == 400 and "This form has expired" in response.text


def test_the_login_form_itself_needs_the_token(console_app):
    client = console_app.test_client()
    response = client.post("/console/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/console/dashboard").status_code == 302


def test_fetch_calls_need_the_token_header(console_app):
    client = signed_in(console_app, "staff")
    bare = client.post("/console/simulator/hop", json={"phone": "+21620000001", "text": ""},
                       headers={"Accept": "application/json"})
    assert bare.status_code == 400 and "error" in bare.get_json()
    ok = post_json(client, "/console/simulator/hop", {"phone": "+21620000001", "text": ""})
    assert ok.status_code == 200 and ok.get_json()["text"]


def test_a_cross_site_post_without_session_only_reaches_the_login_page(console_app):
    client = console_app.test_client()
    response = client.post("/console/subscribers/opt-out", data={"phone": "+21620000001"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/console/login")


# -- sessions -----------------------------------------------------------------------------------------------

def test_an_idle_session_expires_with_a_clear_message(console_app, monkeypatch):
    import time as time_module
    client = signed_in(console_app, "staff")
    real = time_module.time
    monkeypatch.setattr(auth.time, "time", lambda: real() + auth.IDLE_SECONDS + 5)
    response = client.get("/console/directory")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]
    page = client.get(response.headers["Location"])
    assert "Your session has expired" in page.text
    posted = client.post("/console/subscribers", data={"phone": "+21620000001", "csrf_token": "whatever"})
    assert posted.status_code == 303 and posted.headers["Location"].startswith("/console/login")


def test_a_role_change_or_new_password_ends_open_sessions(console_app):
    client = signed_in(console_app, "staff")
    assert client.get("/console/directory").status_code == 200
    db = console_app.extensions["dalil"].db()
    users.update(db, users.by_name(db, "staff")["id"], role="municipality")
    assert client.get("/console/directory").status_code == 302
    login(client, "staff")
    assert client.get("/console/directory").status_code == 403
    users.update(db, users.by_name(db, "staff")["id"], password="another long password")
    assert client.get("/console/reports").status_code == 302


def test_sign_out_ends_the_session(console_app):
    client = signed_in(console_app, "admin")
    assert post(client, "/console/logout").headers["Location"] == "/console/login?out=1"
    assert client.get("/console/dashboard").status_code == 302


def test_session_cookie_is_httponly_and_samesite(console_app):
    client = console_app.test_client()
    client.get("/console/login")
    response = client.post("/console/login", data={"username": "admin", "password": PASSWORD,
                                                   "csrf_token": csrf(client)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# -- roles ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, role", [("admin", "admin"), ("staff", "campaign"), ("muni", "municipality")])
def test_each_role_opens_exactly_its_areas_and_sees_only_their_links(console_app, name, role):
    client = signed_in(console_app, name)
    page = client.get("/console/dashboard").text
    for area, path in AREA_PAGES.items():
        response = client.get(path)
        if ui.allowed(role, area):
            assert response.status_code == 200, (area, response.text[:200])
            assert f'class="nav-{area}' in page
        else:
            assert response.status_code == 403, area
            assert "Your role does not open this page" in response.text
            assert f'class="nav-{area}' not in page


def test_the_municipality_is_refused_campaigns_subscribers_and_their_actions(console_app):
    client = signed_in(console_app, "muni")
    for path in ("/console/campaigns", "/console/subscribers", "/console/simulator", "/console/directory/export",
                 "/console/directory/import", "/console/flows/texts/menu.main.title"):
        assert client.get(path).status_code == 403, path
    assert post(client, "/console/subscribers", {"phone": "+21620000001"}).status_code == 403
    assert post(client, "/console/subscribers/opt-out", {"phone": "+21620000001"}).status_code == 403
    assert post_json(client, "/console/simulator/hop", {"phone": "+21620000001", "text": ""}).status_code == 403


def test_the_403_page_speaks_the_user_s_language(console_app):
    client = signed_in(console_app, "muni")
    post(client, "/console/language", {"lang": "ar"})
    response = client.get("/console/subscribers")
    assert response.status_code == 403
    assert 'dir="rtl"' in response.text and 'lang="ar"' in response.text
    assert i18n.t("ar", "console.error.403.message") in response.text
    post(client, "/console/language", {"lang": "fr"})
    assert i18n.t("fr", "console.error.403.title") in client.get("/console/users").text


def test_campaign_staff_cannot_manage_accounts(console_app):
    client = signed_in(console_app, "staff")
    response = post(client, "/console/users", {"username": "eve", "role": "admin", "password": "x" * 20,
                                               "password2": "x" * 20})
    assert response.status_code == 403
    assert users.by_name(console_app.extensions["dalil"].db(), "eve") is None


# -- accounts page ------------------------------------------------------------------------------------------

def test_admin_adds_an_account_and_errors_sit_next_to_their_fields(console_app):
    client = signed_in(console_app, "admin")
    bad = post(client, "/console/users", {"username": "x", "role": "campaign", "password": "short",
                                          "password2": "short", "language": "fr"})
    assert bad.status_code == 422
    assert re.search(r'id="err-username"[^>]*>2 to 64', bad.text)
    good = post(client, "/console/users", {"username": "nadia", "role": "campaign", "password": "a fine long one",
                                           "password2": "a fine long one", "language": "fr"})
    assert good.status_code == 303
    assert login(console_app.test_client(), "nadia", "a fine long one").status_code == 303


def test_the_last_admin_cannot_be_demoted(console_app):
    client = signed_in(console_app, "admin")
    db = console_app.extensions["dalil"].db()
    admin_id = users.by_name(db, "admin")["id"]
    response = post(client, f"/console/users/{admin_id}", {"role": "campaign", "active": "1"})
    assert response.status_code == 422 and "last active administrator" in response.text
    assert users.get(db, admin_id)["role"] == "admin"


# -- languages ------------------------------------------------------------------------------------------------

def test_language_switch_before_and_after_sign_in(console_app):
    client = console_app.test_client()
    client.get("/console/login")
    post(client, "/console/language", {"lang": "ar", "next": "/console/login"})
    page = client.get("/console/login").text
    assert 'dir="rtl"' in page and i18n.t("ar", "console.login.title") in page
    login(client, "admin")
    dashboard = client.get("/console/dashboard").text
    assert i18n.t("ar", "console.nav.dashboard") in dashboard and 'dir="rtl"' in dashboard
    post(client, "/console/language", {"lang": "fr"})
    assert 'dir="ltr"' in client.get("/console/dashboard").text
    db = console_app.extensions["dalil"].db()
    assert users.by_name(db, "admin")["language"] == "fr"  # remembered for the next sign-in


def test_every_console_text_exists_in_every_language():
    sources = [p.read_text(encoding="utf-8") for p in CONSOLE.rglob("*") if p.suffix in (".py", ".html")]
    keys = set()
    for text in sources:
        keys |= {k for k in re.findall(r"""["'](console\.[a-z0-9_]+\.[a-z0-9_.]*[a-z0-9_])["']""", text)}
    dynamic = {f"console.role.{r}" for r in users.ROLES} | {f"console.nav.{a}" for a in ui.NAV} \
        | {f"console.lang.{lang}" for lang in i18n.LANGUAGES} \
        | {f"console.state.{s}" for s in ("queued", "sending", "sent", "delivered", "failed", "expired")} \
        | {f"console.users.error.{c}" for c in ("username_format", "username_taken", "password_short",
                                               "password_long", "role_unknown", "language_unknown")} \
        | {f"console.flows.type.{t}" for t in ("menu", "list", "detail", "areas", "input", "end")} \
        | {f"console.directory.{x}.{k}" for x in ("tab", "new") for k in ("services", "organizations", "locations")}
    keys |= dynamic
    # a text that counts is KEY.one ... KEY.other (tests/test_catalogs.py checks each language has its forms)
    keys = {f"{key}.other" if i18n.has(f"{key}.other", "en") and not i18n.has(key, "en") else key for key in keys}
    assert len(keys) > 200
    missing = {key: i18n.missing_languages(key) for key in keys if i18n.missing_languages(key)}
    assert not missing
    for key in keys:  # the same {placeholders} in every language
        names = [set(re.findall(r"{(\w+)}", i18n.t(lang, key))) for lang in i18n.LANGUAGES]
        assert names[0] == names[1] == names[2], key


# -- error pages ----------------------------------------------------------------------------------------------

def test_an_unexpected_error_is_a_clear_page_without_a_trace(console_app, monkeypatch):
    from gateway.console import dashboard
    client = signed_in(console_app, "admin")
    monkeypatch.setattr(dashboard, "traffic", lambda *a: 1 / 0)
    response = client.get("/console/dashboard")
    assert response.status_code == 500
    assert "Something unexpected went wrong" in response.text
    assert "Traceback" not in response.text and "ZeroDivisionError" not in response.text


def test_a_busy_database_is_a_clear_503_page(console_app, monkeypatch):
    import sqlite3
    from gateway.console import dashboard

    def busy(*a):
        raise sqlite3.OperationalError("database is locked")
    client = signed_in(console_app, "admin")
    monkeypatch.setattr(dashboard, "traffic", busy)
    response = client.get("/console/dashboard")
    assert response.status_code == 503 and "The database is busy" in response.text


def test_unknown_records_and_wrong_methods_get_clear_pages(console_app):
    client = signed_in(console_app, "staff")
    response = client.get("/console/directory/services/no-such-service")
    assert response.status_code == 404 and "This record is not in the directory." in response.text
    wrong = client.get("/console/logout")
    assert wrong.status_code == 405 and "is not opened that way" in wrong.text


def test_console_pages_send_a_strict_content_security_policy(console_app):
    client = signed_in(console_app, "admin")
    response = client.get("/console/dashboard")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.text and " style=" not in response.text
    assert not re.search(r'(src|href)="(https?:)?//', response.text)  # nothing from elsewhere


def test_static_files_are_served_by_the_console(console_app):
    client = console_app.test_client()
    for name in ("console.css", "console.js", "segments.js", "favicon.svg"):
        response = client.get(f"/console/static/{name}")
        assert response.status_code == 200, name
        body = response.text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace is a name, not a fetch
        assert "http://" not in body and "https://" not in body
        response.close()


# -- the command ----------------------------------------------------------------------------------------------

def test_dalil_user_add_and_list(tmp_path, make_config):
    cfg = make_config()
    path = tmp_path / "dalil.toml"
    gw = cfg["gateway"]
    path.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n')
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(path), "init"]).exit_code == 0
    added = runner.invoke(main, ["--config", str(path), "user", "add", "first", "--role", "admin",
                                 "--password-stdin"], input="a long first password\n")
    assert added.exit_code == 0, added.output
    short = runner.invoke(main, ["--config", str(path), "user", "add", "second", "--role", "campaign",
                                 "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    twice = runner.invoke(main, ["--config", str(path), "user", "add", "first", "--role", "admin",
                                 "--password-stdin"], input="a long first password\n")
    assert twice.exit_code != 0 and "already exists" in twice.output
    prompted = runner.invoke(main, ["--config", str(path), "user", "add", "viewer", "--role", "municipality"],
                             input="viewer password 1\nviewer password 1\n")
    assert prompted.exit_code == 0, prompted.output
    listed = runner.invoke(main, ["--config", str(path), "user", "list"])
    assert "first" in listed.output and "admin" in listed.output and "viewer" in listed.output
    assert "password" not in listed.output
