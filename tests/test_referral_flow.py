"""Routing, consent and erasure as the flow's actions see them, and the SMS erasure keyword in three languages."""
from __future__ import annotations

import pytest

from flows.actions import ACTIONS, Call, load_actions
from gateway.inbound import InboundSMS, receive_sms
from referrals import csos, store
from referrals.protocol import cso_keys, erasure_match
from referrals.desk import client, home as desk_home, store as desk_store
from harness import LiveServer
from referrals.keyring import coordinator_key
from test_referral_support import PHONE, add_cso, refer, sign_registration
from gateway import outbox

load_actions()


def call_for(app, phone=PHONE, channel="ussd", **vars_):
    ctx = app.extensions["dalil"]
    return Call(ctx=ctx, db=ctx.db(), phone=phone, contact_key="k" * 64, lang="en", channel=channel, vars=dict(vars_))


def test_routing_prefers_the_delegation_then_the_governorate_then_everywhere(app, tmp_path):
    add_cso(app, tmp_path, "nord", needs=("legal",), areas=("kairouan_nord",))
    add_cso(app, tmp_path, "gov", needs=("legal",), areas=("kairouan",))
    add_cso(app, tmp_path, "national", needs=("legal", "food"), areas=("*",))
    db = app.extensions["dalil"].db()
    coord = coordinator_key(app.extensions["dalil"])
    assert csos.route(db, "legal", "kairouan", "kairouan_nord", coord)["id"] == "nord"
    assert csos.route(db, "legal", "kairouan", "sbikha", coord)["id"] == "gov"
    assert csos.route(db, "legal", "medenine", "ben_guerdane", coord)["id"] == "national"
    assert csos.route(db, "legal", None, None, coord)["id"] == "national"
    assert csos.route(db, "food", "kairouan", None, coord)["id"] == "national"
    assert csos.route(db, "shelter", "kairouan", None, coord) is None


def test_least_loaded_and_capacity(app, tmp_path):
    add_cso(app, tmp_path, "big", needs=("health",), areas=("medenine",), capacity=10)
    add_cso(app, tmp_path, "small", needs=("health",), areas=("medenine",), capacity=2)
    db = app.extensions["dalil"].db()
    coord = coordinator_key(app.extensions["dalil"])
    picks = []
    for _ in range(13):
        cso = csos.route(db, "health", "medenine", None, coord)
        picks.append(cso["id"] if cso else None)
        if cso:
            refer(app, cso["id"], need="health", governorate="medenine", delegation=None)
    # load is relative to capacity: small takes 2, then it is full; big fills up to 10; the 13th finds none
    assert picks.count("small") == 2 and picks.count("big") == 10 and picks[-1] is None


def test_route_action_names_the_cso_or_says_none(app, tmp_path):
    add_cso(app, tmp_path, "amal", needs=("legal",), areas=("kairouan",), name="Association Amal")
    call = call_for(app, help_need="legal", help_gov="kairouan", help_deleg="kairouan_nord")
    assert ACTIONS["referral.route"](call) is None and call.vars["org"] == "Association Amal"
    assert ACTIONS["referral.route"](call_for(app, help_need="shelter", help_gov="kairouan")) == "help_none"
    assert ACTIONS["referral.route"](call_for(app, help_need="nonsense")) == "help_none"
    # right after the place: none serves it -> said at once; one does -> consent (optional questions are off)
    assert ACTIONS["referral.check_served"](call_for(app, help_need="shelter", help_gov="kairouan")) == "help_none"
    assert ACTIONS["referral.check_served"](call_for(app, help_need="legal", help_gov="kairouan")) == "help_consent"
    app.extensions["dalil"].config["referrals"]["ask_optional_questions"] = True
    assert ACTIONS["referral.check_served"](call_for(app, help_need="legal", help_gov="kairouan")) is None
    # the home governorate is offered first; without one, the list
    home = call_for(app, governorate="kairouan")
    assert ACTIONS["referral.offer_home"](home) is None and home.vars["home"] == "Kairouan"
    assert ACTIONS["referral.offer_home"](call_for(app)) == "help_gov"


