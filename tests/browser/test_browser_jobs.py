"""The jobs pages in Chromium: staff fill the offer form (a problem shown next to its field, then the draft with
its alerts and cost, then sent), and the municipality reads the counts in Arabic, right to left, small cells
hidden, with no offer or person in reach. Screenshots: jobs-*.png."""
from __future__ import annotations

from datetime import date, timedelta

from jobs import profiles, store

PEOPLE = [("construction", 2, "kairouan")] * 7 + [("construction", 3, "kairouan")] * 5 + \
    [("agriculture", 1, "medenine")] * 6 + [("care", 2, "tataouine")] * 2


def seed(app) -> None:
    ctx = app.extensions["dalil"]
    db = ctx.db()
    for n, (trade, level, gov) in enumerate(PEOPLE):
        profiles.save(ctx, db, f"browser-{n}", f"+2162077{n:04d}", language="ar", trade=trade, level=level,
                      governorate=gov, delegation="", travel="governorate", availability="any")


def test_staff_enter_an_offer_see_its_alerts_and_cost_and_send_it(console):
    seed(console.live.app)
    console.login("staff")
    page = console.page
    page.click("nav.nav a.nav-jobs")
    page.click("#jobs-offers")
    today = date.fromisoformat(profiles.today(console.live.app.extensions["dalil"]))
    page.select_option("#f-trade", "construction")
    page.select_option("#f-level", "2")
    page.select_option("#f-governorate", "kairouan")
    page.fill("#f-starts", (today + timedelta(days=3)).isoformat())
    page.fill("#f-ends", (today + timedelta(days=10)).isoformat())
    page.fill("#f-places", "4")
    page.fill("#f-contact", "71 000 444")
    page.fill("#f-text_ar", "بناء مدرسة")
    page.fill("#f-text_fr", "Chantier d'école")
    page.click("#offer-save")
    page.wait_for_load_state()
    assert page.locator("#err-text_en").inner_text() == "text (en): missing"  # next to its field
    page.fill("#f-text_en", "School building site")
    page.click("#offer-save")
    page.wait_for_load_state()
    assert page.locator("#alert-en").inner_text().startswith("Job offer:\nSchool building site\n")
    assert page.locator("#offer-cost").inner_text().startswith("12 alerts")  # 7 experienced and 5 certified
    console.shot("jobs-offer-en")
    page.click("#offer-send")
    page.wait_for_load_state()
    assert page.locator("#offer-done").inner_text() == "12 alerts queued."
    offer_id = int(page.url.split("/offers/")[1].split("?")[0])
    assert store.offer(console.live.app.extensions["dalil"].db(), offer_id)["state"] == "open"


def test_the_municipality_reads_the_counts_in_arabic_right_to_left_with_small_cells_hidden(console):
    seed(console.live.app)
    console.login("muni")
    console.language("ar")
    page = console.page
    page.click("nav.nav a.nav-jobs")
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.locator("#jobs-offers, #jobs-trades").count() == 0
    table = page.locator("#jobs-by-level")
    first_col = table.locator("thead th").nth(1).bounding_box()
    last_col = table.locator("thead th").last.bounding_box()
    assert first_col["x"] > last_col["x"]  # columns run right to left
    row = table.locator("tbody tr").first  # construction
    assert row.locator("th").inner_text() == "بناء"
    from jobs import report
    app = console.live.app
    built = report.build(app.extensions["dalil"], app.extensions["dalil"].db())
    expected = ["·" if v is None else str(v) for v in built["by_trade_level"][0]]
    assert [c.inner_text() for c in row.locator("td").all()] == expected and expected[-1] == "12"
    care = table.locator("tbody tr").nth(4)
    assert care.locator("th").inner_text() == "رعاية" and care.locator("td.hidden-cell").count() >= 1
    assert "+216" not in page.content() and "browser-" not in page.content()
    console.shot("jobs-counts-ar")
    for path in ("/console/employment/offers", "/console/employment/trades"):
        assert console.goto(path).status == 403
