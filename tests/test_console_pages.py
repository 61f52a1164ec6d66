"""The staff console's pages: directory forms and import, flow texts, subscribers, reports, simulator, dashboard."""
# ruff: noqa: F811 (pytest fixtures imported from test_console_support)
from __future__ import annotations

import json
import re
import time

import pytest

from flows import directory
from gateway import outbox
from messages import i18n, subscribers
from test_console_support import (  # noqa: F401 (fixtures)
    console_app, field_error, locale_copy, post, post_json, signed_in, wait_for_job,
)
from harness import PAYLOADS

SUBSCRIBER = "+21620555123"


def db_of(app):
    return app.extensions["dalil"].db()


def service_form(**overrides) -> dict:
    form = {"id": "svc-console-test", "organization_id": "org-aneti", "name_ar": "خدمة تجريبية",
            "name_fr": "Service d'essai", "name_en": "Test service", "short_ar": "خدمة تجريبية",
            "short_fr": "Service essai", "short_en": "Test service", "description_ar": "وصف",
            "description_fr": "Description", "description_en": "Description", "categories": ["jobs"],
            "locations": [], "status": "active", "phone": "+216 70 000 999"}
    form.update(overrides)
    return form


# -- directory ------------------------------------------------------------------------------------------------

def test_directory_lists_the_three_kinds_with_sample_marks(console_app):
    client = signed_in(console_app, "staff")
    page = client.get("/console/directory").text
    assert page.count('class="badge sample"') == directory.count_services(db_of(console_app))
    assert "Sample data" in page
    for tab in ("organizations", "locations"):
        assert client.get(f"/console/directory?tab={tab}").status_code == 200
    found = client.get("/console/directory?q=aneti").text
    assert found.count("<tr>") < page.count("<tr>")


def test_a_new_service_with_mistakes_says_what_is_wrong_next_to_each_field(console_app):
    orgs = [o["id"] for o in directory.list_all(db_of(console_app), "organizations")]
    client = signed_in(console_app, "staff")
    bad = post(client, "/console/directory/services/new", service_form(
        id="bad id!", organization_id="nope", name_en="", short_fr="A name far longer than twenty-four",
        categories=[], phone="call me", minimum_age="12", maximum_age="abc"))
    assert bad.status_code == 422
    assert "Nothing was saved" in bad.text
    assert "Invalid id" in field_error(bad.text, "id")
    assert field_error(bad.text, "organization_id") == "Choose a value from the list."
    assert field_error(bad.text, "name_en") == "This text is needed in all three languages (Arabic, French, English)."
    assert "at most 24" in field_error(bad.text, "short_fr")
    assert "at least one category" in field_error(bad.text, "categories")
    assert "phone number" in field_error(bad.text, "phone")
    assert field_error(bad.text, "maximum_age") == "Enter a whole number."
    assert 'value="Service d&#39;essai"' in bad.text  # what was typed is kept
    assert directory.service(db_of(console_app), "bad id!") is None
    assert orgs  # the demo pack has organisations


def test_create_edit_and_retire_a_service(console_app):
    db = db_of(console_app)
    org = directory.list_all(db, "organizations")[0]["id"]
    loc = directory.list_all(db, "locations")[0]
    client = signed_in(console_app, "staff")
    created = post(client, "/console/directory/services/new",
                   service_form(organization_id=org, locations=[loc["id"]], categories=["jobs", "training"]))
    assert created.status_code == 303, field_error(created.text, "form")
    svc = directory.service(db, "svc-console-test")
    assert svc["name"] == {"ar": "خدمة تجريبية", "fr": "Service d'essai", "en": "Test service"}
    assert svc["categories"] == ["jobs", "training"] and svc["phone"] == "+216 70 000 999"
    assert svc["governorate"] == loc["x-dalil"]["governorate"]
    taken = post(client, "/console/directory/services/new", service_form(organization_id=org))
    assert "already used" in field_error(taken.text, "id")

    edit = client.get("/console/directory/services/svc-console-test").text
    assert 'value="Service d&#39;essai"' in edit and f'value="{loc["id"]}" selected' in edit
    changed = post(client, "/console/directory/services/svc-console-test",
                   service_form(organization_id=org, name_fr="Service modifié", locations=[loc["id"]]))
    assert changed.status_code == 303
    assert directory.service(db, "svc-console-test")["name"]["fr"] == "Service modifié"

    retired = post(client, "/console/directory/services/svc-console-test/retire")
    assert retired.status_code == 303
    assert directory.service(db, "svc-console-test") is None  # no longer listed to callers
    assert any(s["id"] == "svc-console-test" and s["status"] == "inactive"
               for s in directory.list_all(db, "services"))