def test_refusing_consent_stores_nothing_and_consenting_once_stores_one(app, tmp_path):
    add_cso(app, tmp_path, "amal", needs=("legal",), areas=("kairouan",))
    db = app.extensions["dalil"].db()
    call = call_for(app, help_need="legal", help_gov="kairouan", help_deleg="kairouan_nord",
                    help_nationality="sudanese", help_status="nopapers", help_note="1")
    registry_entries = db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]  # amal's registration
    ACTIONS["referral.route"](call)
    # "No" is a plain goto to help_declined: no action runs; nothing was written by routing
    assert db.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM ledger_entries").fetchone()[0] == registry_entries == 1
    assert ACTIONS["referral.submit"](call) == "help_done"
    assert ACTIONS["referral.submit"](call) == "help_done"  # a provider retry of the same hop
    assert db.execute("SELECT count(*) FROM referrals").fetchone()[0] == 1
    assert "help_nationality" not in call.vars and "help_note" not in call.vars  # sealed, then forgotten
    # the reference SMS is queued once, sealed, as a reply, after a random delay; it carries the code only
    (row,) = outbox.readable(db)
    assert call.vars["code"] in row["body"] and row["kind"] == "reply" and row["state"] == "queued"
    assert "Association" not in row["body"]


@pytest.mark.parametrize("word,lang", [("ERASE", "en"), ("effacer", "fr"), (" Supprimer ", "fr"), ("امسح", "ar"),
                                       ("delete!", "en")])
def test_erasure_keyword_in_each_language(app, tmp_path, word, lang):
    add_cso(app, tmp_path, "amal")
    add_cso(app, tmp_path, "nour")
    ctx = app.extensions["dalil"]
    assert receive_sms(ctx, InboundSMS("africastalking", PHONE, word, f"id-{lang}-{word}"))
    db = ctx.db()
    # one sealed notice per CSO, whoever the person is: the gateway cannot know which CSOs matter
    assert db.execute("SELECT count(*) FROM erasure_notices").fetchone()[0] == 2
    body = outbox.readable(db)[-1]["body"]
    from messages import i18n
    assert body == i18n.t(lang, "help.erase.done_all")
    blob = b"".join(r[0] for r in db.execute("SELECT sealed FROM erasure_notices"))
    assert PHONE[1:].encode() not in blob


def test_a_repeated_erasure_request_queues_nothing_new(app, tmp_path):
    add_cso(app, tmp_path, "amal")
    ctx = app.extensions["dalil"]
    for i in range(3):
        assert receive_sms(ctx, InboundSMS("africastalking", PHONE, "ERASE", f"id-repeat-{i}"))
    db = ctx.db()
    assert db.execute("SELECT count(*) FROM erasure_notices").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 3  # each text is still answered
    assert receive_sms(ctx, InboundSMS("africastalking", "+21620999888", "ERASE", "id-other"))
    assert db.execute("SELECT count(*) FROM erasure_notices").fetchone()[0] == 2


def test_not_an_erasure_keyword(app):
    from referrals import keywords
    assert keywords.keyword_language("erase my data please") is None
    assert keywords.keyword_language("") is None


def test_erasure_reaches_only_the_desks_holding_that_number(app, tmp_path):
    with LiveServer(app) as live:
        amal = desk_home.load(add_cso(app, tmp_path, "amal", url=live.url))
        nour = desk_home.load(add_cso(app, tmp_path, "nour", url=live.url))
        refer(app, "amal")  # the erased person's
        other_a = refer(app, "amal", phone="+21620999888")
        refer(app, "nour")  # theirs too, not yet fetched
        assert client.sync(amal).received == 2  # nour has not synced yet: its envelope waits on the gateway
        ctx = app.extensions["dalil"]
        assert ACTIONS["referral.erase"](call_for(app)) == "help_erased"
        later = refer(app, "amal")  # asked for help again after erasing: this one stays
        ra, rn = client.sync(amal), client.sync(nour)
        assert ra.erased == 1 and rn.received == 1 and rn.erased == 1
        with desk_store.connect(amal.db_path) as conn:
            assert sorted(r["code"] for r in desk_store.referrals(conn)) == sorted([other_a.code, later.code])
        with desk_store.connect(nour.db_path) as conn:
            assert desk_store.referrals(conn) == []
        db = ctx.db()
        # nothing per referral outlives delivery: no row is left, and the log holds no per-referral "erased"
        # event (the desks acknowledged the notices, one each): nothing tells whose referrals were erased
        assert db.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM erasure_notices").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM delivered").fetchone()[0] == 4
        assert {s for (s,) in db.execute("SELECT DISTINCT state FROM delivered")} == {"fetched"}
        events = [r[0] for r in db.execute("SELECT data FROM ledger_entries")]
        assert sum(b'"erased"' in e for e in events) == 0 and sum(b'"erasure_requested"' in e for e in events) == 1


