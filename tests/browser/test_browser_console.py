"""The staff console in Chromium: each role, Arabic right to left, the simulator, an import, live counters."""
# ruff: noqa: F811 (pytest fixtures imported from test_console_support)
from __future__ import annotations

import random

import pytest

from messages import i18n
from messages.segments import count, screen_length
from test_console_support import locale_copy  # noqa: F401 (fixture)
from harness import PAYLOADS

pytestmark = pytest.mark.slow  # Chromium


def text(console, selector: str) -> str:
    return console.page.inner_text(selector)


def plain(locator) -> str:
    """A live meter's text without the bidi isolates around its numbers."""
    return locator.inner_text().replace("\u2068", "").replace("\u2069", "")


# -- each role --------------------------------------------------------------------------------------------------

def test_admin_sees_every_area_and_the_dashboard_charts(console):
    console.login("admin")
    page = console.page
    assert page.url.endswith("/console/dashboard")
    for area in ("dashboard", "directory", "flows", "campaigns", "subscribers", "simulator", "reports", "polls",
                 "jobs", "users"):
        assert page.locator(f"nav.nav a.nav-{area}").count() == 1, area
    assert page.locator("svg.chart").count() == 3
    console.shot("dashboard-en")
    console.goto("/console/users")
    assert page.locator("#users-table tbody tr").count() == 3
    console.shot("users-en")


def test_campaign_staff_sees_its_areas_and_is_refused_reports_and_accounts(console):
    console.login("staff")
    page = console.page
    assert page.locator("nav.nav a").count() == 8  # its six areas, the polls and the jobs
    assert page.locator("nav.nav a.nav-reports").count() == 0
    response = console.goto("/console/reports")
    assert response.status == 403
    assert "Your role does not open this page" in text(console, "main")
    console.goto("/console/directory")
    assert page.locator("#directory-table tbody tr").count() >= 20
    console.shot("directory-en")


def test_municipality_viewer_is_refused_campaigns_and_subscribers(console):
    console.login("muni")
    page = console.page
    assert page.url.endswith("/console/reports")
    assert [a.get_attribute("class").split()[0] for a in page.locator("nav.nav a").all()] == \
        ["nav-dashboard", "nav-reports", "nav-polls", "nav-jobs"]
    console.shot("reports-municipality-en")
    for path in ("/console/campaigns", "/console/subscribers"):
        response = console.goto(path)
        assert response.status == 403, path
        assert page.locator("h1").inner_text() == "Not allowed"
    console.shot("forbidden-municipality-en")
    console.language("ar")
    response = console.goto("/console/subscribers")
    assert response.status == 403
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.locator("h1").inner_text() == i18n.t("ar", "console.error.403.title")
    console.shot("forbidden-municipality-ar")
    console.goto("/console/dashboard")
    body = text(console, "body")
    assert "+216" not in body
    console.shot("dashboard-municipality-ar")


def test_reports_with_suppressed_cells_in_arabic(console, tmp_path, monkeypatch):
    from referrals import notices
    from referrals.protocol import days
    from test_referral_support import add_cso, refer
    app = console.live.app
    add_cso(app, tmp_path, needs=("legal", "health"), areas=("kairouan", "medenine"))
    monkeypatch.setattr(days, "today", lambda: "2026-10-05")  # a closed month: published
    for _ in range(7):
        refer(app, need="legal", governorate="kairouan")
    for _ in range(3):
        refer(app, need="health", governorate="medenine", delegation=None)
    notices.flush(app.extensions["dalil"], app.extensions["dalil"].db())
    monkeypatch.setattr(days, "today", lambda: "2026-11-20")
    console.login("muni")
    console.language("ar")
    page = console.page
    assert page.locator("table.report td.hidden-cell").count() >= 2
    assert page.locator("table.report").first.inner_text().count("·") >= 2
    console.shot("reports-municipality-ar")


