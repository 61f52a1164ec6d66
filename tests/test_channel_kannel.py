"""Kannel with the real programs: bearerbox and smsbox on loopback, fakesmsc as the SMSC, Dalil under waitress.

What an operator would check: the Arabic and French messages reach the SMSC in the right coding and parts,
keywords and a menu conversation come in, delivery reports move the outbox, and bearerbox dying in the middle
of a campaign loses nothing and repeats nothing beyond what was in flight.
"""
from __future__ import annotations

import pytest

from handler_cases import db_of, states
from gateway import create_app, outbox, routing
from gateway.dispatcher import Dispatcher, DispatcherPool
from gateway.store import close_thread_connections
from harness import LiveServer
from messages.segments import count
from programs import ARABIC_NOTICE, Kannel, wait_for

pytestmark = pytest.mark.slow  # the real bearerbox, smsbox and fakesmsc


TOKEN = "kannel-hook-5b1e"
CALLER = "+21620111222"
ARABIC = ARABIC_NOTICE
FRENCH = "Bonjour : le bureau de l'emploi de Kairouan ouvre lundi. Apportez votre carte d'identité."


@pytest.fixture
def kannel(tmp_path):
    k = Kannel(tmp_path / "kannel")
    yield k
    k.stop()


@pytest.fixture
def app(make_config, kannel):
    app = create_app(make_config(
        channels={"kannel": {"enabled": True, "sendsms_url": kannel.sendsms_url, "username": kannel.username,
                             "password": kannel.password, "webhook_token": TOKEN, "smsc": "mt",
                             "sender_id": "DALIL", "timeout_seconds": 3.0},
                  "africastalking": {"enabled": False}},
        dispatcher={"routes": [["+216", "kannel"]], "poll_seconds": 0.05, "backoff_base_seconds": 0.2,
                    "backoff_max_seconds": 1.0, "circuit_failures": 1000, "lease_seconds": 10.0}))
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    yield app
    close_thread_connections()


@pytest.fixture
def live(app, kannel):
    with LiveServer(app) as server:
        app.extensions["dalil"].config["gateway"]["public_url"] = server.url  # where Kannel sends delivery reports
        kannel.start(f"{server.url}/hooks/kannel/{TOKEN}/sms")
        yield server


def drain(app) -> None:
    Dispatcher(app.extensions["dalil"]).run_forever(until_empty=True)


def messages_to(kannel: Kannel, number: str, encoding: str = "utf-8") -> list[str]:
    """Texts the SMSC received for a number, parts joined in order (``encoding``: how to read the parts)."""
    texts, parts = [], {}
    for mt in kannel.received():
        if mt.receiver != number:
            continue
        seq, total = mt.part
        if total == 1:
            texts.append(mt.text(encoding))
            continue
        key = mt.udh[3]
        parts.setdefault(key, {})[seq] = mt.payload
        if len(parts[key]) == total:
            done = parts.pop(key)
            texts.append(b"".join(done[i] for i in range(1, total + 1)).decode(encoding))
    return texts


def arrived(kannel: Kannel, number: str, n: int) -> list | None:
    found = [m for m in kannel.received() if m.receiver == number]
    return found if len(found) >= n else None


def test_arabic_and_french_reach_the_smsc_in_their_coding_and_parts_and_are_delivered(app, live, kannel):
    db = db_of(app)
    outbox.enqueue(db, "+21620123456", ARABIC, kind="notice")
    outbox.enqueue(db, "+21620654321", FRENCH, kind="notice")
    drain(app)
    assert count(ARABIC).segments == 2
    arabic = wait_for(lambda: arrived(kannel, "+21620123456", 2), what="both Arabic parts")
    assert len(arabic) == 2 and sorted(m.part for m in arabic) == [(1, 2), (2, 2)]
    # UCS-2 (UTF-16 big-endian) as Kannel hands it to the SMSC, at most 67 characters a part
    assert messages_to(kannel, "+21620123456", "utf-16-be") == [ARABIC]
    assert all(len(m.payload) <= 2 * 67 for m in arabic)
    french = wait_for(lambda: arrived(kannel, "+21620654321", 1), what="the French SMS")
    assert len(french) == 1 and french[0].udh == b"" and french[0].text() == FRENCH  # one GSM-7 segment
    assert count(FRENCH).encoding == "GSM-7"
    assert {m.sender for m in arabic + french} == {"DALIL"}  # the route's sender id
    # the fake SMSC reports each message delivered; Kannel calls our dlr-url
    wait_for(lambda: states(app) == {"delivered": 2}, what="delivery reports")


