"""Skills profiles over USSD and SMS in Arabic, French and English, an offer and its alerts, against the real server.

An offer reaches exactly the profiles that fit it (trade, level, place, availability) and not one who said STOP;
a YES (by SMS reply or from the USSD menu) sends exactly one SMS, to exactly the offer's contact, holding exactly
that person's number; a NO sends nothing; quiet hours hold the alerts back; a profile is renewed by a one-key
reply to its reminder, expires otherwise, and is deleted from the menu. Then the database, its WAL and the log are
searched for every number in every written form: none may be there in plaintext.
"""
from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from flows import directory
from gateway import contacts, outbox
from gateway.dispatcher import Dispatcher
from gateway.store import scrub_wal
from jobs import matching, offers, profiles, report, store
from messages import i18n
from test_polls_e2e import SmsPhone as _SmsPhone
from test_referral_e2e import Handset, phone_formats, scan
from test_ussd_journey import assert_fits_ussd, assert_reads_in_order

LANG_KEY = {"ar": "1", "fr": "2", "en": "3"}
CONTACT = "+21671000222"
HELLO = {"ar": "سلام", "fr": "Bonjour", "en": "Hello"}


@pytest.fixture
def config(make_config, at_fake):
    return make_config(channels={"africastalking": at_fake.channel_config(webhook_token="at-token-3f9a")},
                       campaigns={"quiet_hours": ["00:00", "00:00"]}, jobs={"small_cell": 2})


class SmsPhone(_SmsPhone):
    """The polls test's phone (provider ids unique across phones), choosing an option on any page of a list."""

    def choose(self, text: str, label: str) -> str:
        for _ in range(6):
            for number, shown in re.findall(r"^(\d+)\. (.+)$", text, flags=re.M):
                if shown == label:
                    return self.send(number)
            text = self.send("98")
        raise AssertionError(f"{label!r} not offered")


def t(lang, key, **kw):
    return i18n.t(lang, key, **kw)


def kairouan_delegation(db) -> dict:
    return directory.delegations(db, "kairouan")[0]


def profile_steps(phone_like, db, lang, trade, level, place, travel, avail) -> str:
    """From the consent screen to the end: ``place`` is "home", or a governorate code; a delegation is chosen
    where the governorate has some (Kairouan's first), else there is none to choose."""
    screen = phone_like.choose(phone_like.last, t(lang, "jobs.consent.yes"))
    screen = phone_like.choose(screen, t(lang, f"jobs.trade.{trade}"))
    screen = phone_like.choose(screen, t(lang, f"jobs.level.{level}"))
    if place == "home":
        screen = phone_like.choose(screen, t(lang, "jobs.place.home"))
        gov = phone_like.home
    else:
        screen = phone_like.choose(screen, t(lang, "jobs.place.other"))
        screen = phone_like.choose(screen, directory.area_name(db, place)[lang])
        gov = place
    if gov == "kairouan":
        screen = phone_like.choose(screen, kairouan_delegation(db)["name"][lang])
    elif directory.delegations(db, gov):
        screen = phone_like.choose(screen, t(lang, "areas.skip"))
    screen = phone_like.choose(screen, t(lang, f"jobs.travel.{travel}"))
    return phone_like.choose(screen, t(lang, f"jobs.avail.{avail}"))


class UssdPerson(Handset):
    def __init__(self, live, phone, session_id, home):
        super().__init__(live, phone, session_id)
        self.home, self.last = home, ""

    def press(self, key=None) -> str:
        screen = super().press(key)
        assert_fits_ussd(screen[4:])  # every screen of the profile and the offers, in every language
        assert_reads_in_order(screen[4:])
        return screen

    def choose(self, screen, label):
        self.last = super().choose(screen, label)
        return self.last

    def open_jobs(self, db, lang, first_time=True):
        if first_time:
            self.press()
            main = self.choose(self.press(LANG_KEY[lang]), directory.area_name(db, self.home)[lang])
        else:
            main = self.press()
        updates = self.choose(main, t(lang, "sub.manage.label"))
        self.last = self.choose(updates, t(lang, "jobs.menu"))
        return self.last