def test_saving_a_sample_service_unchanged_changes_nothing(console_app):
    db = db_of(console_app)
    original = directory.list_all(db, "services")[0]
    client = signed_in(console_app, "staff")
    page = client.get(f"/console/directory/services/{original['id']}").text
    form = {name: value for name, value in re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', page)
            if name not in ("csrf_token",)}
    textareas = dict(re.findall(r'name="([a-z_]+)"[^>]*>([^<]*)</textarea>', page))
    form.update({k: v.replace("&#39;", "'").replace("&amp;", "&") for k, v in textareas.items()})
    form = {k: v.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"') for k, v in form.items()}
    form["categories"] = [a["taxonomy_term_id"] for a in original["attributes"]]
    form["locations"] = re.findall(r'<option value="([^"]+)" selected', page)
    form["status"] = "active"
    form["organization_id"] = original["organization_id"]
    if original.get("x-dalil", {}).get("national"):
        form["national"] = "on"
    response = post(client, f"/console/directory/services/{original['id']}", form)
    assert response.status_code == 303, field_error(response.text, "form")
    after = next(s for s in directory.list_all(db, "services") if s["id"] == original["id"])
    assert after == original


def test_new_organisation_and_location_with_a_wrong_delegation(console_app):
    client = signed_in(console_app, "staff")
    org = post(client, "/console/directory/organizations/new", {
        "id": "org-console", "name_ar": "جمعية", "name_fr": "Association", "name_en": "Association",
        "description_fr": "Seulement en français"})
    assert org.status_code == 422
    assert field_error(org.text, "description_ar").startswith("This text is needed in all three languages")
    org = post(client, "/console/directory/organizations/new", {
        "id": "org-console", "name_ar": "جمعية", "name_fr": "Association", "name_en": "Association",
        "website": "https://example.org"})
    assert org.status_code == 303
    loc = post(client, "/console/directory/locations/new", {
        "id": "loc-console", "name_ar": "مكتب", "name_fr": "Bureau", "name_en": "Office",
        "governorate": "kairouan", "delegation": "remada"})
    assert loc.status_code == 422
    assert field_error(loc.text, "delegation") == "This delegation is not in the chosen governorate."
    loc = post(client, "/console/directory/locations/new", {
        "id": "loc-console", "name_ar": "مكتب", "name_fr": "Bureau", "name_en": "Office",
        "governorate": "tataouine", "delegation": "remada", "latitude": "32,9", "longitude": "10.4"})
    assert loc.status_code == 303
    stored = next(r for r in directory.list_all(db_of(console_app), "locations") if r["id"] == "loc-console")
    assert stored["x-dalil"]["delegation"] == "remada" and stored["latitude"] == 32.9


def test_import_a_directory_file_with_progress(console_app):
    client = signed_in(console_app, "staff")
    raw = (PAYLOADS / "hsds_nested.json").read_bytes()
    from io import BytesIO
    response = post(client, "/console/directory/import", {"file": (BytesIO(raw), "hsds_nested.json")},
                    content_type="multipart/form-data")
    assert response.status_code == 303 and "/console/jobs/" in response.headers["Location"]
    info = wait_for_job(client, response.headers["Location"])
    assert info["state"] == "done" and info["percent"] == 100
    assert info["result"]["services"] >= 1
    page = client.get(response.headers["Location"]).text
    assert "Done." in page and "Services" in page
    assert directory.service(db_of(console_app), "svc-remada-jobs") is not None


@pytest.mark.parametrize("payload, message, detail", [
    (b"{ not json", "The file is not valid JSON. Nothing was imported.", "line 1"),
    (b"\xff\xfe\x00garbage", "The file is not UTF-8 text. Nothing was imported.", None),
    ((PAYLOADS / "hsds_bad_taxonomy.json").read_bytes(), "The file was refused and nothing was imported.",
     "taxonomy"),
    (b'{"hello": 1}', "The file was refused and nothing was imported.", "document"),
])
def test_a_malformed_import_file_gets_a_clear_page_and_imports_nothing(console_app, payload, message, detail):
    from io import BytesIO
    db = db_of(console_app)
    before = directory.export_hsds(db)
    client = signed_in(console_app, "staff")
    response = post(client, "/console/directory/import", {"file": (BytesIO(payload), "bad.json")},
                    content_type="multipart/form-data")
    info = wait_for_job(client, response.headers["Location"])
    assert info["state"] == "failed"
    page = client.get(response.headers["Location"])
    assert page.status_code == 200 and message in page.text and "Traceback" not in page.text
    if detail:
        assert detail in info["detail"]
    assert directory.export_hsds(db) == before


def test_import_form_errors_and_size_limits(console_app):
    from io import BytesIO
    client = signed_in(console_app, "staff")
    none = post(client, "/console/directory/import", {}, content_type="multipart/form-data")
    assert none.status_code == 422 and field_error(none.text, "file") == "Choose a file."
    empty = post(client, "/console/directory/import", {"file": (BytesIO(b"  "), "e.json")},
                 content_type="multipart/form-data")
    assert field_error(empty.text, "file") == "The file is empty."
    # larger than the app's 256 KiB webhook limit, but a fine directory file
    big = json.dumps({"services": [], "description": "x" * 400_000}).encode()
    ok = post(client, "/console/directory/import", {"file": (BytesIO(big), "big.json")},
              content_type="multipart/form-data")
    assert ok.status_code == 303
    wait_for_job(client, ok.headers["Location"])
    huge = post(client, "/console/directory/import", {"file": (BytesIO(b" " * (9 * 1024 * 1024)), "huge.json")},
                content_type="multipart/form-data")
    assert huge.status_code == 413 and "File too large" in huge.text


def test_a_job_is_only_for_who_started_it(console_app):
    from io import BytesIO
    staff = signed_in(console_app, "staff")
    response = post(staff, "/console/directory/import", {"file": (BytesIO(b"[]"), "x.json")},
                    content_type="multipart/form-data")
    wait_for_job(staff, response.headers["Location"])
    other = signed_in(console_app, "muni")
    assert other.get(response.headers["Location"]).status_code == 403
    assert signed_in(console_app, "admin").get(response.headers["Location"]).status_code == 200
    assert staff.get("/console/jobs/unknown-job").status_code == 404


def test_export_is_the_hsds_document(console_app):
    client = signed_in(console_app, "staff")
    response = client.get("/console/directory/export")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.get_json() == directory.export_hsds(db_of(console_app))


# -- flows ----------------------------------------------------------------------------------------------------

def test_flows_page_shows_every_screen_and_its_check(console_app):
    from flows.check import check
    flows, problems = check()
    client = signed_in(console_app, "staff")
    page = client.get("/console/flows").text
    for screen_id in flows.screens:
        assert f'id="screen-{screen_id}"' in page
    if not problems:
        assert "screens are valid" in page


def test_editing_a_flow_text_writes_the_catalog_and_callers_see_it(console_app, locale_copy):
    client = signed_in(console_app, "staff")
    page = client.get("/console/flows/texts/menu.main.work").text
    assert "data-budget" in page and 'data-before="' in page
    values = {f"text_{lang}": i18n.t(lang, "menu.main.work") for lang in i18n.LANGUAGES}
    values["text_en"] = "Jobs & training now"
    response = post(client, "/console/flows/texts/menu.main.work", values)
    assert response.status_code == 303, response.text
    assert i18n.t("en", "menu.main.work") == "Jobs & training now"
    po = (locale_copy / "en" / "LC_MESSAGES" / "flows.po").read_text(encoding="utf-8")
    assert 'msgstr "Jobs & training now"' in po
    # only that message changed in the file
    from flows.check import check
    assert check()[1] == [] or all("menu.main.work" not in p for p in check()[1])


def test_flow_text_edits_that_would_break_a_screen_are_refused_and_nothing_is_written(console_app, locale_copy):
    client = signed_in(console_app, "staff")
    before = {p: p.read_bytes() for p in locale_copy.rglob("*.po")}
    key = "help.consent.title"  # uses {org}
    values = {f"text_{lang}": i18n.t(lang, key) for lang in i18n.LANGUAGES}
    lost = post(client, f"/console/flows/texts/{key}", {**values, "text_fr": "Sans la variable"})
    assert lost.status_code == 422 and "{org}" in field_error(lost.text, "text_fr")
    broken = post(client, f"/console/flows/texts/{key}", {**values, "text_en": "Broken {org"})
    assert "braces" in field_error(broken.text, "text_en")
    empty = post(client, f"/console/flows/texts/{key}", {**values, "text_ar": " "})
    assert field_error(empty.text, "text_ar") == "This field is required."
    end_key = "detail.sent"  # an end screen must fit one USSD page
    long_values = {f"text_{lang}": i18n.t(lang, end_key) for lang in i18n.LANGUAGES}
    long_values["text_ar"] = "نص طويل جدا " * 12
    too_long = post(client, f"/console/flows/texts/{end_key}", long_values)
    assert too_long.status_code == 422 and "would break the flows" in too_long.text
    assert {p: p.read_bytes() for p in locale_copy.rglob("*.po")} == before
    assert i18n.t("ar", end_key) != long_values["text_ar"]


def test_unknown_flow_text_is_a_clear_404(console_app):
    client = signed_in(console_app, "staff")
    response = client.get("/console/flows/texts/console.login.title")
    assert response.status_code == 404 and "No screen uses this text." in response.text


# -- subscribers ----------------------------------------------------------------------------------------------

def test_find_a_subscriber_read_the_consent_history_and_opt_them_out(console_app, tmp_path):
    db = db_of(console_app)
    subscribers.subscribe(db, SUBSCRIBER, language="ar", governorate="tataouine", interests="jobs",
                          channel="ussd", via="menu")
    client = signed_in(console_app, "staff")
    assert SUBSCRIBER not in client.get("/console/subscribers").text
    found = post(client, "/console/subscribers", {"phone": "20 555 123"})
    assert found.status_code == 200
    assert SUBSCRIBER in found.text and "Opted in" in found.text and "Tataouine" in found.text
    assert found.headers["Cache-Control"] == "no-store"
    out = post(client, "/console/subscribers/opt-out", {"phone": SUBSCRIBER})
    assert "Opted out. This number will receive no more campaigns." in out.text
    assert subscribers.get(db, SUBSCRIBER)["status"] == "opted_out"
    history = db.execute("SELECT action, channel, via FROM consent_log ORDER BY id").fetchall()
    assert history[-1] == ("opt_out", "console", "staff request")
    log = (tmp_path / "dalil.log").read_text(encoding="utf-8")
    assert "555123" not in log.replace(" ", "") and "opted out subscriber" in log


def test_subscriber_search_says_what_is_wrong(console_app):
    client = signed_in(console_app, "staff")
    bad = post(client, "/console/subscribers", {"phone": "hello"})
    assert bad.status_code == 422 and "Not a valid phone number" in field_error(bad.text, "phone")
    none = post(client, "/console/subscribers", {"phone": "+21620999888"})
    assert "is not subscribed" in none.text
    opt_unknown = post(client, "/console/subscribers/opt-out", {"phone": "+21620999888"})
    assert opt_unknown.status_code == 422


# -- reports and the municipality ------------------------------------------------------------------------------

@pytest.fixture
def with_referrals(console_app, tmp_path, monkeypatch):
    from referrals import notices
    from referrals.protocol import days
    from test_referral_support import add_cso, refer
    add_cso(console_app, tmp_path, needs=("legal", "health"), areas=("kairouan", "tataouine"))
    monkeypatch.setattr(days, "today", lambda: "2026-10-05")  # a month that is over: published
    for _ in range(6):
        refer(console_app, need="legal", governorate="kairouan")
    for _ in range(2):
        refer(console_app, need="health", governorate="kairouan")
    refer(console_app, need="legal", governorate="tataouine", delegation=None)
    notices.flush(console_app.extensions["dalil"], db_of(console_app))
    monkeypatch.setattr(days, "today", lambda: "2026-11-20")
    return console_app


def test_reports_show_the_suppressed_tables_charts_and_csv(with_referrals):
    from referrals import report
    data = report.build(db_of(with_referrals), 5)
    client = signed_in(with_referrals, "muni")
    page = client.get("/console/reports").text
    month = data["months"][0]
    assert f'id="month-{month["month"]}"' in page and "<svg" in page
    assert 'class="num hidden-cell">·' in page  # the 2, the 1 and every 0
    assert month["cells"]["legal"]["kairouan"] in (5, 10)  # 6, randomly rounded to 5
    csv_text = client.get("/console/reports.csv").text
    assert csv_text.splitlines()[0] == "month,need,governorate,referrals,suppressed"
    rows = [line.split(",") for line in csv_text.splitlines()[1:]]
    health_kairouan = next(r for r in rows if r[1] == "health" and r[2] == "kairouan")
    assert health_kairouan[3] == "" and health_kairouan[4] == "1"
    for r in rows:  # nothing small is ever shown
        assert r[3] == "" or int(r[3]) == 0 or int(r[3]) >= 5


def test_municipality_pages_never_show_a_phone_number(with_referrals):
    db = db_of(with_referrals)
    subscribers.subscribe(db, SUBSCRIBER, language="fr", channel="sms", via="keyword")
    outbox.enqueue(db, SUBSCRIBER, "hello", kind="notice")
    client = signed_in(with_referrals, "muni")
    for path in ("/console/dashboard", "/console/reports", "/console/reports.csv"):
        text = client.get(path).text
        assert not re.search(r"\+?216\s?\d{2}\s?\d{3}\s?\d{3}", text), path
        assert "555123" not in text and "20123456" not in text
        assert "amal" not in text.lower()  # no CSO either


# -- simulator and dashboard -----------------------------------------------------------------------------------

def test_the_simulator_walks_the_real_menu(console_app):
    client = signed_in(console_app, "staff")
    first = post_json(client, "/console/simulator/hop", {"phone": "+21620000001", "text": ""}).get_json()
    assert "1." in first["text"] and not first["end"] and first["session"]
    session = first["session"]
    second = post_json(client, "/console/simulator/hop",
                       {"phone": "+21620000001", "text": "3", "session": session}).get_json()  # English
    assert second["session"] == session and second["text"] != first["text"]
    assert second["units"] <= second["limit"]
    bad = post_json(client, "/console/simulator/hop", {"phone": "not a number", "text": ""})
    assert bad.status_code == 422 and "phone number" in bad.get_json()["error"]
    assert post_json(client, "/console/simulator/hangup", {"session": session}).status_code == 200


def test_the_dashboard_counts_traffic_by_hour_and_day(console_app):
    db = db_of(console_app)
    now = time.time()
    for _ in range(5):
        outbox.enqueue(db, "+21620000002", "hi", kind="notice")
    # three went out; two are still queued, and a queued message has not gone out (it may never)
    db.execute("UPDATE outbox SET state = 'sent', sent_at = ? WHERE id IN (SELECT id FROM outbox LIMIT 3)", [now])
    db.execute("INSERT INTO inbound_seen (dedupe_key, seen_at) VALUES ('k1', ?), ('k2', ?)", [now, now - 5 * 86400])
    from zoneinfo import ZoneInfo
    from gateway.console.dashboard import traffic
    data = traffic(db, now, ZoneInfo("Africa/Tunis"))
    assert sum(data["hour_out"]) == 3 and data["hour_out"][-1] == 3
    assert sum(data["hour_in"]) == 1 and sum(data["day_in"]) == 2 and sum(data["day_out"]) == 3
    client = signed_in(console_app, "admin")
    page = client.get("/console/dashboard").text
    assert page.count("<svg") == 3 and "Outbox by state" in page


def test_a_service_summary_that_does_not_fit_one_ussd_screen_is_refused_next_to_its_field(console_app):
    db = db_of(console_app)
    org = directory.list_all(db, "organizations")[0]["id"]
    client = signed_in(console_app, "staff")
    summary = {"summary_ar": "تسجيل طالبي الشغل. " * 5, "summary_fr": "Inscription.", "summary_en": "Register."}
    refused = post(client, "/console/directory/services/new", service_form(organization_id=org, **summary))
    assert refused.status_code == 422
    assert "does not fit one USSD screen" in field_error(refused.text, "summary_ar")
    assert directory.service(db, "svc-console-test") is None  # nothing saved
    fits = {"summary_ar": "تسجيل طالبي الشغل.", "summary_fr": "Inscription.", "summary_en": "Register."}
    saved = post(client, "/console/directory/services/new", service_form(organization_id=org, **fits))
    assert saved.status_code == 303
    assert directory.service(db, "svc-console-test")["ussd_summary"] == {
        "ar": "تسجيل طالبي الشغل.", "fr": "Inscription.", "en": "Register."}
    edit = client.get("/console/directory/services/svc-console-test").text
    assert "Inscription." in edit  # the form shows the summary it has
