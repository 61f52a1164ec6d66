"""The USB modem path with the real gammu-smsd: its SQL backend on a SQLite file and Gammu's dummy phone driver
(a phone kept in a folder). Dalil's dispatcher writes the outbox, gammu-smsd sends through the "modem", and
received messages and delivery reports come back through the same file."""
from __future__ import annotations

import logging
import sqlite3
import time

import pytest

from handler_cases import states
from gateway import create_app, channel_state, outbox, routing
from gateway.channels import gammu
from gateway.dispatcher import Dispatcher
from gateway.store import close_thread_connections
from messages.segments import count
from programs import ARABIC_NOTICE, GammuSmsd, wait_for

pytestmark = pytest.mark.slow  # the real gammu-smsd


ARABIC = ARABIC_NOTICE
FRENCH = "Bonjour : le bureau de l'emploi ouvre lundi."


@pytest.fixture
def smsd(tmp_path):
    g = GammuSmsd(tmp_path / "gammu")
    g.create_database()
    yield g
    g.stop()


@pytest.fixture
def app(make_config, smsd):
    app = create_app(make_config(
        channels={"gammu": {"enabled": True, "smsd_database": str(smsd.database), "phone_id": smsd.phone_id,
                            "messages_per_second": 0.0},
                  "africastalking": {"enabled": False}},
        dispatcher={"routes": [["+216", "gammu"]], "poll_seconds": 0.05}))
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    gammu._last_poll[0] = float("-inf")
    yield app
    close_thread_connections()


def ctx_of(app):
    return app.extensions["dalil"]


def cycle(app) -> None:
    """One dispatcher pass (gammu's side is read first), as `dalil serve` does every poll."""
    gammu._last_poll[0] = float("-inf")
    Dispatcher(ctx_of(app)).run_once()


def test_messages_wait_while_the_modem_is_not_polling_then_go_with_parts_and_unicode(app, smsd):
    db = ctx_of(app).db()
    outbox.enqueue(db, "+21620123456", ARABIC, kind="notice")
    cycle(app)
    assert states(app) == {"queued": 1}  # gammu-smsd is not running: no modem heartbeat, nothing handed over
    smsd.start()
    wait_for(lambda: (cycle(app), states(app).get("sent"))[1], what="the message handed to gammu-smsd")
    rows = wait_for(lambda: (r := smsd.query("SELECT SequencePosition, Coding, TextDecoded, UDH, Status FROM "
                                             "sentitems ORDER BY SequencePosition")) and len(r) == 2 and r,
                    what="both parts sent")
    assert count(ARABIC).segments == 2 == len(rows)
    assert {r[1] for r in rows} == {"Unicode_No_Compression"}
    assert "".join(r[2] for r in rows) == ARABIC and all(len(r[2]) <= 67 for r in rows)
    assert [r[3][-4:] for r in rows] == ["0201", "0202"]  # concatenation headers: part 1 of 2, 2 of 2
    assert channel_state.channel_rows(db)["gammu"]["last_seen"]  # the modem's last poll


def test_delivery_reports_update_the_outbox_and_gammus_copy_is_deleted(app, smsd):
    smsd.start()
    db = ctx_of(app).db()
    outbox.enqueue(db, "+21620123456", FRENCH, kind="notice")
    wait_for(lambda: (cycle(app), smsd.query("SELECT Status FROM sentitems"))[1], what="sent by the modem")
    smsd.delivery_report("+21620123456", delivered=True)
    wait_for(lambda: (cycle(app), states(app) == {"delivered": 1})[1], what="delivered")
    assert smsd.query("SELECT count(*) FROM sentitems")[0][0] == 0  # number and text gone from gammu's file
    outbox.enqueue(ctx_of(app).db(), "+21620999888", FRENCH, kind="notice")
    wait_for(lambda: (cycle(app), smsd.query("SELECT Status FROM sentitems"))[1], what="the second sent")
    smsd.delivery_report("+21620999888", delivered=False)
    wait_for(lambda: (cycle(app), states(app).get("failed"))[1], what="the failed report")
    error = ctx_of(app).db().execute("SELECT error FROM outbox WHERE state = 'failed'").fetchone()[0]
    assert error.startswith("gammu: DeliveryFailed")


def test_keywords_and_a_long_unicode_sms_come_in_once(app, smsd):
    smsd.start()
    smsd.receive("+21620111222", "JOIN")
    wait_for(lambda: (cycle(app), states(app).get("queued") or states(app).get("sent"))[1], what="JOIN answered")
    db = ctx_of(app).db()
    assert db.execute("SELECT status FROM subscribers").fetchone()[0] == "active"
    # a two-part Arabic SMS, parts joined before the keyword is read
    smsd.receive("+21620333444", "امسح بياناتي من فضلك، لم أعد أرغب في " * 2, udh="0500034A0201")
    smsd.receive("+21620333444", "الرسائل", udh="0500034A0202")
    before = db.execute("SELECT count(*) FROM inbound_seen").fetchone()[0]
    wait_for(lambda: (cycle(app), ctx_of(app).db().execute("SELECT count(*) FROM inbound_seen").fetchone()[0]
                      == before + 1)[1], what="the joined message")
    wait_for(lambda: smsd.query("SELECT count(*) FROM inbox")[0][0] == 0, what="gammu's inbox emptied")
    cycle(app)
    assert ctx_of(app).db().execute("SELECT count(*) FROM inbound_seen").fetchone()[0] == before + 1


def test_a_malformed_inbox_row_is_logged_and_skipped_not_retried(app, smsd, caplog):
    smsd.start()
    conn = sqlite3.connect(smsd.database)
    for sender, text, udh in [("not-a-number", "JOIN", ""), ("+21620111222", "x", "ZZ-not-hex")]:
        conn.execute("INSERT INTO inbox (SenderNumber, TextDecoded, Text, UDH, RecipientID) VALUES (?, ?, '', ?, ?)",
                     [sender, text, udh, smsd.phone_id])
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING, logger="gateway.channels.gammu"):
        cycle(app)
        cycle(app)
    assert smsd.query("SELECT count(*) FROM inbox")[0][0] == 0
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 2  # once each, not every cycle
    assert "not-a-number" not in " ".join(skipped)
    assert states(app) == {}


def test_a_modem_that_stops_polling_leaves_routing(app, smsd):
    smsd.start()
    cycle(app)
    config = ctx_of(app).config
    assert "gammu" in routing.available_channels(config, ctx_of(app).db())
    smsd.stop()
    later = time.time() + config["channels.gammu"]["offline_after_seconds"] + 1
    assert "gammu" not in routing.available_channels(config, ctx_of(app).db(), later)


def test_dalil_gammu_init_db_creates_the_file_gammu_smsd_accepts(tmp_path):
    from click.testing import CliRunner

    from gateway.cli import main
    smsd = GammuSmsd(tmp_path / "g2")
    path = smsd.database
    result = CliRunner().invoke(main, ["gammu", "init-db", str(path)])
    assert result.exit_code == 0, result.output
    try:
        smsd.start()  # gammu-smsd checks the schema version and registers its modem
    finally:
        smsd.stop()
    again = CliRunner().invoke(main, ["gammu", "init-db", str(path)])
    assert again.exit_code != 0 and "exists" in again.output