def test_keywords_and_a_menu_conversation_come_in_and_get_answers(app, live, kannel):
    def replies() -> int:  # the dispatcher closes this thread's connection when it stops: ask afresh
        return db_of(app).execute("SELECT count(*) FROM outbox WHERE kind = 'reply'").fetchone()[0]

    kannel.inject(CALLER, "1800", "JOIN", wait_until=lambda: replies() >= 1)
    assert db_of(app).execute("SELECT status FROM subscribers").fetchone()[0] == "active"
    kannel.inject(CALLER, "1800", "STOP", wait_until=lambda: replies() >= 2)
    assert db_of(app).execute("SELECT status FROM subscribers").fetchone()[0] != "active"
    drain(app)
    answers = wait_for(lambda: (lambda t: t if len(t) >= 2 else None)(messages_to(kannel, CALLER)),
                       what="the JOIN and STOP confirmations at the SMSC")
    assert len(answers) == 2
    # a menu conversation, in Arabic (UCS-2 from the phone): the first reply asks for the language
    kannel.inject("+21620333444", "1800", "قائمة", wait_until=lambda: replies() >= 3)
    kannel.inject("+21620333444", "1800", "1", wait_until=lambda: replies() >= 4)
    drain(app)
    menu = wait_for(lambda: (lambda t: t if len(t) >= 2 else None)(messages_to(kannel, "+21620333444")),
                    what="two menu screens")
    assert menu[0] != menu[1] and all(text.strip() for text in menu)


def test_a_resent_request_is_handled_once(app, live):
    url = f"/hooks/kannel/{TOKEN}/sms?id=1b9a4c2e-0000-4000-8000-000000000001&from=%2B21620111222&to=1800"
    for _ in range(2):  # smsbox re-sends when it got no answer: same %I
        assert live.post(url, data="JOIN".encode(), headers={"Content-Type": "text/plain; charset=UTF-8"}) \
            .status_code == 200
    assert db_of(app).execute("SELECT count(*) FROM outbox WHERE kind = 'reply'").fetchone()[0] == 1


def test_bearerbox_killed_mid_campaign_loses_nothing(app, live, kannel):
    db = db_of(app)
    app.extensions["dalil"].config["channels.kannel"]["messages_per_second"] = 40.0
    n = 60
    for i in range(n):
        outbox.enqueue(db, f"+2162090{i:04d}", f"Campagne {i}: le salon de l'emploi ouvre lundi.", kind="notice")
    pool = DispatcherPool(app.extensions["dalil"], workers=2).start()
    try:
        wait_for(lambda: len(kannel.received()) >= 15, what="the campaign under way")
        kannel.kill_bearerbox()
        sent_before = len(kannel.received())
        kannel.restart_bearerbox()
        wait_for(lambda: len({m.text() for m in kannel.received()}) == n, timeout=60, what="every message at the SMSC")
    finally:
        pool.stop()
        pool.join(10)
    texts = [m.text() for m in kannel.received()]
    assert {f"Campagne {i}: le salon de l'emploi ouvre lundi." for i in range(n)} == set(texts)
    duplicates = len(texts) - len(set(texts))
    assert duplicates <= 2 * 2  # at most what was in flight: one message per worker, each side of the kill
    assert sent_before < n
    assert states(app).get("queued", 0) == 0 and states(app).get("sending", 0) == 0


def test_a_long_message_is_refused_on_a_one_segment_route_and_never_reaches_the_smsc(app, live, kannel):
    ctx = app.extensions["dalil"]
    ctx.config["channels.kannel"]["max_segments"] = 1  # this aggregator's route carries no concatenated SMS
    with pytest.raises(routing.RouteLimit, match=r"2 segments: route kannel carries at most 1"):
        outbox.enqueue(db_of(app), "+21620123456", ARABIC, kind="notice", config=ctx.config)
    outbox.enqueue(db_of(app), "+21620123456", "Salon de l'emploi lundi.", kind="notice", config=ctx.config)
    drain(app)
    assert [m.text() for m in wait_for(lambda: arrived(kannel, "+21620123456", 1), what="the short one")] == [
        "Salon de l'emploi lundi."]