def test_erasure_match_refuses_absurd_parameters():
    notice = {"salt": "AAAAAAAAAAAAAAAAAAAAAA==", "match": "AAAA", "opslimit": 2, "memlimit": 1 << 40}
    assert not erasure_match.matches(PHONE, notice)
    assert not erasure_match.matches(PHONE, {"salt": "%%%"})


def test_expiry_deletes_unfetched_envelopes_and_logs_it(app, tmp_path, monkeypatch):
    from referrals import relay
    from referrals.protocol import days
    from referrals.runtime import expire_now
    add_cso(app, tmp_path, "amal")
    ctx = app.extensions["dalil"]
    old = refer(app)
    assert relay.expire(ctx, ctx.db()) == 0
    monkeypatch.setattr(days, "today", lambda: "2099-01-01")
    assert expire_now(ctx) == 1
    db = ctx.db()
    assert db.execute("SELECT count(*) FROM referrals WHERE id = ?", [old.referral_id]).fetchone()[0] == 0
    assert b'"expired"' in db.execute("SELECT data FROM ledger_entries ORDER BY idx DESC").fetchone()[0]


def test_background_scheduler_starts_and_stops(app):
    from referrals import runtime
    runtime.start_background(app)
    scheduler = app.extensions["dalil"].services.referrals_scheduler
    assert scheduler.get_job(runtime.JOB_ID) is not None
    # the test config signs at each desk sync (0 minutes); the schedule then runs once a minute, not in a loop
    assert scheduler.get_job(runtime.CHECKPOINT_JOB_ID).trigger.interval.total_seconds() == 60
    assert scheduler.get_job(runtime.NOTICE_JOB_ID) is not None
    runtime.stop_background(app)
    assert app.extensions["dalil"].services.referrals_scheduler is None


def test_registry_rejects_bad_input(app, tmp_path):
    db = app.extensions["dalil"].db()
    public = cso_keys.keygen(tmp_path / "k" / "cso.key")
    ok = dict(name="X", contact="c", needs=["legal"], areas=["kairouan"], public_bundle=public)
    for bad, message in [({"needs": ["magic"]}, "needs"), ({"areas": []}, "areas"),
                         ({"public_bundle": "ssh-rsa AAAA"}, "public key"), ({"name": " "}, "name")]:
        with pytest.raises(csos.RegistryError, match=message):
            csos.new_record("x1", **{**ok, **bad})
    with pytest.raises(csos.RegistryError, match="id"):
        csos.new_record("Bad Id!", **ok)
    signed = sign_registration(app, tmp_path, "x1", public, name="X", needs=("legal",))
    coord = coordinator_key(app.extensions["dalil"])
    with pytest.raises(csos.RegistryError, match="capacity"):
        csos.register(db, coord, signed, capacity=0)
    csos.register(db, coord, signed, capacity=3)
    with pytest.raises(csos.RegistryError, match="already"):
        csos.register(db, coord, signed, capacity=3)
    with pytest.raises(FileExistsError):
        cso_keys.keygen(tmp_path / "k" / "cso.key")  # a CSO's key is never overwritten
    assert store.get_cso(db, "x1")["token_hash"] != b""


def test_optional_questions_without_a_cso_held_channel_warn_at_start(make_config, caplog):
    from gateway import create_app
    create_app(make_config(referrals={"ask_optional_questions": True}))
    assert any("ask_optional_questions" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    caplog.clear()
    create_app(make_config(referrals={"ask_optional_questions": True, "sms_held_by_csos": True}))
    assert not any("ask_optional_questions" in r.getMessage() for r in caplog.records)
