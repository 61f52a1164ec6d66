"""Subscribers: opt-in, opt-out and back, the consent log, and CSV import (all or nothing, with a report)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway import contacts, initialize, outbox
from gateway.cli import main
from gateway.config import load
from gateway.store import close_thread_connections
import dbscan
from messages import subscribers
from messages.importer import ImportRejected, import_csv

PAYLOADS = Path(__file__).parent / "payloads"
T0 = 1_772_442_000.0  # 2026-03-02 10:00 Africa/Tunis


@pytest.fixture
def ctx(make_config):
    ctx = initialize(load(make_config()))
    yield ctx
    close_thread_connections()


def count_subscribers(db) -> int:
    return db.execute("SELECT count(*) FROM subscribers").fetchone()[0]


def test_subscribe_accumulates_interests_and_logs_each_change(ctx):
    db = ctx.db()
    sid = subscribers.subscribe(db, "+21620000001", language="ar", governorate="kairouan", interests="jobs",
                                channel="ussd", via="menu", now=T0)
    assert subscribers.subscribe(db, "+21620000001", language="fr", interests=["training"], channel="sms",
                                 via="keyword:JOIN@africastalking", now=T0 + 60) == sid
    sub = subscribers.get(db, "+21620000001")
    assert sub["interests"] == {"jobs", "training"} and sub["language"] == "fr" and sub["governorate"] == "kairouan"
    assert sub["opted_in_at"] == T0  # widening interests is not a new opt-in
    assert [(h["at"], h["action"], h["channel"], h["via"]) for h in subscribers.consent_history(db, "+21620000001")] \
        == [(T0, "opt_in", "ussd", "menu"), (T0 + 60, "opt_in", "sms", "keyword:JOIN@africastalking")]
    with pytest.raises(ValueError, match="unknown interest"):
        subscribers.subscribe(db, "+21620000002", language="ar", interests="fishing", channel="sms", via="x")
    with pytest.raises(ValueError, match="unknown language"):
        subscribers.subscribe(db, "+21620000002", language="de", channel="sms", via="x")


def test_opt_out_is_global_immediate_logged_and_start_brings_back(ctx):
    db = ctx.db()
    sid = subscribers.subscribe(db, "+21620000001", language="ar", channel="sms", via="keyword", now=T0)
    blast = outbox.enqueue(db, "+21620000001", "news", kind="blast", subscriber_id=sid, campaign_id=1)
    reply = outbox.enqueue(db, "+21620000001", "a reply", kind="reply")
    assert subscribers.opt_out(db, "+21620000001", channel="ussd", via="menu", now=T0 + 5)
    assert subscribers.is_opted_out(db, "+21620000001")
    states = dict(db.execute("SELECT id, state || ':' || coalesce(error, '') FROM outbox").fetchall())
    assert states == {blast: f"failed:{subscribers.SKIPPED_OPTED_OUT}", reply: "queued:"}  # only blasts stop
    assert subscribers.opt_out(db, "+21620000001", channel="sms", via="again", now=T0 + 6)  # no second log line
    assert subscribers.opt_in_again(db, "+21620000001", channel="sms", via="keyword:START", now=T0 + 10) == "resumed"
    assert subscribers.get(db, "+21620000001")["opted_in_at"] == T0 + 10
    assert subscribers.opt_in_again(db, "+21620000001", channel="sms", via="x") == "already"
    assert subscribers.opt_in_again(db, "+21620000009", channel="sms", via="x") == "unknown"
    assert [(h["action"], h["channel"]) for h in subscribers.consent_history(db, "+21620000001")] == \
        [("opt_in", "sms"), ("opt_out", "ussd"), ("opt_in", "sms")]


def test_stop_from_a_stranger_is_kept_by_contact_key_not_number(ctx):
    db = ctx.db()
    key = contacts.contact_key(ctx.secret("contacts"), "+21620000003")
    assert not subscribers.opt_out(db, "+21620000003", channel="sms", via="keyword:STOP", contact_key=key)
    assert subscribers.is_opted_out(db, "+21620000003", contact_key=key)
    assert count_subscribers(db) == 0
    dump = dbscan.dump(db)
    assert "20000003" not in dump  # the number itself is nowhere in the file
    subscribers.subscribe(db, "+21620000003", language="fr", channel="sms", via="keyword:JOIN", contact_key=key)
    assert not subscribers.is_opted_out(db, "+21620000003", contact_key=key)  # their own JOIN lifts it


# -- CSV import ------------------------------------------------------------------------------------------------

def test_import_good_file_with_bom_semicolons_names_and_sources(ctx):
    db = ctx.db()
    report = import_csv(ctx, db, PAYLOADS / "subscribers_good.csv", now=T0)
    assert (report.rows, report.added, report.errors) == (4, 4, [])
    rows = db.execute("SELECT phone, language, governorate, delegation, interests FROM subscribers "
                      "ORDER BY phone").fetchall()
    assert rows == [
        ("+21620111001", "ar", "kairouan", None, "jobs,training"),
        ("+21621111002", "fr", "medenine", "ben_guerdane", "business"),
        ("+21650111004", "ar", None, None, "jobs"),  # no language: [gateway] default_language
        ("+21698111003", "en", "tataouine", None, "business,jobs,municipal,training"),
    ]
    vias = [h["via"] for h in subscribers.consent_history(db, "+21620111001")]
    assert vias == ["csv:subscribers_good.csv: paper form"]
    assert {h["channel"] for h in subscribers.consent_history(db, "+21621111002")} == {"import"}


def test_import_bad_file_imports_nothing_and_names_every_row(ctx):
    db = ctx.db()
    with pytest.raises(ImportRejected) as caught:
        import_csv(ctx, db, PAYLOADS / "subscribers_bad.csv")
    assert caught.value.report.lines() == [
        "row 3: consent: empty: only people who agreed to receive messages can be added",
        "row 4: phone: '12345' is not a valid phone number",
        "row 5: phone: '20 111 101' is a duplicate of row 2",
        "row 6: governorate: unknown governorate 'kairwan'",
        "row 7: language: 'de': expected one of ar, fr, en",
        "row 7: interests: unknown interest(s): fishing; known: jobs, training, business, municipal",
        "row 8: consent: 'no' is not a yes (yes, oui, نعم, 1, x)",
    ]
    assert count_subscribers(db) == 0  # row 2 was good, and is not imported either


def test_import_without_consent_column_is_refused(ctx):
    with pytest.raises(ImportRejected) as caught:
        import_csv(ctx, ctx.db(), PAYLOADS / "subscribers_no_consent.csv")
    assert caught.value.report.lines() == [
        "row 1: consent: no 'consent' column (it must record that the person agreed to receive messages)"]


def test_import_never_adds_back_someone_who_said_stop(ctx):
    db = ctx.db()
    subscribers.subscribe(db, "+21620111001", language="ar", channel="sms", via="keyword")
    subscribers.opt_out(db, "+21620111001", channel="sms", via="keyword:STOP")
    stranger_key = contacts.contact_key(ctx.secret("contacts"), "+21698111003")
    subscribers.opt_out(db, "+21698111003", channel="sms", via="keyword:STOP", contact_key=stranger_key)
    subscribers.subscribe(db, "+21621111002", language="fr", channel="ussd", via="menu")
    report = import_csv(ctx, db, PAYLOADS / "subscribers_good.csv")
    assert (report.added, report.opted_out, report.already_subscribed) == (1, [2, 4], [3])
    assert subscribers.get(db, "+21620111001")["status"] == "opted_out"
    assert subscribers.get(db, "+21698111003") is None


def test_import_dry_run_checks_and_writes_nothing(ctx):
    report = import_csv(ctx, ctx.db(), io.StringIO("phone,consent\n20111301,yes\n20111302,x\n"), dry_run=True)
    assert (report.rows, report.added) == (2, 2)
    assert count_subscribers(ctx.db()) == 0


def test_cli_import_reports_rows_and_fails(tmp_path, make_config):
    config = tmp_path / "dalil.toml"
    config.write_text(f"[gateway]\ndatabase = '{tmp_path / 'cli.db'}'\nkeys_dir = '{tmp_path / 'keys'}'\n")
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "init"]).exit_code == 0
    bad = runner.invoke(main, ["--config", str(config), "subscribers", "import", str(PAYLOADS / "subscribers_bad.csv")])
    assert bad.exit_code == 1
    assert "row 4: phone: '12345' is not a valid phone number" in bad.output
    assert "7 bad row(s); nothing imported" in bad.output
    good = runner.invoke(main, ["--config", str(config), "subscribers", "import",
                                str(PAYLOADS / "subscribers_good.csv")])
    assert good.exit_code == 0, good.output
    assert "4 row(s): added 4" in good.output
    listed = runner.invoke(main, ["--config", str(config), "subscribers", "list"])
    assert "status:active 4" in listed.output
    stop = runner.invoke(main, ["--config", str(config), "subscribers", "opt-out", "20 111 001"])
    assert stop.exit_code == 0 and "+21620111001 opted out" in stop.output
    close_thread_connections()
