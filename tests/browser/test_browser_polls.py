"""The poll pages in Chromium: a draft made from the form and opened, then results seen by the municipality in
Arabic (right to left, the charts mirrored, small cells hidden) and in English. Screenshots: poll-*.png."""
from __future__ import annotations

import pytest

from conftest import SCREENSHOTS
from messages import i18n
from polls import answers, lifecycle
from test_polls_e2e import definition

pytestmark = pytest.mark.slow  # Chromium

# (home governorate, language, answer to question 1): 9 in Kairouan, 3 in Medenine (hidden), 6 in Tataouine
RESPONDENTS = ([("kairouan", "ar", 1)] * 6 + [("kairouan", "fr", 2)] * 3 + [("medenine", "ar", 3)] * 3
               + [("tataouine", "en", 1)] * 2 + [("tataouine", "ar", 2)] * 4)


def answered_poll(app) -> int:
    ctx = app.extensions["dalil"]
    db = ctx.db()
    poll_id, _ = lifecycle.create(ctx, db, definition(lifecycle.today(ctx)))
    lifecycle.open_poll(ctx, db, poll_id)
    poll = lifecycle.load(db, poll_id)
    for n, (gov, lang, first) in enumerate(RESPONDENTS):
        assert answers.record(db, poll, f"+2162050{n:04d}", [first, n % 9, 1 + n % 4], gov, lang)
    return poll_id


def test_staff_make_a_poll_from_the_form_and_open_it(console):
    console.login("staff")
    page = console.page
    page.click("nav.nav a.nav-polls")
    page.click("#new-poll")
    assert "keyword = \"MAA\"" in page.input_value("#f-definition")  # the sample, to start from
    page.click("#poll-form button.primary")
    page.wait_for_load_state()
    assert page.locator("#poll-checks .problems").count() == 0
    console.shot("poll-draft-en")
    page.click("#poll-open")
    page.wait_for_load_state()
    assert page.locator("#poll-done").inner_text() == i18n.t("en", "console.polls.opened")
    assert page.locator("#poll-close").count() == 1 and page.locator("#poll-invite").count() == 1


def test_the_municipality_reads_results_in_arabic_with_mirrored_charts_and_hidden_cells(console):
    poll_id = answered_poll(console.live.app)
    console.login("muni")
    console.language("ar")
    page = console.page
    page.click("nav.nav a.nav-polls")
    page.click(f'a[href="/console/polls/{poll_id}"]')
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.locator("#poll-open, #poll-close, #poll-invite, #poll-edit").count() == 0  # results only
    assert page.locator("#poll-respondents strong").inner_text() == "18"
    chart = page.locator("#question-1 svg.shares")
    label, bar = chart.locator("text.axis").first.bounding_box(), chart.locator("rect.s0").bounding_box()
    assert label["x"] > bar["x"] + bar["width"] - 1  # labels on the right, bars growing leftwards
    assert chart.locator("text.axis").first.text_content() == "نعم"
    governorates = page.locator("#question-1 table.poll-governorate")
    assert governorates.locator("td.hidden-cell").count() >= 2  # Medenine's 3 answers, and what would give them away
    assert "·" in governorates.inner_text()
    rows = page.locator("#question-1 table.poll-options tbody tr")
    assert rows.nth(0).inner_text().split("\t") == ["نعم", "8", "44,4%"]  # 8 of 18, the Arabic locale's comma
    # "No" (3 answers) is hidden; "Sometimes" (7) too, or the total of 18 would give "No" back
    assert rows.nth(1).inner_text().split("\t")[1:] == ["·", "·"] and rows.nth(2).inner_text().split("\t")[1:] == [
        "·", "·"]
    console.shot("poll-results-ar")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#question-3 svg.shares").screenshot(path=str(SCREENSHOTS / "poll-chart-ar.png"))
    console.language("en")
    chart = page.locator("#question-1 svg.shares")
    label, bar = chart.locator("text.axis").first.bounding_box(), chart.locator("rect.s0").bounding_box()
    assert label["x"] + label["width"] <= bar["x"] + 1  # left to right: labels first
    console.shot("poll-results-en")
    download = page.request.get(console.base + f"/console/polls/{poll_id}.csv")
    assert download.ok and download.text().startswith("question,answer,label,dimension")
