"""A person asks for help over USSD and over SMS against the real server; the gateway keeps nothing that says who.

After both referrals, the SMS are sent through a fake Africa's Talking (so the outbox wipes them, as in
production), and the gateway's database file, its WAL and its log file are scanned for the caller's number in
every format, the nationality and situation answers, and the note: none may be there. The CSO's desk, with its
key, then shows all of them.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from flows import directory
from gateway.dispatcher import Dispatcher
from gateway.store import scrub_wal
from messages import i18n
from messages.segments import fold
from referrals import notices
from referrals.desk import client, home as desk_home, store as desk_store
from referrals.desk.web import create_desk_app
from test_referral_support import add_cso
from gateway import outbox

AT_USSD = "/hooks/africastalking/at-token-3f9a/ussd"
AT_SMS = "/hooks/africastalking/at-token-3f9a/sms"
PHONE = "+21620123456"
NOTE = "Landlord kept my passport since March, Zq7"
CASEWORKER = "+21698000111"


def phone_formats(e164: str) -> list[str]:
    national = e164[4:]
    return [e164, e164[1:], "00" + e164[1:], national, f"{national[:2]} {national[2:5]} {national[5:]}",
            f"{national[:2]} {national[2:4]} {national[4:6]} {national[6:]}", f"+216 {national}",
            f"216 {national[:2]} {national[2:5]} {national[5:]}"]


def secrets_of_the_person() -> list[str]:
    words = [*phone_formats(PHONE), NOTE, "Landlord kept my passport", "sudanese", "nopapers"]
    words += [i18n.t(lang, key) for lang in i18n.LANGUAGES for key in ("help.nat.sudanese", "help.status.nopapers")]
    return words


def scan(paths: list[Path], words: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        data = path.read_bytes() if path.exists() else b""
        folded = data.lower()
        for word in words:
            for encoded in (word.encode("utf-8"), word.encode("utf-16-le")):
                if encoded.lower() in folded:
                    found.append((path.name, word))
    return found


class Handset:
    def __init__(self, live, phone, session_id):
        self.live, self.phone, self.session_id, self.inputs = live, phone, session_id, []

    def press(self, key=None) -> str:
        if key is not None:
            self.inputs.append(key)
        r = self.live.post(AT_USSD, data={"sessionId": self.session_id, "serviceCode": "*216#",
                                          "phoneNumber": self.phone, "text": "*".join(self.inputs)})
        assert r.status_code == 200, r.text
        return r.text

    def choose(self, screen: str, label: str) -> str:
        for _ in range(10):
            for number, text in re.findall(r"^(\d+)\. (.+)$", screen, flags=re.M):
                if text in (label, fold(label)):  # French USSD screens are folded to GSM-7 ([ussd] fold_accents)
                    return self.press(number)
            assert "98." in screen.rsplit("\n", 1)[-1], f"{label!r} not offered:\n{screen}"  # the navigation line
            screen = self.press("98")
        raise AssertionError(label)


class SmsPhone:
    def __init__(self, live, phone):
        self.live, self.phone, self.n = live, phone, 0
        self.db = live.app.extensions["dalil"].db()

    def send(self, text: str) -> str:
        self.n += 1
        before = self.db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
        r = self.live.post(AT_SMS, data={"from": self.phone, "to": "85000", "text": text, "id": f"ATXid_ref_{self.n}",
                                         "date": "2026-11-23 10:00:00", "linkId": "", "networkCode": "60502"})
        assert r.status_code == 200, r.text
        return "\n".join(r["body"] for r in outbox.readable(self.db, before) if r["to_number"] == self.phone)

    def choose(self, text: str, label: str) -> str:
        number = next(n for n, shown in re.findall(r"^(\d+)\. (.+)$", text, flags=re.M) if shown == label)
        return self.send(number)


@pytest.fixture
def config(make_config, at_fake):
    return make_config(channels={"africastalking": at_fake.channel_config(webhook_token="at-token-3f9a")},
                       referrals={"person_sms_delay_seconds": [0, 0], "ask_optional_questions": True})


@pytest.mark.sqlite_only  # scans the SQLite file and its WAL
def test_referral_over_ussd_and_sms_leaves_nothing_that_identifies_the_person(live, at_fake, tmp_path):
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    home = add_cso(live.app, tmp_path, "amal", needs=("legal", "health"), areas=("kairouan",), url=live.url,
                   notify=CASEWORKER, name="Association Amal")
    t = lambda key, **kw: i18n.t("en", key, **kw)  # noqa: E731
    kairouan = directory.area_name(db, "kairouan")["en"]

    # --- over USSD: need, where, nationality and situation, consent naming the CSO ---------------------------
    ussd = Handset(live, PHONE, "ATUid_ref_1")
    assert ussd.press().startswith("CON ")
    main = ussd.choose(ussd.press("3"), kairouan)  # English, home governorate
    screen = ussd.choose(main, i18n.t("en", "menu.main.help"))
    assert screen.startswith("CON " + t("help.need.title"))
    screen = ussd.choose(screen, t("help.need.legal"))
    # the place: home governorate first, another place second; no delegation asked
    assert screen.startswith("CON " + t("help.where.place", home=kairouan))
    screen = ussd.choose(screen, t("help.where.home"))
    assert screen.startswith("CON " + t("help.nat.title"))  # asked only because the settings turn it on
    assert t("help.skip") in screen  # "prefer not to say" is always offered
    screen = ussd.choose(screen, t("help.nat.sudanese"))
    assert t("help.skip") in screen
    consent = ussd.choose(screen, t("help.status.nopapers"))  # no note over USSD: straight to consent
    assert consent.startswith("CON " + t("help.consent.title", org="Association Amal"))
    done = ussd.choose(consent, t("help.consent.yes"))
    assert done.startswith("END ")
    ussd_code = re.search(r"R-[0-9A-Z]{6}", done).group(0)

    # --- over SMS, with a note --------------------------------------------------------------------------------
    sms = SmsPhone(live, PHONE)
    text = sms.send("menu")
    text = sms.choose(text, i18n.t("en", "menu.main.help"))
    text = sms.choose(text, t("help.need.legal"))
    text = sms.choose(text, t("help.where.other"))
    text = sms.choose(text, kairouan)
    text = sms.choose(text, t("help.nat.sudanese"))
    text = sms.choose(text, t("help.status.nopapers"))
    assert text.startswith(t("help.note.title"))
    text = sms.send(NOTE)
    assert text.startswith(t("help.consent.title", org="Association Amal"))
    text = sms.choose(text, t("help.consent.yes"))
    sms_code = re.search(r"R-[0-9A-Z]{6}", text).group(0)
    assert sms_code != ussd_code

    # the scanner works (it finds the CSO's public name); the queued SMS are sealed, so the number is not there
    db_file = Path(ctx.db_path)
    files = [db_file, Path(str(db_file) + "-wal"), Path(ctx.config["gateway"]["log_file"])]
    assert scan(files, ["Association Amal"])
    assert not scan(files, [PHONE])

    # --- the SMS go out; the person's are wiped once sent ------------------------------------------------------
    dispatcher = Dispatcher(ctx)
    while dispatcher.run_once():
        pass
    assert not [m for m in at_fake.messages if CASEWORKER in str(m.get("to"))]  # no notice at the referral's time
    assert notices.flush(ctx, db) == 1  # the digest, at a random moment of the window in `dalil serve`
    while dispatcher.run_once():
        pass
    scrub_wal(db)
    to_person = [m["message"] if "message" in m else m.get("body", "") for m in at_fake.messages
                 if PHONE in str(m.get("to"))]
    # the code only: the reference SMS does not name the organisation (over SMS the conversation itself did,
    # which the table of who sees what in docs/referrals.md says)
    assert i18n.t("en", "referral.sms.code", code=ussd_code) in to_person, to_person
    assert i18n.t("en", "referral.sms.code", code=sms_code) in to_person, to_person
    (digest,) = [m.get("message") or m.get("body") for m in at_fake.messages if CASEWORKER in str(m.get("to"))]
    assert digest == i18n.t("fr", "referral.sms.digest", count=2)
    assert not re.search(r"R-[0-9A-Z]{6}", digest) and "juridique" not in digest

    leaks = scan(files, secrets_of_the_person())
    assert not leaks, f"found on the gateway: {leaks}"

    # --- the desk, with the CSO's key, shows the number, the answers and the note ----------------------------
    desk = desk_home.load(home)
    result = client.sync(desk)
    assert result.ok and result.received == 2, result
    web = create_desk_app(desk).test_client()
    inbox = web.get("/", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert ussd_code in inbox and sms_code in inbox
    with desk_store.connect(desk.db_path) as conn:
        by_code = {r["code"]: r["id"] for r in desk_store.referrals(conn)}
    page = web.get(f"/r/{by_code[sms_code]}", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert PHONE in page and "Sudanese" in page and "Without papers" in page and NOTE in page
    page = web.get(f"/r/{by_code[ussd_code]}", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert PHONE in page and "Sudanese" in page

    # acknowledged: the envelopes are gone from the gateway too
    assert db.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0
    scrub_wal(db)
    assert not scan(files, secrets_of_the_person())

    # --- the person asks for erasure from the USSD menu; the desk deletes both referrals -----------------------
    again = Handset(live, PHONE, "ATUid_ref_2")
    main = again.press()
    screen = again.choose(main, i18n.t("en", "menu.main.settings"))
    screen = again.choose(screen, i18n.t("en", "settings.erase"))
    assert screen.startswith("CON " + t("help.erase.title"))
    assert again.choose(screen, t("help.erase.yes")) == "END " + t("help.erase.done_all")
    result = client.sync(desk)
    assert result.erased == 2
    with desk_store.connect(desk.db_path) as conn:
        assert desk_store.referrals(conn) == []
    assert db.execute("SELECT count(*) FROM referrals").fetchone()[0] == 0
    while dispatcher.run_once():
        pass
    scrub_wal(db)
    assert not scan(files, secrets_of_the_person())


@pytest.mark.parametrize("lang,choice", [("ar", "1"), ("fr", "2")])
def test_refusing_consent_halfway_over_ussd_leaves_nothing(live, tmp_path, lang, choice):
    from messages.segments import screen_length
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    add_cso(live.app, tmp_path, "amal", needs=("protection",), areas=("*",), name="Association Amal")
    t = lambda key, **kw: i18n.t(lang, key, **kw)  # noqa: E731
    phone = {"ar": "+21620555001", "fr": "+21620555002"}[lang]
    ussd = Handset(live, phone, f"ATUid_refuse_{lang}")
    ussd.press()
    main = ussd.choose(ussd.press(choice), directory.area_name(db, "medenine")[lang])
    screens = [ussd.choose(main, t("menu.main.help"))]
    screens.append(ussd.choose(screens[-1], t("help.need.protection")))
    screens.append(ussd.choose(screens[-1], t("help.where.other")))
    screens.append(ussd.choose(screens[-1], i18n.t(lang, "areas.skip")))  # where: prefer not to say
    # this module turns the optional questions on; "prefer not to say" comes first
    assert screens[-1].startswith("CON " + t("help.nat.title"))
    screens.append(ussd.choose(screens[-1], t("help.skip")))
    screens.append(ussd.choose(screens[-1], t("help.skip")))
    consent = t("help.consent.title", org="Association Amal")
    assert screens[-1].startswith("CON " + consent[:20]) and "Association Amal" in screens[-1]
    screens.append(ussd.choose(screens[-1], t("help.consent.no")))
    assert screens[-1] == "END " + t("help.declined")
    for screen in screens:
        encoding, units = screen_length(screen[4:])
        assert units <= (182 if encoding == "GSM-7" else 80), screen
    for table in ("referrals", "erasure_notices"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    events = [json.loads(data)["event"] for (data,) in db.execute("SELECT data FROM ledger_entries")]
    assert events == ["registration"]  # amal's, from before the call: the call logged nothing
    assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