class SmsPerson(SmsPhone):
    def __init__(self, live, phone, home):
        super().__init__(live, phone)
        self.home, self.last = home, ""

    def choose(self, text, label):
        self.last = super().choose(text, label)
        return self.last

    def set_up(self, db, lang):
        self.send(HELLO[lang])
        return self.choose(self.send(LANG_KEY[lang]), directory.area_name(db, self.home)[lang])


# (name, language, channel, home, trade, level, place, travel, availability, matches the offer)
PEOPLE = [
    ("amal", "ar", "ussd", "kairouan", "construction", 2, "home", "governorate", "full", True),
    ("bilel", "fr", "ussd", "kairouan", "construction", 1, "home", "governorate", "full", False),   # level
    ("chris", "en", "sms", "medenine", "construction", 3, "home", "anywhere", "any", True),
    ("dora", "en", "sms", "tataouine", "construction", 2, "home", "governorate", "full", False),   # place
    ("emna", "fr", "sms", "kairouan", "agriculture", 2, "home", "anywhere", "full", False),        # trade
    ("fares", "ar", "ussd", "kairouan", "construction", 2, "home", "delegation", "part", False),   # availability
    ("ghada", "ar", "ussd", "sousse", "construction", 3, "kairouan", "delegation", "full", True),
    ("hedi", "fr", "ussd", "kairouan", "construction", 3, "home", "anywhere", "any", False),       # said STOP
]
NUMBERS = {p[0]: f"+2162033{n:04d}" for n, p in enumerate(PEOPLE)}


def make_profiles(live, db):
    for n, (name, lang, channel, home, trade, level, place, travel, avail, _) in enumerate(PEOPLE):
        if channel == "ussd":
            person = UssdPerson(live, NUMBERS[name], f"ATUid_jobs_{n}", home)
            consent = person.open_jobs(db, lang)
            assert consent.startswith("CON "), consent
            end = profile_steps(person, db, lang, trade, level, place, travel, avail)
            assert end.startswith("END " + t(lang, "jobs.saved", jobs_until="")[:8]), end
        else:
            person = SmsPerson(live, NUMBERS[name], home)
            person.set_up(db, lang)
            # one by the keyword of the other language (any language's keyword opens it), one from the menu
            if name == "chris":
                person.last = person.send("emploi")
            else:
                updates = person.choose(person.send("MENU"), t(lang, "sub.manage.label"))
                person.last = person.choose(updates, t(lang, "jobs.menu"))
            end = profile_steps(person, db, lang, trade, level, place, travel, avail)
            assert end.startswith(t(lang, "jobs.saved", jobs_until="")[:8]), end


def offer_raw(db, today: str) -> dict:
    day = date.fromisoformat(today)
    return {"trade": "construction", "level": 2, "kind": "full", "governorate": "kairouan",
            "delegation": kairouan_delegation(db)["code"], "starts": (day + timedelta(days=3)).isoformat(),
            "ends": (day + timedelta(days=20)).isoformat(), "places": 3, "contact": CONTACT, "contact_language": "fr",
            "texts": {"ar": "بناء مدرسة، 40 دينارا في اليوم", "fr": "Chantier d'école, 40 DT par jour",
                      "en": "School building site, 40 TND a day"}}


def new_rows(db, after: int) -> list[dict]:
    return outbox.readable(db, after)


def last_id(db) -> int:
    return db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]


