"""A campaign delivered end to end: queued for six subscribers in three languages, one opts out by SMS after
queueing, the real dispatcher sends to a fake Twilio on loopback, Twilio's signed delivery receipts come back
over HTTP, and the results count every outcome. A number Twilio refuses as unsubscribed is opted out here
too. Then the CLI."""
from __future__ import annotations

import json

from click.testing import CliRunner
from twilio.request_validator import RequestValidator

from harness import PAYLOADS, LiveServer
from fakes import FakeTwilio
from gateway import create_app
from gateway.cli import main
from gateway.dispatcher import start_background, stop_background
from gateway.inbound import InboundSMS, receive_sms
from gateway.store import close_thread_connections
from messages import campaigns, i18n, subscribers

TOKEN = "twilio-auth-token-for-campaigns"
PUBLIC = "https://dalil.example.tn"
TEXTS = {"ar": "معرض الشغل في تطاوين يوم السبت", "fr": "Salon de l'emploi a Tataouine samedi", "en": "Job fair in "
         "Tataouine on Saturday"}


def status(name: str, sid: str) -> dict:
    return {**json.loads((PAYLOADS / name).read_text()), "MessageSid": sid, "SmsSid": sid}


def post_receipt(live, message: dict, payload: str) -> None:
    fields = status(payload, message["id"])
    signature = RequestValidator(TOKEN).compute_signature(message["status_callback"], fields)
    assert live.post("/hooks/twilio/status", data=fields, headers={"X-Twilio-Signature": signature}).status_code == 204


def test_campaign_delivered_end_to_end_with_receipts_counted(make_config):
    with FakeTwilio(auth_token=TOKEN) as fake:
        app = create_app(make_config(
            gateway={"public_url": PUBLIC},
            channels={"twilio": fake.channel_config(), "africastalking": {"enabled": False}},
            dispatcher={"enabled": True, "poll_seconds": 0.01},
            campaigns={"quiet_hours": ["00:00", "00:00"]}))  # the real clock runs here: no quiet hours
        ctx = app.extensions["dalil"]
        db = ctx.db()
        numbers = [f"+2162066600{i}" for i in range(6)]
        for number, lang in zip(numbers, ["fr", "fr", "ar", "ar", "en", "en"]):
            subscribers.subscribe(db, number, language=lang, governorate="tataouine", interests="jobs",
                                  channel="sms", via="test")
        cid = campaigns.create(ctx, db, name="Job fair", texts=TEXTS, fallback_language="fr",
                               audience={"governorates": ["tataouine"]})
        assert campaigns.send(ctx, db, campaigns.load(db, cid))["queued"] == 6

        # after queueing, one person texts STOP (in Arabic): they get the confirmation and not the blast
        receive_sms(ctx, InboundSMS(channel="twilio", phone=numbers[3], text="توقف", provider_id="SMin1"))

        with LiveServer(app) as live:
            start_background(app)
            try:
                sent = fake.wait_for(6, timeout=15)  # 5 blasts and the STOP confirmation
            finally:
                stop_background(app)
            blasts = [m for m in sent if m["body"] in TEXTS.values()]
            assert len(sent) == 6 and len(blasts) == 5
            assert [m["body"] for m in sent if m not in blasts] == [i18n.t("ar", "sub.stop.done", sender="Dalil")]
            assert {m["to"]: m["body"] for m in blasts} == {
                numbers[0]: TEXTS["fr"], numbers[1]: TEXTS["fr"], numbers[2]: TEXTS["ar"], numbers[4]: TEXTS["en"],
                numbers[5]: TEXTS["en"]}
            for message in blasts[:3]:
                post_receipt(live, message, "twilio_status_delivered.json")
            post_receipt(live, blasts[3], "twilio_status_undelivered.json")  # the fifth gets no receipt

        res = campaigns.results(db, cid)
        assert {k: res[k] for k in campaigns.RESULT_KEYS} == {
            "queued": 0, "sending": 0, "sent": 4, "delivered": 3, "failed": 1, "skipped_opted_out": 1,
            "expired": 0, "cancelled": 0}
        assert res["total"] == res["done"] == 6
        assert campaigns.listing(db)[0]["status"] == "done"
    close_thread_connections()


