"""Per-route limits: a route that carries no concatenated SMS refuses a longer text at campaign preview, at send
and at enqueue, naming the route and the limit (never cutting it); replies are split between lines instead; a
link's messages per second hold."""
from __future__ import annotations

import threading
import time

import pytest

from gateway import initialize, outbox, routing
from gateway.config import load
from gateway.dispatcher import SharedBucket
from messages import campaigns, subscribers
from messages.segments import count

LONG_FR = ("Salon de l'emploi de Kairouan lundi 2 mars a 9h, maison des jeunes. Apportez votre carte d'identite et "
           "votre CV. Plus de 40 entreprises recrutent: agriculture, textile, services.")


@pytest.fixture
def ctx(make_config):
    cfg = load(make_config(
        channels={"kannel": {"enabled": True, "username": "dalil", "max_segments": 1},
                  "twilio": {"enabled": True, "account_sid": "AC1", "auth_token": "t", "from_number": "+1500"},
                  "africastalking": {"enabled": False}},
        dispatcher={"routes": [["+216", "kannel"]]}))
    return initialize(cfg)


def test_a_long_message_is_refused_at_enqueue_naming_the_route_and_limit(ctx):
    assert count(LONG_FR).segments == 2
    db = ctx.db()
    with pytest.raises(routing.RouteLimit) as refused:
        outbox.enqueue(db, "+21620123456", LONG_FR, kind="notice", config=ctx.config)
    assert "route kannel carries at most 1" in str(refused.value)
    assert "[channels.kannel] max_segments" in str(refused.value)
    assert outbox.counts_by_state(db) == {}
    # another country's number goes by Twilio, which has no limit
    assert outbox.enqueue(db, "+33612345678", LONG_FR, kind="notice", config=ctx.config)


def test_a_reply_longer_than_the_route_goes_as_several_whole_messages(ctx):
    menu = "\n".join(f"{i}. Programme de formation numero {i} a Kairouan" for i in range(1, 8))
    pieces = routing.fit(ctx.config, "+21620123456", menu)
    assert len(pieces) > 1 and all(count(p).segments == 1 for p in pieces)
    assert "\n".join(pieces) == menu  # split between lines: nothing cut off
    assert routing.fit(ctx.config, "+33612345678", menu) == [menu]


def test_campaign_preview_and_send_refuse_a_text_over_the_route_limit(ctx):
    db = ctx.db()
    subscribers.subscribe(db, "+21620123456", language="fr", via="import", channel="sms")
    campaign = campaigns.load(db, campaigns.create(ctx, db, name="Salon", texts={"fr": LONG_FR},
                                                   fallback_language="fr"))
    preview = campaigns.preview(ctx, db, campaign)
    assert preview["route_limits"] == [
        "text (fr): 2 segments for 1 recipient(s) on route kannel, which carries at most 1 "
        "([channels.kannel] max_segments); shorten it"]
    assert preview["route_limits"][0] in preview["warnings"]
    with pytest.raises(campaigns.CampaignError, match="route kannel, which carries at most 1"):
        campaigns.send(ctx, db, campaign)
    assert outbox.counts_by_state(db) == {}


def test_fallback_never_puts_a_long_message_on_a_short_route(ctx):
    router = routing.Router(rules=[("+216", "twilio")], available={"kannel"}, fallback=["kannel"],
                            limits={"kannel": 1})
    assert router.choose("+21620123456", segments=2) is None  # it waits for a route that carries it
    assert router.choose("+21620123456", segments=1) == "kannel"
    db = ctx.db()
    outbox.enqueue(db, "+21620123456", LONG_FR, kind="notice")
    expr, params = router.sql()
    assert db.execute(f"SELECT {expr} FROM outbox", params).fetchone()[0] is None  # noqa: S608


def test_messages_per_second_holds_a_link(ctx):
    bucket = SharedBucket(ctx, "kannel:messages", 5.0)
    started = time.monotonic()
    stop = threading.Event()
    for _ in range(15):
        assert bucket.take(1, stop, time.time() + 10)
    elapsed = time.monotonic() - started
    assert elapsed >= (15 - 5) / 5.0 * 0.95  # the first second's burst, then 5 a second
