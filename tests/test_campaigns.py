"""Campaigns with a frozen clock: preview and cost, bad input, quiet hours in Africa/Tunis, pacing, dedupe,
opting out after queueing, pause/resume/cancel, test sends and results counted from the outbox."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway import initialize
from gateway.config import load
from gateway.store import close_thread_connections
from messages import campaigns, sendcheck, subscribers
from messages.campaigns import CampaignError

TUNIS = ZoneInfo("Africa/Tunis")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TUNIS).timestamp()


MON_10 = at("2026-03-02 10:00")
AR = "فرص شغل جديدة في القيروان: سجل قبل 15 مارس في مكتب التشغيل"
FR = "Nouvelles offres d'emploi à Kairouan : inscrivez-vous avant le 15 mars au bureau de l'emploi. Reçu ?"
EN = "New jobs in Kairouan: register before 15 March at the employment office."


@pytest.fixture
def ctx(make_config):
    def make(**campaign_settings):
        settings = {"price_per_segment": 0.05, "staff_numbers": ["+21670000001"], **campaign_settings}
        return initialize(load(make_config(campaigns=settings)))
    yield make
    close_thread_connections()


def people(db, spec: list[tuple[str, str, str | None, str]]) -> list[int]:
    """(phone suffix, language, governorate, interests)."""
    return [subscribers.subscribe(db, f"+216201{suffix}", language=lang, governorate=gov,
                                  interests=interests.split(), channel="sms", via="test", now=MON_10 - 86400)
            for suffix, lang, gov, interests in spec]


CROWD = [("00001", "ar", "kairouan", "jobs"), ("00002", "ar", "kairouan", "jobs training"),
         ("00003", "ar", "medenine", "business"), ("00004", "fr", "kairouan", "jobs"),
         ("00005", "fr", "tataouine", "jobs"), ("00006", "en", "kairouan", "jobs")]


def create(c, **kw) -> campaigns.Campaign:
    args = {"name": "Job fair", "texts": {"ar": AR, "fr": FR}, "fallback_language": "fr",
            "audience": {"interests": ["jobs"]}, "now": MON_10, **kw}
    return campaigns.load(c.db(), campaigns.create(c, c.db(), **args))


def blasts(db, campaign_id: int) -> list[dict]:
    cur = db.execute("SELECT * FROM outbox WHERE campaign_id = ? ORDER BY id", [campaign_id])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# -- preview ---------------------------------------------------------------------------------------------------

def test_preview_counts_languages_segments_cost_and_names_ucs2_characters(ctx):
    c = ctx()
    people(c.db(), CROWD)
    info = campaigns.preview(c, c.db(), create(c), now=MON_10)
    assert info["recipients"] == 5  # the Medenine business subscriber is not interested in jobs
    assert {k: (v["recipients"], v["text"], v["segments"]) for k, v in info["languages"].items()} == \
        {"ar": (2, "ar", 1), "fr": (2, "fr", 2), "en": (1, "fr", 2)}
    assert info["texts"]["fr"] == {"encoding": "UCS-2", "characters": len(FR), "segments": 2,
                                   "ucs2_characters": ["ç"], "gsm7_segments": 1}
    assert info["total_segments"] == 2 * 1 + 2 * 2 + 1 * 2
    assert info["estimated_cost"] == pytest.approx(8 * 0.05)
    assert info["warnings"] == [
        "text (fr): ç force UCS-2 (70 characters a segment instead of 160): 2 segment(s); without them 1 in GSM-7",
        "1 subscriber(s) in en get the fr text (no en text)"]
    assert info["starts_at"] == MON_10 and not info["waits_for_quiet_hours"]


def test_with_sms_fold_accents_the_preview_and_the_queue_use_the_folded_text(make_config):
    """[sms] fold_accents = ["fr"]: the "ç" no longer makes the French text UCS-2, in the preview as in what is sent."""
    c = initialize(load(make_config(campaigns={"price_per_segment": 0.05}, sms={"fold_accents": ["fr"]})))
    try:
        people(c.db(), CROWD)
        campaign = create(c)
        info = campaigns.preview(c, c.db(), campaign, now=MON_10)
        assert info["texts"]["fr"] == {"encoding": "GSM-7", "characters": len(FR), "segments": 1,
                                       "ucs2_characters": [], "gsm7_segments": None}
        assert {k: v["segments"] for k, v in info["languages"].items()} == {"ar": 1, "fr": 1, "en": 1}
        campaigns.send(c, c.db(), campaign, now=MON_10)
        sent = {row["to_number"]: (row["body"], row["encoding"], row["segments"])
                for row in blasts(c.db(), campaign.id)}
        assert sent["+21620100004"] == (FR.replace("ç", "c"), "GSM-7", 1)
        assert sent["+21620100006"] == (FR.replace("ç", "c"), "GSM-7", 1)  # English reader, French fallback
        assert sent["+21620100001"] == (AR, "UCS-2", 1)
    finally:
        close_thread_connections()


# -- bad input -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, message", [
    ({"texts": {"fr": "x" * 480}}, r"text \(fr\): 4 segments \(480 GSM-7 characters\), more than \[campaigns\] "
                                   r"max_segments = 3"),
    ({"texts": {"fr": "ç" * 202}}, r"text \(fr\): 4 segments .* UCS-2 because of ç"),
    ({"texts": {"ar": AR}}, r"fallback language: no fr text \(texts given: ar\)"),
    ({"texts": {"fr": "  "}}, r"text \(fr\): empty"),
    ({"texts": {"de": "Hallo", "fr": "x"}}, r"text \(de\): unknown language"),
    ({"audience": {"governorates": ["kairwan"]}}, r"audience governorate: unknown 'kairwan'"),
    ({"audience": [{"interests": ["jobs"]}, {"languages": ["de"]}]}, r"audience group 2 language: unknown 'de'"),
    ({"schedule": "at", "send_at": at("2026-03-01 10:00")}, r"schedule: 2026-03-01 10:00 is in the past"),
    ({"schedule": "at", "send_at": at("2026-03-02 22:30")},
     r"schedule: 2026-03-02 22:30 is inside quiet hours \(21:00–08:00 Africa/Tunis\)"),
    ({"schedule": "cron", "cron": "30 6 * * *"}, r"schedule: 2026-03-03 06:30 \(the recurrence '30 6 \* \* \*' "
                                                r"fires then\) is inside quiet hours"),
    ({"schedule": "cron", "cron": "every monday"}, r"schedule: not a crontab line"),
    ({"rate_per_minute": -1}, r"rate: expected messages a minute"),
    ({"name": ""}, r"name: expected 1 to 100 characters"),
])
def test_bad_input_is_refused_naming_the_field(ctx, changes, message):
    c = ctx()
    with pytest.raises(CampaignError, match=message):
        create(c, **changes)
    assert c.db().execute("SELECT count(*) FROM campaigns").fetchone()[0] == 0


def test_an_audience_that_matches_nobody_queues_nothing(ctx):
    c = ctx()
    people(c.db(), CROWD)
    campaign = create(c, audience={"governorates": ["tunis"]})
    with pytest.raises(CampaignError, match=r"audience: matches nobody \(governorate=tunis\); nothing queued"):
        campaigns.send(c, c.db(), campaign, now=MON_10)
    assert campaigns.load(c.db(), campaign.id).status == "draft"
    assert blasts(c.db(), campaign.id) == []


def test_a_rate_too_slow_for_the_expiry_is_refused(ctx):
    c = ctx()
    people(c.db(), CROWD)
    campaign = create(c, rate_per_minute=1, expiry_hours=0.05)  # 5 messages, 1 a minute, 3 minutes to go
    with pytest.raises(CampaignError, match=r"rate: at 1 a minute, 5 messages would go on past the expiry"):
        campaigns.send(c, c.db(), campaign, now=MON_10)


def test_a_draft_is_sent_once(ctx):
    c = ctx()
    people(c.db(), CROWD)
    campaign = create(c)
    campaigns.send(c, c.db(), campaign, now=MON_10)
    with pytest.raises(CampaignError, match="status: campaign 1 is active; only a draft can be sent"):
        campaigns.send(c, c.db(), campaigns.load(c.db(), campaign.id), now=MON_10)


# -- queueing --------------------------------------------------------------------------------------------------

def test_queued_rows_carry_the_right_text_and_one_per_person(ctx):
    c = ctx(queue_batch=2)  # several INSERT ... SELECT batches, one transaction
    db = c.db()
    people(db, CROWD)
    seen = []
    # two groups: jobs anywhere, or anyone in Kairouan; the Kairouan jobs seekers match both
    campaign = create(c, texts={"ar": AR, "fr": FR, "en": EN},
                      audience=[{"interests": ["jobs"]}, {"governorates": ["kairouan"]}])
    result = campaigns.send(c, db, campaign, now=MON_10, progress=lambda done, total: seen.append((done, total)))
    rows = blasts(db, campaign.id)
    assert result["queued"] == len(rows) == 5
    assert len({r["subscriber_id"] for r in rows}) == 5
    assert seen[-1] == (5, 5) and [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 1
    by_phone = {r["to_number"]: (r["body"], r["encoding"], r["segments"], r["kind"], r["not_before"]) for r in rows}
    assert by_phone["+21620100001"] == (AR, "UCS-2", 1, "blast", MON_10)
    assert by_phone["+21620100004"] == (FR, "UCS-2", 2, "blast", MON_10)
    assert by_phone["+21620100006"] == (EN, "GSM-7", 1, "blast", MON_10)
    assert {r["expires_at"] for r in rows} == {MON_10 + 48 * 3600}
    # the same run again queues nothing
    assert campaigns.queue_run(c, db, campaign, run_key="now", due=MON_10, now=MON_10 + 1)["queued"] == 0
    assert len(blasts(db, campaign.id)) == 5


def test_opted_out_subscribers_are_not_in_the_audience(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    subscribers.opt_out(db, "+21620100001", channel="sms", via="keyword:STOP")
    campaign = create(c)
    assert campaigns.send(c, db, campaign, now=MON_10)["queued"] == 4


# -- quiet hours -----------------------------------------------------------------------------------------------

def test_sent_inside_quiet_hours_waits_for_their_end(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    campaign = create(c, now=at("2026-03-02 22:00"))
    info = campaigns.preview(c, db, campaign, now=at("2026-03-02 22:00"))
    assert info["starts_at"] == at("2026-03-03 08:00") and info["waits_for_quiet_hours"]
    campaigns.send(c, db, campaign, now=at("2026-03-02 22:00"))
    assert {r["not_before"] for r in blasts(db, campaign.id)} == {at("2026-03-03 08:00")}
    assert {r["expires_at"] for r in blasts(db, campaign.id)} == {at("2026-03-05 08:00")}


def test_a_paced_campaign_stops_at_21_and_goes_on_at_8(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    campaign = create(c, rate_per_minute=2, now=at("2026-03-02 20:58"))
    campaigns.send(c, db, campaign, now=at("2026-03-02 20:58"))
    assert [r["not_before"] for r in blasts(db, campaign.id)] == [
        at("2026-03-02 20:58"), at("2026-03-02 20:58") + 30, at("2026-03-02 20:59"), at("2026-03-02 20:59") + 30,
        at("2026-03-03 08:00")]


def test_quiet_hours_beginning_push_back_what_is_still_queued(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    campaign = create(c, now=at("2026-03-02 20:00"))
    campaigns.send(c, db, campaign, now=at("2026-03-02 20:00"))
    assert campaigns.defer_for_quiet_hours(c, db, now=at("2026-03-02 20:59")) == 0  # not yet
    assert campaigns.defer_for_quiet_hours(c, db, now=at("2026-03-02 21:00")) == 5
    assert {r["not_before"] for r in blasts(db, campaign.id)} == {at("2026-03-03 08:00")}


def test_a_claimed_blast_is_held_back_when_quiet_hours_have_begun(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD[:1])
    campaign = create(c, now=at("2026-03-02 20:59"))
    campaigns.send(c, db, campaign, now=at("2026-03-02 20:59"))
    msg = claim_all(db)[0]
    assert sendcheck.hold(c, db, msg, now=at("2026-03-02 20:59")) is None
    assert sendcheck.hold(c, db, msg, now=at("2026-03-02 21:00")) == "quiet"
    row = blasts(db, campaign.id)[0]
    assert (row["state"], row["not_before"], row["attempts"], row["lease_owner"]) == \
        ("queued", at("2026-03-03 08:00"), 0, None)


def claim_all(db) -> list[int]:
    """What a dispatcher's claim does to the rows, without routing: queued -> sending under a lease."""
    return [r[0] for r in db.execute(
        "UPDATE outbox SET state = 'sending', lease_owner = 'test', lease_until = 1e12, attempts = attempts + 1 "
        "WHERE state = 'queued' RETURNING id").fetchall()]