@pytest.mark.sqlite_only  # scans the SQLite file and its WAL
def test_profiles_an_offer_its_alerts_yes_and_no_and_nothing_in_plaintext(live, at_fake):
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    make_profiles(live, db)
    assert db.execute("SELECT count(*) FROM job_profiles").fetchone()[0] == len(PEOPLE)
    stop = SmsPhone(live, NUMBERS["hedi"]).send("STOP")
    assert stop == t("fr", "sub.stop.done", sender="Dalil")

    offer_id = offers.add(ctx, db, offer_raw(db, profiles.today(ctx)))
    preview = matching.preview(ctx, db, offer_id)
    assert preview["recipients"] == 3  # hedi, never subscribed, said STOP: his contact key is on the opt-out list
    before = last_id(db)
    assert matching.send_alerts(ctx, db, offer_id) == 3
    alerts = {r["to_number"]: r["body"] for r in new_rows(db, before)}
    wanted = {NUMBERS[p[0]]: p[1] for p in PEOPLE if p[9]}
    assert set(alerts) == set(wanted)  # exactly the matching profiles, and not the one who said STOP
    for phone, lang in wanted.items():
        assert alerts[phone] == offers.alert_text(db, store.offer(db, offer_id), lang)
    assert_reads_in_order(alerts[NUMBERS["amal"]])  # the days, the places and the 1 and 2, right to left
    assert "1" in alerts[NUMBERS["chris"]] and "School building site" in alerts[NUMBERS["chris"]]
    with pytest.raises(matching.MatchError):
        matching.send_alerts(ctx, db, offer_id)  # once only

    # --- amal answers YES by a one-key SMS reply: one SMS to the contact, holding her number -------------------
    before = last_id(db)
    reply = SmsPhone(live, NUMBERS["amal"]).send("1")
    assert reply == t("ar", "jobs.answer.yes")
    rows = new_rows(db, before)
    shared = [r for r in rows if r["to_number"] != NUMBERS["amal"]]
    assert [r["to_number"] for r in shared] == [CONTACT]
    assert shared[0]["body"] == offers.share_text(store.offer(db, offer_id), NUMBERS["amal"])
    assert "20 330 000" in shared[0]["body"]
    others = [fmt for p in PEOPLE if p[0] != "amal" for fmt in phone_formats(NUMBERS[p[0]])]
    assert not any(o in shared[0]["body"] for o in others)
    assert SmsPhone(live, NUMBERS["amal"]).send("1") != t("ar", "jobs.answer.yes")  # no second share

    # --- chris says NO (the word, by SMS): nothing goes to anyone but him ------------------------------------
    before = last_id(db)
    assert SmsPhone(live, NUMBERS["chris"]).send("no") == t("en", "jobs.answer.no")
    assert [r["to_number"] for r in new_rows(db, before)] == [NUMBERS["chris"]]

    # --- ghada answers YES from the USSD menu: Offers for me -------------------------------------------------
    ghada = UssdPerson(live, NUMBERS["ghada"], "ATUid_jobs_ghada", "sousse")
    listing = ghada.open_jobs(db, "ar", first_time=False)
    listing = ghada.choose(listing, t("ar", "jobs.mine.offers"))
    screen = ghada.choose(listing, offer_raw(db, profiles.today(ctx))["texts"]["ar"])
    assert screen.startswith("CON " + t("ar", "jobs.alert.title"))
    before = last_id(db)
    end = ghada.choose(screen, t("ar", "jobs.offer.yes"))
    assert end == "END " + t("ar", "jobs.answer.yes")
    rows = new_rows(db, before)
    assert [r["to_number"] for r in rows] == [CONTACT] and "20 330 006" in rows[0]["body"]

    # --- the counts: what the municipality sees ----------------------------------------------------------------
    built = report.build(ctx, db)
    assert built["answers"] == {"alerted": 3, "yes": 2, "no": None, "contacted": 0, "not_contacted": 0}
    trades = built["trades"]
    construction = built["by_trade_level"][trades.index("construction")]
    truth = [1, 3, 3, 7]  # construction profiles by level, then in all: the lone beginner must not show
    assert construction[0] is None and all(v in (None, real) for v, real in zip(construction, truth))
    assert sum(v is None for v in construction) != 1  # no lone hidden cell a total would give away

    # --- a week later: "did they call you?"; the answer is a count, not kept for the person ----------------------
    db.execute("UPDATE job_matches SET follow_day = ? WHERE state = 'yes'", [profiles.today(ctx)])
    for name in ("amal", "ghada"):  # a week on, the menu conversation amal's stray "1" opened is long over
        key = contacts.contact_key(ctx.services.contacts_secret, NUMBERS[name])
        ctx.services.sms_sessions.drop(f"sms:{key}")
    before = last_id(db)
    assert matching.housekeeping(ctx, db)["followed_up"] == 2
    asked = {r["to_number"]: r["body"] for r in new_rows(db, before)}
    assert asked[NUMBERS["amal"]] == t("ar", "jobs.follow.ask", offer=offer_raw(db, "2026-01-01")["texts"]["ar"])
    assert SmsPhone(live, NUMBERS["amal"]).send("1") == t("ar", "jobs.follow.thanks")
    assert SmsPhone(live, NUMBERS["ghada"]).send("نعم") == t("ar", "jobs.follow.thanks")
    assert store.counts(db, offer_id)["contacted"] == 2
    assert db.execute("SELECT count(*) FROM job_matches WHERE state = 'done'").fetchone()[0] == 2

    # --- everything sent; then nothing on disk holds a number in plaintext ------------------------------------
    dispatcher = Dispatcher(ctx)
    while dispatcher.run_once():
        pass
    scrub_wal(db)
    sent_to = [str(m.get("to")) for m in at_fake.messages]
    assert sent_to.count(CONTACT) == 2
    files = [Path(ctx.db_path), Path(ctx.db_path + "-wal"), Path(ctx.config["gateway"]["log_file"])]
    profile_numbers = [fmt for p in PEOPLE if p[0] != "hedi" for fmt in phone_formats(NUMBERS[p[0]])]
    # hedi said STOP before subscribing: the opt-out keeps his contact key, not his number; the others are in no
    # table at all (the profile's number is sealed under keys/jobs.key)
    assert not scan(files, profile_numbers), scan(files, profile_numbers)
    assert scan(files, ["Chantier d'école"])  # the scanner sees what the file holds