def test_arabic_pages_are_right_to_left(console):
    console.login("admin")
    console.language("ar")
    page = console.page
    assert page.get_attribute("html", "dir") == "rtl" and page.get_attribute("html", "lang") == "ar"
    assert page.locator("nav.nav a.nav-dashboard").inner_text() == i18n.t("ar", "console.nav.dashboard")
    # the navigation starts at the right edge
    brand = page.locator("a.brand").bounding_box()
    assert brand["x"] > 640
    console.shot("dashboard-ar")
    console.goto("/console/directory")
    console.shot("directory-ar")
    console.goto("/console/directory/services/new")
    console.shot("service-new-ar")
    console.language("fr")
    assert page.get_attribute("html", "dir") == "ltr"
    console.shot("service-new-fr")


def test_a_form_with_mistakes_shows_them_next_to_the_fields(console):
    console.login("staff")
    console.goto("/console/directory/services/new")
    page = console.page
    page.fill("#f-id", "bad id")
    page.fill("#f-short_fr", "Un nom court beaucoup trop long")
    counter = page.locator("#f-short_fr + .counter")
    assert counter.inner_text() == "24 / 24"  # the browser stops at the limit...
    page.evaluate("document.querySelector('#f-short_fr').removeAttribute('maxlength')")
    page.fill("#f-short_fr", "Un nom court beaucoup trop long")  # ...the server checks anyway
    assert "over" in counter.get_attribute("class")
    page.click("form.record-form button.primary")
    page.wait_for_load_state()
    assert page.locator(".field-error").count() >= 5
    assert "Invalid id" in page.locator("#err-id").inner_text()
    assert page.locator("#f-short_fr").get_attribute("aria-invalid") == "true"
    console.shot("service-errors-en")


# -- the simulator ----------------------------------------------------------------------------------------------

def test_simulator_walks_the_menu_in_arabic(console):
    console.login("staff")
    console.goto("/console/simulator")
    page = console.page
    screen = page.locator("#sim-screen")

    def answer(value: str, expect: str):
        page.fill("#sim-answer", value)
        page.click("#sim-send")
        page.wait_for_function("([el, want]) => el.textContent.includes(want)", arg=[screen.element_handle(), expect])

    page.click("#sim-dial")
    page.wait_for_function("el => el.textContent.includes('العربية')", arg=screen.element_handle())
    assert "English" in screen.inner_text()
    answer("1", i18n.t("ar", "area.home.title"))           # Arabic -> where do you live?
    answer("3", i18n.t("ar", "menu.main.work"))            # Tataouine -> the main menu
    answer("1", i18n.t("ar", "list.work.title") + "\n1. ")  # jobs and training
    page.click('.key[data-key="1"]')                       # the keypad types too
    page.click("#sim-send")
    page.wait_for_function("el => el.textContent.includes('هاتف')", arg=screen.element_handle())
    shown = screen.inner_text()
    encoding, units = screen_length(shown)
    assert encoding == "UCS-2" and units <= 80
    assert page.locator("#sim-meter").inner_text().endswith("/ 80 UCS-2")
    assert page.locator("#sim-typed").inner_text() == "1*3*1*1"
    # the office's phone number is isolated left to right inside the Arabic screen: it reads 70 000 006
    phone = page.locator("#sim-screen bdi[dir=ltr]", has_text="000")
    assert phone.inner_text().replace("\u00a0", " ") == "70 000 006"
    box = [phone.evaluate(f"el => {{ const r = document.createRange(); r.setStart(el.firstChild, {i}); "
                          f"r.setEnd(el.firstChild, {i + 1}); return r.getBoundingClientRect().x; }}")
           for i in (0, 3, 7)]
    assert box == sorted(box)  # "70" left of "000" left of "006", as on the office's sign
    console.shot("simulator-ar")
    page.click("#sim-hangup")
    assert page.locator("#sim-dial").is_enabled()