# -- opting out after queueing ---------------------------------------------------------------------------------

def test_opting_out_after_queueing_stops_the_message_queued_or_claimed(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    campaign = create(c)
    campaigns.send(c, db, campaign, now=MON_10)
    subscribers.opt_out(db, "+21620100001", channel="sms", via="keyword:STOP")  # still queued: closed at once
    claimed = claim_all(db)
    subscribers.opt_out(db, "+21620100002", channel="ussd", via="menu")  # already claimed by a dispatcher
    held = {m: sendcheck.hold(c, db, m, now=MON_10) for m in claimed}
    assert sorted(held.values(), key=str) == [None, None, None, "opted_out"]
    res = campaigns.results(db, campaign.id)
    assert (res["skipped_opted_out"], res["sending"], res["failed"], res["total"]) == (2, 3, 0, 5)


def test_hold_ignores_what_is_not_a_blast(ctx):
    c = ctx()
    db = c.db()
    from gateway import outbox
    msg = outbox.enqueue(db, "+21620100001", "a reply")
    assert sendcheck.hold(c, db, msg, now=at("2026-03-02 23:00")) is None  # replies go at night too


# -- pause, resume, cancel, test send, results -------------------------------------------------------------------

def test_pause_resume_cancel(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    campaign = create(c, rate_per_minute=60)
    campaigns.send(c, db, campaign, now=MON_10)
    campaign = campaigns.load(db, campaign.id)
    first = blasts(db, campaign.id)[0]["id"]
    db.execute("UPDATE outbox SET state = 'sending', lease_owner = 't' WHERE id = ?", [first])

    assert campaigns.pause(c, db, campaign, now=MON_10 + 10) == 4
    assert sendcheck.hold(c, db, first, now=MON_10 + 11) == "paused"  # the claimed one goes back too
    assert {r["not_before"] for r in blasts(db, campaign.id)} == {campaigns.PAUSED_UNTIL}
    with pytest.raises(CampaignError, match="status: campaign 1 is paused; only an active or scheduled"):
        campaigns.pause(c, db, campaigns.load(db, campaign.id))

    # resumed at night: from the end of quiet hours, paced again from there
    assert campaigns.resume(c, db, campaigns.load(db, campaign.id), now=at("2026-03-02 23:00")) == 5
    paced = [at("2026-03-03 08:00") + i for i in range(5)]  # 60 a minute
    assert [r["not_before"] for r in blasts(db, campaign.id)] == paced
    assert campaigns.load(db, campaign.id).status == "active"

    assert campaigns.cancel(c, db, campaigns.load(db, campaign.id), now=at("2026-03-03 07:00")) == 5
    res = campaigns.results(db, campaign.id)
    assert (res["cancelled"], res["queued"], res["total"], res["done"]) == (5, 0, 5, 5)
    with pytest.raises(CampaignError, match="already cancelled"):
        campaigns.cancel(c, db, campaigns.load(db, campaign.id))


def test_test_send_goes_to_staff_numbers_only(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    campaign = create(c)
    assert campaigns.test_send(c, db, campaign) == 2
    assert campaigns.test_send(c, db, campaign, ["20 999 888"]) == 2
    rows = db.execute("SELECT to_number, body, kind FROM outbox ORDER BY id").fetchall()
    assert rows == [("+21670000001", AR, "test"), ("+21670000001", FR, "test"),
                    ("+21620999888", AR, "test"), ("+21620999888", FR, "test")]
    with pytest.raises(CampaignError, match="staff number '12': not a possible phone number"):
        campaigns.test_send(c, db, campaign, ["12"])
    assert campaigns.load(db, campaign.id).status == "draft"


def test_results_count_each_outcome(ctx):
    c = ctx()
    db = c.db()
    people(db, CROWD)
    campaign = create(c)
    campaigns.send(c, db, campaign, now=MON_10)
    ids = [r["id"] for r in blasts(db, campaign.id)]
    db.execute("UPDATE outbox SET state = 'sent' WHERE id = ?", [ids[0]])
    db.execute("UPDATE outbox SET state = 'delivered' WHERE id = ?", [ids[1]])
    db.execute("UPDATE outbox SET state = 'failed', error = 'twilio 30003' WHERE id = ?", [ids[2]])
    db.execute("UPDATE outbox SET state = 'expired', error = 'not sent before expiry' WHERE id = ?", [ids[3]])
    res = campaigns.results(db, campaign.id)
    assert {k: res[k] for k in campaigns.RESULT_KEYS} == {
        "queued": 1, "sending": 0, "sent": 2, "delivered": 1, "failed": 1, "skipped_opted_out": 0, "expired": 1,
        "cancelled": 0}
    assert res["total"] == 5 and res["done"] == 4 and res["segments_sent"] == 1 + 1
    assert [r["queued"] for r in res["runs"]] == [5]
    assert campaigns.listing(db)[0]["status"] == "active"
    db.execute("UPDATE outbox SET state = 'sent' WHERE id = ?", [ids[4]])
    assert campaigns.listing(db)[0]["status"] == "done"
