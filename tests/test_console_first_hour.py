"""What campaign staff stumbled on in their first hour with the console: times, plurals, raw codes and ids, the
flows page, a campaign waiting for quiet hours, a cost with no price, a test send with no numbers, the dashboard's
counts and its channel hint."""
# ruff: noqa: F811 (pytest fixtures imported from test_console_support)
from __future__ import annotations

import datetime
import re
import time
from zoneinfo import ZoneInfo

import pytest

from flows import directory
from gateway import create_app, outbox
from gateway.store import close_thread_connections
from messages import subscribers
from test_console_support import add_accounts, console_app, post, signed_in, wait_for_job  # noqa: F401

TUNIS = ZoneInfo("Africa/Tunis")


def words(html: str) -> str:
    """What a person reads: the page (or a piece of it) without its tags and attributes."""
    body = html.split("<body", 1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def make_app(make_config, channels: dict | None = None, **campaigns):
    app = create_app(make_config(campaigns=campaigns, **({"channels": channels} if channels else {})))
    db = app.extensions["dalil"].db()
    directory.load_demo(db)
    add_accounts(app)
    for n in range(3):
        subscribers.subscribe(db, f"+2162010000{n}", language="fr", governorate="kairouan", interests="jobs",
                              channel="ussd", via="menu")
    return app


@pytest.fixture
def bare_app(make_config):
    """No price per segment, no staff numbers, no sending channel, no quiet hours in the way."""
    app = make_app(make_config, channels={"africastalking": {"enabled": False}}, quiet_hours=["00:00", "00:00"])
    yield app
    close_thread_connections()


def compose(client, **fields):
    form = {"name": "Salon de l'emploi", "text_fr": "Salon de l'emploi lundi", "fallback": "fr", "schedule": "now",
            "rate_per_minute": "0", "expiry_hours": "48"}
    form.update(fields)
    response = post(client, "/console/campaigns/new", form)
    assert response.status_code == 303, words(response.text)[:500]
    return response.headers["Location"]


def test_schedules_read_in_24_hour_time_without_seconds(bare_app):
    client = signed_in(bare_app, "staff")
    post(client, "/console/language", {"lang": "fr"})
    page = client.get(compose(client, schedule="at", send_at="2030-03-04T08:00")).text
    assert "4 mars 2030 08:00" in words(page)
    assert "AM" not in words(page) and "08:00:00" not in page


def test_no_price_and_no_staff_numbers_say_what_to_set(bare_app):
    client = signed_in(bare_app, "staff")
    page = client.get(compose(client)).text
    assert 'id="no-price"' in page and "[campaigns] price_per_segment" in page
    assert 'id="test-button"' not in page  # nothing to test with
    assert 'id="no-staff-numbers"' in page and "[campaigns] staff_numbers" in page
    assert '<bdi dir="ltr">[campaigns] staff_numbers</bdi>' in page  # keeps its order in an Arabic sentence


def test_a_campaign_sent_in_quiet_hours_waits_and_says_when_it_starts(make_config):
    now = datetime.datetime.now(TUNIS)
    start, end = (now - datetime.timedelta(hours=1)).strftime("%H:%M"), (now + datetime.timedelta(hours=2))
    app = make_app(make_config, quiet_hours=[start, end.strftime("%H:%M")], staff_numbers=["+21620000009"],
                   price_per_segment=0.04)
    try:
        client = signed_in(app, "staff")
        location = compose(client)
        page = client.get(location).text
        assert 'id="test-button"' in page and "Test send to 1 staff number" in page
        assert 'id="no-price"' not in page
        job = post(client, location + "/send", {})
        assert wait_for_job(client, job.headers["Location"])["state"] == "done"
        page = client.get(location).text
        assert 'id="campaign-status">Waiting<' in page  # not "Sending": nothing goes before quiet hours end
        starts = re.search(r'id="campaign-starts">([^<·]+)', page).group(1).strip()
        assert starts.endswith(end.strftime("%H:%M")), starts
        listing = client.get("/console/campaigns").text
        assert "Waiting" in words(listing)
    finally:
        close_thread_connections()


def test_consent_history_says_how_in_words_not_codes(console_app):
    db = console_app.extensions["dalil"].db()
    subscribers.subscribe(db, "+21620100055", language="fr", governorate="kairouan", interests="jobs",
                          channel="ussd", via="menu")
    subscribers.opt_out(db, "+21620100055", channel="sms", via="keyword:STOP@twilio")
    client = signed_in(console_app, "staff")
    page = post(client, "/console/subscribers", {"phone": "+21620100055"}).text
    history = re.search(r'<table[^>]*id="consent-history".*?</table>', page, re.S).group(0)
    cells = [words(c).strip() for c in re.findall(r"<td>(.*?)</td>", history, re.S)]
    assert "USSD menu" in cells and "the menu" in cells and "the word STOP (Twilio)" in cells
    for code in ("ussd", "menu", "sms", "keyword:STOP@twilio"):
        assert code not in cells, code


def test_the_directory_names_records_not_their_ids(console_app):
    db = console_app.extensions["dalil"].db()
    service = db.execute("SELECT id FROM services ORDER BY id LIMIT 1").fetchone()[0]
    client = signed_in(console_app, "staff")
    listing = words(client.get("/console/directory").text)
    assert service not in listing
    form = client.get(f"/console/directory/services/{service}").text
    title = words(re.search(r"<h1>.*?</h1>", form, re.S).group(0))
    assert service not in title and ":" in title and len(title.split(":", 1)[1].strip()) > 3


def test_the_flows_page_is_for_staff(console_app):
    client = signed_in(console_app, "staff")
    page = words(client.get("/console/flows").text)
    assert "Get help (referrals to an organisation)" in page and "Information menu" in page
    for raw in (".toml", "help_gov", "subs_manage", "nav.more", "→ help"):
        assert raw not in page, raw


def test_the_dashboard_counts_what_was_sent_and_says_how_to_add_a_channel(bare_app, make_config):
    db = bare_app.extensions["dalil"].db()
    for _ in range(4):
        outbox.enqueue(db, "+21620000002", "hi", kind="notice")
    client = signed_in(bare_app, "admin")
    page = client.get("/console/dashboard").text
    sent = re.search(r'tile-num">(\d+)</span><span class="tile-label">Messages sent \(24 h\)', page)
    assert sent and sent.group(1) == "0"  # four queued, none sent
    assert "[channels.twilio]" in page and "dalil.toml" in page and "restart Dalil" in page
    db.execute("UPDATE outbox SET state = 'sent', sent_at = ? WHERE id IN (SELECT id FROM outbox LIMIT 1)",
               [time.time()])
    page = client.get("/console/dashboard").text
    assert re.search(r'tile-num">1</span><span class="tile-label">Messages sent', page)


def test_charts_run_right_to_left_in_arabic(console_app):
    from gateway.console import charts
    ltr = str(charts.bars(["a", "b", "c"], [("s", [1, 2, 3])], "t"))
    rtl = str(charts.bars(["a", "b", "c"], [("s", [1, 2, 3])], "t", rtl=True))
    first_x = lambda svg, label: float(re.search(rf'x="([\d.]+)"[^>]*>{label}</text>', svg).group(1))  # noqa: E731
    assert first_x(ltr, "a") < first_x(ltr, "c") and first_x(rtl, "a") > first_x(rtl, "c")
    empty = str(charts.bars(["a"], [("s", [0])], "t", empty_text="لا توجد حركة.", rtl=True))
    assert 'direction="rtl"' in empty  # the full stop ends the sentence on the left
    client = signed_in(console_app, "admin")
    post(client, "/console/language", {"lang": "ar"})
    assert client.get("/console/dashboard").text.count('direction="rtl"') == 3


def test_every_channel_has_a_name_in_every_language():
    from gateway import routing
    from messages import i18n
    for channel in routing.channel_names():
        assert not i18n.missing_languages(f"console.channel.{channel}"), channel