def test_simulator_sms_mode_answers_keywords_as_a_real_channel(console):
    console.login("staff")
    console.goto("/console/simulator")
    page = console.page
    screen = page.locator("#sim-screen")
    page.check('input[name="sim-mode"][value="sms"]')
    page.fill("#sim-phone", "+21620000077")
    page.click("#sim-dial")
    page.fill("#sim-answer", "STOP")
    page.click("#sim-send")
    stopped = i18n.t("ar", "sub.stop.done", sender="Dalil")
    page.wait_for_function("([el, want]) => el.textContent.includes(want)", arg=[screen.element_handle(), stopped])
    assert page.locator("#sim-sms li").last.inner_text() == stopped
    page.fill("#sim-answer", "MENU")
    page.click("#sim-send")
    page.wait_for_function("el => el.textContent.includes('English')", arg=screen.element_handle())


# -- import -----------------------------------------------------------------------------------------------------

def test_import_a_directory_file_and_watch_its_progress(console):
    console.login("staff")
    console.goto("/console/directory/import")
    page = console.page
    page.set_input_files("#f-file", str(PAYLOADS / "hsds_nested.json"))
    console.shot("import-en")
    page.click("#import-form button.primary")
    page.wait_for_selector("#job-done")
    assert page.locator("#job-bar").get_attribute("value") == "100"
    assert "Services" in text(console, "#job")
    console.shot("import-done-en")
    page.click("text=Continue")
    page.fill("#q", "Remada")
    page.click("form.search button")
    page.wait_for_load_state()
    # the imported service, once, by its name (the listing shows no ids)
    assert page.locator("#directory-table tbody tr").count() == 1
    assert page.locator("#directory-table").inner_text().count("Remada employment office") == 1


def test_a_malformed_import_file_gets_a_clear_page(console, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"services": [ {"id": "x" ', encoding="utf-8")
    console.login("staff")
    console.goto("/console/directory/import")
    page = console.page
    page.set_input_files("#f-file", str(bad))
    page.click("#import-form button.primary")
    page.wait_for_selector("#job-failed")
    assert "not valid JSON" in page.locator("#job-failed").inner_text()
    assert "line 1" in text(console, ".detail")
    console.shot("import-failed-en")


# -- live counters ----------------------------------------------------------------------------------------------

def test_flow_text_editor_shows_the_screen_budget_live(console, locale_copy):
    console.login("staff")
    console.goto("/console/flows")
    console.shot("flows-en")
    console.goto("/console/flows/texts/menu.main.title")
    page = console.page
    meter_fr = page.locator("#meter-fr")
    page.fill("#f-text_fr", "Dalil")
    assert "GSM-7" in plain(meter_fr) and "/182" in plain(meter_fr)
    page.fill("#f-text_fr", "Dalil, la fête")  # one ê turns the page into UCS-2 (é does not)
    assert "UCS-2" in plain(meter_fr) and "/80" in plain(meter_fr)
    page.fill("#f-text_ar", "دليل " * 30)
    meter_ar = page.locator("#meter-ar")
    assert "over" in meter_ar.get_attribute("class") or "pages" in meter_ar.get_attribute("class")
    console.shot("flow-text-ar-budget")
    page.fill("#f-text_ar", "دليل")
    page.fill("#f-text_fr", "Dalil")
    page.click("#flow-text-form button.primary")
    page.wait_for_selector(".alert.ok")
    assert i18n.t("fr", "menu.main.title") == "Dalil"


def test_the_javascript_segment_counter_matches_the_python_one(console):
    console.login("staff")
    console.goto("/console/simulator")
    rng = random.Random(7)
    alphabet = "abcXYZ 019@£€[]{}^~|\\\nçéèàâêœ€دليلمرحبا😀"
    samples = ["", "a" * 160, "a" * 161, "€" * 80, "€" * 81, "ê", "د" * 70, "د" * 71, "😀" * 35, "😀" * 36,
               "a" * 152 + "€", "د" * 66 + "😀"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 400))) for _ in range(150)]
    got = console.page.evaluate("texts => texts.map(t => DalilSegments.count(t))", samples)
    for sample, js in zip(samples, got):
        assert js == count(sample).as_dict(), sample
    screens = console.page.evaluate("texts => texts.map(t => DalilSegments.screenLength(t))", samples)
    for sample, js in zip(samples, screens):
        assert (js["encoding"], js["units"]) == screen_length(sample), sample


