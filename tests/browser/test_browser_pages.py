"""Every page of the staff console and of the CSO desk, in Arabic, French and English, in Chromium: axe-core finds
no serious or critical problem, and a screenshot of each goes to tests/screenshots/pages/<lang>/ for a reviewer.
The desk is also used as a caseworker would: the alerts first, numbers left to right in Arabic, every code by its
name, the inbox by state with counts, last sync and offline state, and the keyboard alone."""
# ruff: noqa: F811 (pytest fixtures imported from test_console_support)
from __future__ import annotations

import datetime

import pytest

from harness import LiveServer
from messages import i18n

pytestmark = pytest.mark.slow  # Chromium

LANGS = ("ar", "fr", "en")


def console_pages(app) -> dict[str, str]:
    """name -> path of every page of the console an administrator opens, with real records behind the ids."""
    from messages import campaigns
    ctx = app.extensions["dalil"]
    db = ctx.db()
    service = db.execute("SELECT id FROM services ORDER BY id LIMIT 1").fetchone()[0]
    organization = db.execute("SELECT id FROM organizations ORDER BY id LIMIT 1").fetchone()[0]
    location = db.execute("SELECT id FROM locations ORDER BY id LIMIT 1").fetchone()[0]
    campaign = campaigns.create(ctx, db, name="Salon de l'emploi", texts={"fr": "Salon de l'emploi lundi à 9h",
                                                                          "ar": "معرض التشغيل يوم الاثنين"},
                                fallback_language="fr", audience=None, schedule="now", send_at=None, cron=None,
                                rate_per_minute=None, expiry_hours=None)
    from polls import lifecycle
    from test_polls_e2e import definition
    poll, _ = lifecycle.create(ctx, db, definition(lifecycle.today(ctx)))
    from jobs import offers
    from test_jobs_e2e import offer_raw
    offer = offers.add(ctx, db, offer_raw(db, lifecycle.today(ctx)))
    return {
        "dashboard": "/console/dashboard", "directory": "/console/directory",
        "service-new": "/console/directory/services/new", "service-edit": f"/console/directory/services/{service}",
        "organization-new": "/console/directory/organizations/new",
        "organization-edit": f"/console/directory/organizations/{organization}",
        "location-new": "/console/directory/locations/new", "location-edit": f"/console/directory/locations/{location}",
        "directory-import": "/console/directory/import", "flows": "/console/flows",
        "flow-text": "/console/flows/texts/menu.main.title", "campaigns": "/console/campaigns",
        "campaign-new": "/console/campaigns/new", "campaign": f"/console/campaigns/{campaign}",
        "subscribers": "/console/subscribers", "simulator": "/console/simulator", "reports": "/console/reports",
        "users": "/console/users", "polls": "/console/polls", "poll-new": "/console/polls/new",
        "poll": f"/console/polls/{poll}", "poll-edit": f"/console/polls/{poll}/edit",
        "jobs": "/console/employment", "job-offers": "/console/employment/offers",
        "job-offer": f"/console/employment/offers/{offer}", "job-trades": "/console/employment/trades",
        "not-found": "/console/campaigns/9999",
    }


def test_axe_core_is_installed_from_the_npm_registry_and_finds_problems(axe_path, console):
    assert axe_path.stat().st_size > 100_000
    assert '"name": "axe-core"' in (axe_path.parent / "package.json").read_text()
    console.goto("/console/login")
    assert console.axe() == []
    console.page.evaluate("document.querySelector('#f-username').removeAttribute('id');"
                          "document.body.append(Object.assign(document.createElement('img'), {src: '/none.png'}))")
    found = {v["id"] for v in console.axe()}
    assert {"image-alt", "label"} <= found, found


def test_every_console_page_in_every_language_passes_axe(console, axe_check):
    check = axe_check
    pages = console_pages(console.live.app)
    problems: list[str] = []
    for lang in LANGS:
        console.goto("/console/login")
        if lang != "en" or console.page.get_attribute("html", "lang") != lang:
            console.language(lang)
        check(console, lang, "login", problems)
    console.login("admin")
    for lang in LANGS:
        console.language(lang)
        for name, path in pages.items():
            response = console.goto(path)
            assert response.status == (404 if name == "not-found" else 200), (lang, name, response.status)
            check(console, lang, name, problems)
    assert not problems, "\n".join(problems)


# -- the CSO desk ------------------------------------------------------------------------------------------------

PHONE = "+21620123456"


@pytest.fixture
def desk(live, tmp_path, open_page):
    """A desk with referrals in every state, synced from the live gateway, and its inbox in Chromium."""
    from referrals.desk import client, home as desk_home, store as desk_store
    from referrals.desk.web import create_desk_app
    from test_referral_support import add_cso, point_desk, refer
    app = live.app
    home = add_cso(app, tmp_path, "amal", needs=("legal", "health", "documents"), areas=("*",), capacity=50)
    made = [refer(app, phone=PHONE, need="legal", note="J'ai perdu mon contrat. مرحبا", channel="sms"),
            refer(app, phone="+21620123457", need="health", governorate="medenine", delegation=None,
                  nationality="", status="", channel="ussd"),
            refer(app, phone="+21620123458", need="documents"),
            refer(app, phone="+21620123459", need="legal"),
            refer(app, phone="+21620123460", need="health")]
    point_desk(home, live.url)
    d = desk_home.load(home)
    assert client.sync(d).received == 5
    client.act(d, made[2].referral_id, "accepted")
    client.act(d, made[3].referral_id, "declined", "Hors de notre zone")
    client.act(d, made[4].referral_id, "closed")
    with desk_store.connect(d.db_path) as conn:
        desk_store.alert(conn, "2026-11-20", "rewrite", day="2026-11-19", size=12, new_size=9)
        desk_store.alert(conn, "2026-11-21", "coordinator-signature", key="ab12cd")  # a kind this desk has no text for
    with LiveServer(create_desk_app(d)) as server:
        c = open_page(server.url, "fr-FR")
        c.desk, c.made = d, made
        yield c