def test_a_number_twilio_refuses_as_unsubscribed_is_opted_out_here(make_config):
    with FakeTwilio(auth_token=TOKEN) as fake:
        app = create_app(make_config(
            channels={"twilio": fake.channel_config(), "africastalking": {"enabled": False}},
            dispatcher={"enabled": True, "poll_seconds": 0.01, "workers": 1},
            campaigns={"quiet_hours": ["00:00", "00:00"]}))
        ctx = app.extensions["dalil"]
        db = ctx.db()
        for number in ("+21620666100", "+21620666101"):
            subscribers.subscribe(db, number, language="fr", channel="sms", via="test")
        cid = campaigns.create(ctx, db, name="News", texts={"fr": "Nouvelles"}, fallback_language="fr")
        campaigns.send(ctx, db, campaigns.load(db, cid))
        fake.fail_next("permanent", code=21610)  # the first send, to the first subscriber
        start_background(app)
        try:
            assert [m["to"] for m in fake.wait_for(1, timeout=10)] == ["+21620666101"]
        finally:
            stop_background(app)
        assert subscribers.get(db, "+21620666100")["status"] == "opted_out"
        history = subscribers.consent_history(db, "+21620666100")
        assert [(h["action"], h["channel"]) for h in history] == [("opt_in", "sms"), ("opt_out", "twilio")]
        res = campaigns.results(db, cid)
        assert (res["failed"], res["sent"]) == (1, 1)
    close_thread_connections()


def test_campaign_cli_create_preview_send_status_pause_resume_cancel(tmp_path):
    config = tmp_path / "dalil.toml"
    config.write_text(f"[gateway]\ndatabase = '{tmp_path / 'd.db'}'\nkeys_dir = '{tmp_path / 'keys'}'\n"
                      "[campaigns]\nquiet_hours = ['00:00', '00:00']\nprice_per_segment = 0.04\n"
                      "staff_numbers = ['+21670000001']\n")
    run = lambda *args, **kw: CliRunner().invoke(main, ["--config", str(config), *args], **kw)  # noqa: E731
    csv = tmp_path / "people.csv"
    csv.write_text("phone,language,governorate,interests,consent\n20777001,ar,kairouan,jobs,yes\n"
                   "20777002,fr,kairouan,jobs,yes\n20777003,en,kairouan,training,yes\n")
    assert run("init").exit_code == 0
    assert run("subscribers", "import", str(csv)).exit_code == 0

    bad = run("campaign", "create", "Too long", "--text", "fr=" + "é" * 500)
    assert bad.exit_code == 1 and "text (fr): 4 segments" in bad.output
    (tmp_path / "fr.txt").write_text("Formation gratuite à Kairouan : inscriptions ouvertes. Reçu ?")
    made = run("campaign", "create", "Training", "--text", f"fr=@{tmp_path / 'fr.txt'}", "--text",
               "ar=تكوين مجاني في القيروان", "--fallback", "fr", "-g", "kairouan", "--rate", "30")
    assert made.exit_code == 0, made.output
    assert "campaign 1 created as a draft" in made.output and "Estimated cost: 0.120 TND" in made.output
    assert "text (fr): ç force UCS-2" in made.output

    preview = json.loads(run("campaign", "preview", "1", "--json").stdout)
    assert preview["recipients"] == 3 and preview["languages"]["en"]["text"] == "fr"
    assert run("campaign", "send", "1", "--test").stdout.strip() == "2 test message(s) queued to staff numbers"
    declined = run("campaign", "send", "1", input="n\n")
    assert declined.exit_code == 1 and "Send to 3 subscriber(s), about 0.120 TND?" in declined.output
    sent = run("campaign", "send", "1", "--yes")
    assert sent.exit_code == 0 and "3 message(s) queued" in sent.output
    assert json.loads(run("campaign", "status", "1", "--json").stdout)["queued"] == 3
    assert "paused: 3 queued" in run("campaign", "pause", "1").output
    assert "resumed: 3 queued" in run("campaign", "resume", "1").output
    assert "cancelled: 3 queued" in run("campaign", "cancel", "1").output
    listing = json.loads(run("campaign", "status", "--json").stdout)
    assert [(c["id"], c["status"], c["messages"]) for c in listing] == [(1, "cancelled", 3)]
    again = run("campaign", "pause", "1")
    assert again.exit_code == 1 and "status: campaign 1 is cancelled" in again.output
    assert run("campaign", "status", "9").output.strip().endswith("campaign: no campaign 9")
    close_thread_connections()
