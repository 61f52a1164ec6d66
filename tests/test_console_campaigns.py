"""Campaign pages: compose with per-field errors, preview with UCS-2 segments and cost, send with progress,
pause, resume, cancel; the municipality never reaches any of it."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flows import directory
from gateway import create_app
from gateway.store import close_thread_connections
from messages import campaigns, subscribers
from test_console_support import add_accounts, field_error, post, signed_in, wait_for_job

PRICE = 0.04
ARABIC = "فرص شغل جديدة في مكتب التشغيل بتطاوين. اتصل بالرقم المجاني أو زر المكتب من الاثنين إلى الخميس صباحا."  # > 70


@pytest.fixture
def campaign_app(make_config):
    app = create_app(make_config(campaigns={"price_per_segment": PRICE, "quiet_hours": ["00:00", "00:00"],
                                            "staff_numbers": ["+21620000009"]}))
    db = app.extensions["dalil"].db()
    directory.load_demo(db)
    add_accounts(app)
    for n in range(3):
        subscribers.subscribe(db, f"+2162010000{n}", language="ar", governorate="tataouine", interests="jobs",
                              channel="ussd", via="menu")
    subscribers.subscribe(db, "+21620100010", language="fr", governorate="kairouan", interests="training",
                          channel="sms", via="keyword")
    subscribers.subscribe(db, "+21620100011", language="en", governorate="kairouan", channel="sms", via="keyword")
    subscribers.opt_out(db, "+21620100011", channel="sms", via="keyword")
    yield app
    close_thread_connections()


def compose(client, **fields):
    form = {"name": "Jobs in Tataouine", "text_ar": ARABIC, "fallback": "ar", "schedule": "now",
            "rate_per_minute": "0", "expiry_hours": "48"}
    form.update(fields)
    return post(client, "/console/campaigns/new", form)


def test_compose_says_what_is_wrong_next_to_each_field(campaign_app):
    client = signed_in(campaign_app, "staff")
    assert client.get("/console/campaigns/new").status_code == 200
    empty = compose(client, name="", text_ar="", fallback="ar")
    assert empty.status_code == 422
    assert field_error(empty.text, "name") == "This field is required."
    assert field_error(empty.text, "text_ar") == "Write a text in at least one language."
    too_long = compose(client, text_ar="د" * 250, text_fr="ça coûte " + "très " * 40, fallback="en")
    assert "4 segments in UCS-2: at most 3." in field_error(too_long.text, "text_ar")
    assert "UCS-2 because of: ç û" in field_error(too_long.text, "text_fr")  # è is GSM-7
    assert field_error(too_long.text, "fallback").startswith("No text in this language")
    past = compose(client, schedule="at", send_at="2020-01-01T09:00")
    assert field_error(past.text, "send_at") == "This time is in the past."
    bad = compose(client, schedule="at", send_at="next tuesday")
    assert field_error(bad.text, "send_at") == "Not a valid date and time."
    cron = compose(client, schedule="cron", cron="every monday")
    assert field_error(cron.text, "cron").startswith("Not a crontab line")
    rate = compose(client, rate_per_minute="fast", expiry_hours="-1")
    assert field_error(rate.text, "rate_per_minute") == "Enter a whole number."
    assert field_error(rate.text, "expiry_hours").startswith("Must be between")
    assert campaigns.listing(campaign_app.extensions["dalil"].db()) == []


def test_compose_an_arabic_campaign_and_preview_ucs2_segments_and_cost(campaign_app):
    client = signed_in(campaign_app, "staff")
    response = compose(client)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert 'id="campaign-preview"' in page
    # the Arabic text is UCS-2, over 70 characters: 2 segments for each of the 4 active subscribers
    assert '<td dir="ltr" class="encoding">UCS-2</td>' in page
    assert '<td class="num segments">2</td>' in page
    assert 'id="preview-recipients">4<' in page and 'id="preview-segments">8<' in page
    assert f"Estimated cost: {8 * PRICE:.2f} TND" in page
    assert "1 subscriber in Français gets the العربية text" in page  # one, not "subscriber(s)"
    assert "Send now" in page


def test_a_french_accent_forcing_ucs2_is_warned_in_the_preview(campaign_app):
    client = signed_in(campaign_app, "staff")
    response = compose(client, text_fr="Formation gratuite à Kairouan: inscrivez-vous ça commence lundi.",
                       fallback="ar")
    page = client.get(response.headers["Location"]).text
    assert "Français text: ç force UCS-2" in page


def test_the_audience_is_counted_live(campaign_app):
    client = signed_in(campaign_app, "staff")
    everyone = post(client, "/console/campaigns/audience", {}, headers={"Accept": "application/json"}).get_json()
    assert everyone["total"] == 4
    some = post(client, "/console/campaigns/audience", {"governorates": ["tataouine"], "interests": ["jobs"]},
                headers={"Accept": "application/json"}).get_json()
    assert some["total"] == 3 and some["by_language"] == {"ar": 3}
    assert everyone["text"] == "Reaches 4 subscribers now." and some["text"] == "Reaches 3 subscribers now."
    bad = post(client, "/console/campaigns/audience", {"governorates": ["atlantis"]},
               headers={"Accept": "application/json"})
    assert bad.status_code == 422


def test_send_shows_progress_then_pause_resume_cancel(campaign_app):
    db = campaign_app.extensions["dalil"].db()
    client = signed_in(campaign_app, "staff")
    location = compose(client, governorates=["tataouine"]).headers["Location"]
    campaign_id = int(location.rsplit("/", 1)[1])
    sent = post(client, f"{location}/send")
    assert sent.status_code == 303 and "/console/jobs/" in sent.headers["Location"]
    info = wait_for_job(client, sent.headers["Location"])
    assert info["state"] == "done" and info["result"] == {"queued": 3}
    job_page = client.get(sent.headers["Location"]).text
    assert "Messages queued" in job_page and location in job_page
    assert db.execute("SELECT count(*) FROM outbox WHERE campaign_id = ? AND kind = 'blast'",
                      [campaign_id]).fetchone()[0] == 3
    page = client.get(location).text
    assert "Sending" in page and "0 of 3 messages handled." in page
    results = client.get(f"{location}/results", headers={"Accept": "application/json"}).get_json()
    assert results["queued"] == 3 and results["total"] == 3

    again = post(client, f"{location}/send")
    assert again.status_code == 409 and "only a draft can be sent" in again.text
    paused = post(client, f"{location}/pause")
    assert paused.status_code == 303
    assert "Campaign paused" in client.get(paused.headers["Location"]).text
    assert campaigns.load(db, campaign_id).status == "paused"
    assert post(client, f"{location}/pause").status_code == 409
    assert post(client, f"{location}/resume").status_code == 303
    assert campaigns.load(db, campaign_id).status == "active"
    assert post(client, f"{location}/cancel").status_code == 303
    assert campaigns.results(db, campaign_id)["cancelled"] == 3
    assert "Cancelled" in client.get("/console/campaigns").text


def test_a_scheduled_campaign_and_changing_a_draft(campaign_app):
    db = campaign_app.extensions["dalil"].db()
    client = signed_in(campaign_app, "staff")
    later = (datetime.now(ZoneInfo("Africa/Tunis")) + timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    location = compose(client, schedule="at", send_at=later).headers["Location"]
    first_id = int(location.rsplit("/", 1)[1])
    form = client.get(f"/console/campaigns/new?replaces={first_id}").text
    assert f'value="{later}"' in form and 'name="replaces"' in form
    changed = compose(client, schedule="at", send_at=later, name="Jobs, changed", replaces=str(first_id))
    second = changed.headers["Location"]
    assert campaigns.load(db, first_id).status == "cancelled"
    sent = post(client, f"{second}/send")
    info = wait_for_job(client, sent.headers["Location"])
    assert info["result"] == {"recipients": 4}
    assert campaigns.load(db, int(second.rsplit("/", 1)[1])).status == "scheduled"
    assert "Scheduled" in client.get(second).text


def test_test_send_to_staff_numbers(campaign_app):
    db = campaign_app.extensions["dalil"].db()
    client = signed_in(campaign_app, "staff")
    location = compose(client).headers["Location"]
    response = post(client, f"{location}/test")
    assert response.status_code == 303
    assert db.execute("SELECT count(*) FROM outbox WHERE kind = 'test'").fetchone()[0] == 1


def test_the_municipality_reaches_no_campaign_page_or_action(campaign_app):
    staff = signed_in(campaign_app, "staff")
    location = compose(staff).headers["Location"]
    muni = signed_in(campaign_app, "muni")
    for path in ("/console/campaigns", "/console/campaigns/new", location, f"{location}/results"):
        assert muni.get(path).status_code == 403, path
    for path in (f"{location}/send", f"{location}/cancel", "/console/campaigns/new", "/console/campaigns/audience"):
        assert post(muni, path, {"name": "x", "text_ar": "x", "fallback": "ar"}).status_code == 403, path
    assert campaigns.load(campaign_app.extensions["dalil"].db(), int(location.rsplit("/", 1)[1])).status == "draft"


def test_unknown_campaign_is_a_clear_404(campaign_app):
    client = signed_in(campaign_app, "staff")
    response = client.get("/console/campaigns/999")
    assert response.status_code == 404 and "This campaign does not exist." in response.text