@pytest.mark.parametrize("name", ["subscribers"])
def test_subscriber_lookup_in_the_browser(console, name):
    from messages import subscribers
    subscribers.subscribe(console.live.app.extensions["dalil"].db(), "+21620555123", language="ar",
                          governorate="medenine", interests=["jobs", "training"], channel="ussd", via="menu")
    console.login("staff")
    console.goto("/console/subscribers")
    page = console.page
    page.fill("#f-phone", "20555123")
    page.click("#subscriber-search button")
    page.wait_for_selector("#consent-history")
    assert "+21620555123" in text(console, "#subscriber-result")
    console.shot("subscriber-en")
    page.once("dialog", lambda d: d.accept())
    page.click("#subscriber-result button.danger")
    page.wait_for_selector("#subscriber-result .alert.ok")
    assert page.locator("#consent-history tbody tr").count() == 2


# -- campaigns --------------------------------------------------------------------------------------------------

ARABIC_BLAST = ("فرص شغل جديدة في مكتب التشغيل بتطاوين. اتصل بالرقم المجاني أو زر المكتب "
                "من الاثنين إلى الخميس صباحا.")


def test_compose_and_preview_an_arabic_campaign_with_ucs2_segments(console):
    from messages import subscribers
    db = console.live.app.extensions["dalil"].db()
    for n in range(3):
        subscribers.subscribe(db, f"+2162010000{n}", language="ar", governorate="tataouine", interests="jobs",
                              channel="ussd", via="menu")
    subscribers.subscribe(db, "+21620100010", language="fr", governorate="kairouan", channel="sms", via="keyword")
    console.login("staff")
    console.language("ar")
    console.goto("/console/campaigns")
    page = console.page
    page.click("#new-campaign")
    page.fill("#f-name", "فرص شغل تطاوين")
    page.fill("#f-text_ar", ARABIC_BLAST)
    meter = page.locator("#seg-ar")
    assert meter.get_attribute("data-encoding") == "UCS-2"
    assert meter.get_attribute("data-segments") == "2"  # over 70 UCS-2 characters: two segments of 67
    assert "UCS-2" in meter.inner_text()
    page.fill("#f-text_fr", "Offres d'emploi à Tataouine, ça commence lundi.")
    assert "ç" in page.locator("#seg-fr").inner_text()  # the character that forces UCS-2 is named
    page.fill("#f-text_fr", "")
    page.select_option("#f-governorates", ["tataouine"])
    page.wait_for_function("el => el.textContent.includes('3')", arg=page.locator("#audience-live").element_handle())
    console.shot("campaign-compose-ar")
    page.click("#preview-button")
    page.wait_for_selector("#campaign-preview")
    assert page.locator("#preview-ar .encoding").inner_text() == "UCS-2"
    assert page.locator("#preview-ar .segments").inner_text() == "2"
    assert page.locator("#preview-recipients").inner_text() == "3"
    assert page.locator("#preview-segments").inner_text() == "6"
    assert "0.21" in page.locator("#preview-cost").inner_text() or "0,21" in page.locator("#preview-cost").inner_text()
    console.shot("campaign-preview-ar")
    page.once("dialog", lambda d: d.accept())
    page.click("#send-button")
    page.wait_for_selector("#job-done")
    console.shot("campaign-queued-ar")
    page.click("p.actions a.button")
    page.wait_for_selector("#campaign-results")
    assert page.locator('#results-table td[data-key="queued"]').inner_text() == "3"
    page.click("#pause-button")
    page.wait_for_selector("#resume-button")
    assert page.locator("#campaign-status").inner_text() == i18n.t("ar", "console.campaigns.status.paused")
    console.shot("campaign-paused-ar")
