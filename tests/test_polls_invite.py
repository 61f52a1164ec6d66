"""The SMS invitation goes through the campaigns (audience, preview with cost, quiet hours, rate), and a subscriber
answers by replying with the poll's keyword and a number or an option's word, in the language they subscribed in."""
from __future__ import annotations

import time

import pytest

from messages import campaigns, i18n, subscribers
from polls import lifecycle, results
from polls.model import PollError
from test_polls_e2e import SmsPhone, definition

INVITED = {"+21620300001": "ar", "+21620300002": "fr", "+21620300003": "en"}
ELSEWHERE = "+21620300009"  # subscribed in Tataouine: outside the poll's audience


@pytest.fixture
def config(make_config):
    # quiet hours off: the test sends at whatever time it runs
    return make_config(campaigns={"quiet_hours": ["00:00", "00:00"], "price_per_segment": 0.05})


def test_subscribers_are_invited_through_a_campaign_and_answer_by_keyword(live):
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    for phone, lang in INVITED.items():
        subscribers.subscribe(db, phone, language=lang, governorate="kairouan", interests={"all"}, channel="sms",
                              via="test")
    subscribers.subscribe(db, ELSEWHERE, language="fr", governorate="tataouine", interests={"all"}, channel="sms",
                          via="test")
    raw = definition(lifecycle.today(ctx))
    raw["audience"] = {"governorates": ["kairouan"]}
    poll_id, problems = lifecycle.create(ctx, db, raw)
    assert problems == []
    with pytest.raises(PollError, match="open it before inviting"):
        lifecycle.invite(ctx, db, poll_id)
    lifecycle.open_poll(ctx, db, poll_id)

    campaign_id = lifecycle.invite(ctx, db, poll_id, rate_per_minute=600)
    campaign = campaigns.load(db, campaign_id)
    preview = campaigns.preview(ctx, db, campaign)
    assert preview["recipients"] == 3 and preview["total_segments"] >= 3
    assert preview["estimated_cost"] == round(preview["total_segments"] * 0.05, 3)
    assert {lang: info["recipients"] for lang, info in preview["languages"].items()} == {"ar": 1, "fr": 1, "en": 1}
    assert campaign.texts["fr"].endswith(i18n.t("fr", "poll.invite.reply", keyword="MAA"))
    assert "1. Oui\n2. Parfois\n3. Non" in campaign.texts["fr"]
    assert campaign.expiry_hours <= ctx.config["campaigns"]["expiry_hours"]

    campaigns.send(ctx, db, campaign, now=time.time())
    queued = dict(db.execute("SELECT to_number, body FROM outbox WHERE kind = 'blast'").fetchall())
    assert set(queued) == set(INVITED)
    for phone, lang in INVITED.items():
        assert queued[phone] == campaign.texts[lang]

    # replies: the keyword and a number; the keyword and an option's word; the keyword alone, then a number
    ar = SmsPhone(live, "+21620300001")
    assert ar.send("MAA 2").startswith("2/3 كم يوما")
    fr = SmsPhone(live, "+21620300002")
    assert fr.send("maa oui").startswith("2/3 Combien de jours")
    en = SmsPhone(live, "+21620300003")
    assert en.send("MAA").startswith("1/3 Do you have water")
    assert en.send("3").startswith("2/3 How many days")
    for phone in (ar, fr, en):
        assert phone.send("4").startswith("3/3 ")
        phone.send("1")  # prefer not to say
    built = results.build(db, lifecycle.load(db, poll_id), 1)
    assert [o["count"] for o in built["questions"][0]["options"]] == [1, 1, 1]
    assert built["questions"][0]["options"][1]["by"]["language"] == {"ar": 1, "fr": 0, "en": 0}