def test_deleting_from_the_menu_and_expiry_and_renewal_by_one_key(live):
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    person = UssdPerson(live, "+21620440001", "ATUid_jobs_del", "kairouan")
    person.open_jobs(db, "fr")
    profile_steps(person, db, "fr", "driving", 2, "home", "governorate", "full")
    again = UssdPerson(live, "+21620440001", "ATUid_jobs_del2", "kairouan")
    mine = again.open_jobs(db, "fr", first_time=False)
    assert mine.startswith("CON " + i18n.t("fr", "jobs.mine.title", jobs_summary="").split("\n")[0])
    assert "Conduite" in mine
    ask = again.choose(mine, t("fr", "jobs.mine.delete"))
    assert again.choose(ask, t("fr", "jobs.delete.yes")) == "END " + t("fr", "jobs.deleted")
    assert db.execute("SELECT count(*) FROM job_profiles").fetchone()[0] == 0

    # a profile near its end gets a reminder; "1" keeps it; another never answers and is deleted
    sms = SmsPerson(live, "+21620440002", "medenine")
    sms.set_up(db, "en")
    sms.last = sms.send("JOB")
    profile_steps(sms, db, "en", "it", 3, "home", "anywhere", "any")
    quiet = SmsPerson(live, "+21620440003", "medenine")
    quiet.set_up(db, "en")
    quiet.last = quiet.send("job")
    profile_steps(quiet, db, "en", "it", 1, "home", "anywhere", "any")
    soon = profiles.day_after(profiles.today(ctx), 2)
    db.execute("UPDATE job_profiles SET expires_day = ?", [soon])
    before = last_id(db)
    assert matching.housekeeping(ctx, db)["reminded"] == 2
    reminders = new_rows(db, before)
    day = i18n.when(date.fromisoformat(soon), "en", "short")
    assert {r["body"] for r in reminders} == {t("en", "jobs.remind", day=day, days=90)}
    assert matching.housekeeping(ctx, db)["reminded"] == 0  # once
    renewed = sms.send("1")
    assert renewed.startswith("Profile kept until")
    key_of = {r[0]: r[1] for r in db.execute("SELECT key, expires_day FROM job_profiles")}
    assert sorted(key_of.values()) == [soon, profiles.day_after(profiles.today(ctx), 90)]
    db.execute("UPDATE job_profiles SET expires_day = ? WHERE expires_day = ?",
               [profiles.day_after(profiles.today(ctx), -1), soon])
    assert matching.housekeeping(ctx, db)["expired"] == 1
    assert db.execute("SELECT count(*) FROM job_profiles").fetchone()[0] == 1
    # a stray "1" from someone with nothing waiting goes to the conversation, as before
    assert quiet.send("1") != t("en", "jobs.renewed", day="")
    # "delete my data" (ERASE) deletes the skills profile too
    sms.send("ERASE")
    assert db.execute("SELECT count(*) FROM job_profiles").fetchone()[0] == 0