def desk_language(c, lang: str) -> None:
    c.page.click(f'form.langs button[value="{lang}"]')
    c.page.wait_for_load_state()


def test_every_desk_page_in_every_language_passes_axe(desk, axe_check):
    check = axe_check
    problems: list[str] = []
    ids = {m.referral_id: m for m in desk.made}
    pages = {"inbox-new": "/?show=new", "inbox-accepted": "/?show=accepted", "inbox-closed": "/?show=closed",
             "referral-new": f"/r/{desk.made[0].referral_id}", "referral-skipped": f"/r/{desk.made[1].referral_id}",
             "referral-accepted": f"/r/{desk.made[2].referral_id}",
             "referral-declined": f"/r/{desk.made[3].referral_id}",
             "referral-closed": f"/r/{desk.made[4].referral_id}", "referral-missing": "/r/nothing-here"}
    assert len(ids) == 5
    desk.goto("/")
    for lang in LANGS:
        desk_language(desk, lang)
        for name, path in pages.items():
            response = desk.goto(path)
            assert response.status == (404 if name == "referral-missing" else 200), (lang, name)
            assert desk.page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
            check(desk, lang, f"desk-{name}", problems)
    assert not problems, "\n".join(problems)


def test_the_desk_shows_alerts_first_and_names_every_code(desk):
    page = desk.page
    desk.goto("/")
    desk_language(desk, "fr")
    alerts = page.locator("section.desk-alerts")
    assert alerts.get_attribute("role") == "alert"
    assert alerts.bounding_box()["y"] < page.locator("h1").bounding_box()["y"]  # above everything else
    assert page.title().startswith("⚠ 2 alertes")
    text = alerts.inner_text()
    assert "réécrit ou bifurqué" in text and "coordinator-signature" in text and "ab12cd" in text
    # the inbox by state, with counts
    assert page.locator("a.tab-new .count").inner_text() == "(2)"
    assert page.locator("a.tab-accepted .count").inner_text() == "(1)"
    assert page.locator("a.tab-closed .count").inner_text() == "(2)"
    today = datetime.date.today()
    assert i18n.when(today, "fr", "long") in page.locator("#referrals").inner_text()
    assert "Aide juridique" in page.locator("#referrals").inner_text()
    # a referral with no answers: every field named, feminine where French needs it, no raw code anywhere
    desk.goto(f"/r/{desk.made[1].referral_id}")
    facts = page.locator("dl.facts").inner_text()
    assert "Nationalité\nNon précisée" in facts and "Situation\nNon précisée" in facts
    assert "Menu USSD" in facts and "Français" in facts and "Médenine" in facts
    body = page.locator("main").inner_text()
    for code in ("ussd", "medenine", "health", " fr ", "Canal: "):
        assert code not in body, code
    assert "Aucune note" in body


def test_numbers_read_left_to_right_in_arabic(desk):
    page = desk.page
    desk.goto(f"/r/{desk.made[0].referral_id}")
    desk_language(desk, "ar")
    link = page.locator("a.phone-number")
    assert link.get_attribute("dir") == "ltr" and link.get_attribute("href") == f"tel:{PHONE}"
    assert link.inner_text() == "+216 20 123 456"
    # laid out left to right inside the right-to-left page: the "+" is the leftmost glyph
    glyph_x = """([sel, i]) => { const n = document.querySelector(sel).firstChild; const r = document.createRange();
        r.setStart(n, i); r.setEnd(n, i + 1); return r.getBoundingClientRect().x; }"""
    first, last = (page.evaluate(glyph_x, ["a.phone-number", i]) for i in (0, len("+216 20 123 456") - 1))
    assert first < last
    code = page.locator("h1 bdi.code")
    assert code.get_attribute("dir") == "ltr" and code.inner_text() == desk.made[0].code
    assert i18n.t("ar", "help.need.legal") in page.locator("h1").inner_text()


def test_last_sync_and_offline_state_are_shown(desk):
    from referrals.desk import store as desk_store
    page = desk.page
    desk.goto("/")
    desk_language(desk, "en")
    assert page.locator(".desk-last-sync").inner_text().startswith("Last sync: ")
    with desk_store.connect(desk.desk.db_path) as conn:
        desk_store.set_state(conn, "last_error", "offline")
    desk.goto("/")
    offline = page.locator(".desk-offline")
    assert offline.is_visible() and "working offline" in offline.inner_text()
    assert "change waiting to be sent" in page.locator(".desk-last-sync").inner_text() or \
        "changes waiting to be sent" in page.locator(".desk-last-sync").inner_text()


def test_a_caseworker_can_do_everything_with_the_keyboard(desk):
    page = desk.page
    desk.goto("/")
    desk_language(desk, "en")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(30):  # the skip link, the brand, the languages, sync, the tabs, then the first referral
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#referrals') !== null"):
            break
    else:
        pytest.fail("the first referral cannot be reached with Tab")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/r/" in page.url
    page.locator("#accept").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".page-head .badge").inner_text() == "Accepted"
