"""Scheduled and recurring campaigns: runs with a frozen clock, missed runs, and a recurrence that survives a
restart of the real APScheduler scheduler."""
from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway import initialize
from gateway.config import load
from gateway.store import close_thread_connections
from messages import campaigns, subscribers
from messages.scheduler import CampaignScheduler

TUNIS = ZoneInfo("Africa/Tunis")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=TUNIS).timestamp()


SUN_NOON = at("2026-03-01 12:00")


@pytest.fixture
def make_ctx(make_config):
    config = make_config()

    def make():
        close_thread_connections()  # a "restart": new connections, new scheduler, same database file
        return initialize(load(config))
    yield make
    close_thread_connections()


def setup_recurring(ctx, cron: str = "0 9 * * mon", now: float = SUN_NOON) -> int:
    db = ctx.db()
    for i in range(3):
        subscribers.subscribe(db, f"+2162030000{i}", language="fr", interests="jobs", channel="sms", via="test",
                              now=now - 3600)
    cid = campaigns.create(ctx, db, name="Weekly jobs", texts={"fr": "Offres de la semaine"}, fallback_language="fr",
                           schedule="cron", cron=cron, now=now)
    result = campaigns.send(ctx, db, campaigns.load(db, cid), now=now)
    assert (result["status"], result["recipients"]) == ("scheduled", 3)
    return cid


def runs(db, cid) -> list[tuple]:
    return db.execute("SELECT run_key, due_at, queued FROM campaign_runs WHERE campaign_id = ? ORDER BY id",
                      [cid]).fetchall()


def test_a_recurrence_runs_each_time_once_across_a_restart(make_ctx):
    ctx = make_ctx()
    cid = setup_recurring(ctx)
    assert campaigns.load(ctx.db(), cid).next_run_at == at("2026-03-02 09:00")
    assert campaigns.run_due(ctx, ctx.db(), now=at("2026-03-02 08:59")) == []
    [run] = campaigns.run_due(ctx, ctx.db(), now=at("2026-03-02 09:00:05"))
    assert run["queued"] == 3 and run["first_send_at"] == at("2026-03-02 09:00:05")
    assert campaigns.load(ctx.db(), cid).next_run_at == at("2026-03-09 09:00")
    assert campaigns.run_due(ctx, ctx.db(), now=at("2026-03-02 09:00:06")) == []

    ctx = make_ctx()  # restart
    subscribers.subscribe(ctx.db(), "+21620300009", language="fr", interests="jobs", channel="sms", via="test")
    [run] = campaigns.run_due(ctx, ctx.db(), now=at("2026-03-09 09:20"))  # down at 09:00, back within the grace
    assert run["queued"] == 4
    assert runs(ctx.db(), cid) == [(f"{at('2026-03-02 09:00'):.0f}", at("2026-03-02 09:00"), 3),
                                   (f"{at('2026-03-09 09:00'):.0f}", at("2026-03-09 09:00"), 4)]
    assert ctx.db().execute("SELECT count(DISTINCT idempotency_key) FROM outbox").fetchone()[0] == 7


def test_a_run_missed_beyond_the_grace_is_skipped_and_the_recurrence_goes_on(make_ctx, caplog):
    ctx = make_ctx()
    cid = setup_recurring(ctx)
    assert campaigns.run_due(ctx, ctx.db(), now=at("2026-03-02 12:00")) == []  # 3 h late, grace is 1 h
    assert "was missed by 180 min" in caplog.text
    camp = campaigns.load(ctx.db(), cid)
    assert (camp.status, camp.next_run_at) == ("scheduled", at("2026-03-09 09:00"))
    assert runs(ctx.db(), cid) == []


def test_a_one_off_at_a_time_runs_then_is_active_or_missed(make_ctx):
    ctx = make_ctx()
    db = ctx.db()
    subscribers.subscribe(db, "+21620300001", language="ar", channel="sms", via="test", now=SUN_NOON)
    ids = [campaigns.create(ctx, db, name=f"One-off {i}", texts={"ar": "خبر"}, fallback_language="ar",
                            schedule="at", send_at=at("2026-03-02 09:00"), now=SUN_NOON) for i in range(2)]
    for cid in ids:
        campaigns.send(ctx, db, campaigns.load(db, cid), now=SUN_NOON)
    campaigns.run_scheduled(ctx, db, ids[0], at("2026-03-02 09:00"))
    campaigns.run_scheduled(ctx, db, ids[1], at("2026-03-02 11:00"))
    assert [campaigns.load(db, cid).status for cid in ids] == ["active", "missed"]
    assert [len(runs(db, cid)) for cid in ids] == [1, 0]


def test_pausing_a_recurrence_skips_its_runs_until_resumed(make_ctx):
    ctx = make_ctx()
    db = ctx.db()
    cid = setup_recurring(ctx)
    campaigns.pause(ctx, db, campaigns.load(db, cid), now=SUN_NOON)
    assert campaigns.run_due(ctx, db, now=at("2026-03-02 09:00")) == []
    campaigns.resume(ctx, db, campaigns.load(db, cid), now=at("2026-03-04 12:00"))
    camp = campaigns.load(db, cid)
    assert (camp.status, camp.next_run_at) == ("scheduled", at("2026-03-09 09:00"))


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_the_real_scheduler_runs_a_run_due_while_down_and_reregisters_after_a_restart(make_ctx):
    """The gateway was down when a daily run fell due ten minutes ago: at start the scheduler runs it (within
    the grace), moves the campaign to tomorrow, and after another restart it registers tomorrow's job and
    does not run today's again."""
    ctx = make_ctx()
    cid = setup_recurring(ctx, cron="0 10 * * *")
    due = time.time() - 600
    ctx.db().execute("UPDATE campaigns SET next_run_at = ? WHERE id = ?", [due, cid])

    scheduler = CampaignScheduler(ctx).start()
    try:
        assert wait_until(lambda: len(runs(ctx.db(), cid)) == 1)
        assert wait_until(lambda: campaigns.load(ctx.db(), cid).next_run_at > time.time())
    finally:
        scheduler.stop()
    following = campaigns.load(ctx.db(), cid).next_run_at
    assert datetime.fromtimestamp(following, TUNIS).strftime("%H:%M") == "10:00"
    assert runs(ctx.db(), cid)[0][1:] == (due, 3)

    ctx = make_ctx()
    scheduler = CampaignScheduler(ctx).start()
    try:
        assert wait_until(lambda: scheduler.job_times().get(f"campaign:{cid}") == pytest.approx(following))
    finally:
        scheduler.stop()
    assert len(runs(ctx.db(), cid)) == 1
    assert ctx.db().execute("SELECT count(*) FROM outbox WHERE kind = 'blast'").fetchone()[0] == 3


def test_serve_hooks_start_and_stop_the_scheduler(app):
    from messages import runtime
    runtime.start_background(app)
    scheduler = app.extensions["dalil"].services.campaign_scheduler
    assert scheduler.scheduler.running
    runtime.stop_background(app)
    assert not scheduler.scheduler.running and app.extensions["dalil"].services.campaign_scheduler is None


def test_bad_quiet_hours_stop_the_app_at_start(make_config):
    from gateway import create_app
    from gateway.config import ConfigError
    with pytest.raises(ConfigError, match=r"\[campaigns\] quiet_hours: expected a time of day as \"HH:MM\""):
        create_app(make_config(campaigns={"quiet_hours": ["9pm", "08:00"]}))