def test_alerts_wait_for_the_end_of_quiet_hours(make_config, at_fake):
    from gateway import create_app
    from harness import LiveServer
    hour = time.gmtime().tm_hour
    config = make_config(channels={"africastalking": at_fake.channel_config(webhook_token="at-token-3f9a")},
                         campaigns={"quiet_hours": [f"{(hour - 1) % 24:02d}:00", f"{(hour + 2) % 24:02d}:00"]},
                         gateway={"timezone": "UTC"})
    app = create_app(config)
    directory.load_demo(app.extensions["dalil"].db())
    with LiveServer(app) as live:
        ctx = app.extensions["dalil"]
        db = ctx.db()
        person = UssdPerson(live, "+21620550001", "ATUid_jobs_quiet", "kairouan")
        person.open_jobs(db, "en")
        profile_steps(person, db, "en", "construction", 2, "home", "governorate", "full")
        offer_id = offers.add(ctx, db, offer_raw(db, profiles.today(ctx)))
        preview = matching.preview(ctx, db, offer_id)
        assert preview["waits_for_quiet_hours"] and preview["recipients"] == 1
        assert matching.send_alerts(ctx, db, offer_id) == 1
        not_before = db.execute("SELECT not_before FROM outbox ORDER BY id DESC LIMIT 1").fetchone()[0]
        assert not_before >= preview["starts_at"] > time.time()
        dispatcher = Dispatcher(ctx)
        while dispatcher.run_once():
            pass
        assert not at_fake.messages  # nothing goes out in quiet hours


def test_a_subscriber_who_said_stop_and_an_erased_number_get_no_alert(demo_app):
    from messages import subscribers
    ctx = demo_app.extensions["dalil"]
    db = ctx.db()
    people = {"+21620660001": "stays", "+21620660002": "stopped", "+21620660003": "erased"}
    for n, phone in enumerate(people):
        profiles.save(ctx, db, f"k{n}", phone, language="fr", trade="construction", level=2, governorate="kairouan",
                      delegation="", travel="governorate", availability="full")
        subscribers.subscribe(db, phone, language="fr", governorate="kairouan", channel="sms", via="test")
    subscribers.opt_out(db, "+21620660002", channel="sms", via="test")
    subscribers.erase(db, "+21620660003")  # leaves only the coarse mark (a profile left behind would still be skipped)
    offer_id = offers.add(ctx, db, offer_raw(db, profiles.today(ctx)) | {"delegation": ""})
    before = last_id(db)
    assert matching.send_alerts(ctx, db, offer_id) == 1
    assert [r["to_number"] for r in new_rows(db, before)] == ["+21620660001"]
