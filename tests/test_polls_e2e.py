"""A poll answered by many numbers over USSD and SMS in Arabic, French and English, against the real server.

A second answer from the same number is refused politely; a reply that matches nothing re-asks once with the
options, then ends; after close, answers are refused, the results are those given with small cells hidden, the
CLI export matches the console's CSV, the result SMS reach those who asked, and then the database, its WAL and
the log are searched for every number in every format, every keyed hash of it the gateway could make, and the
once-per-person hashes, key and sealed requests seen while the poll was open: none may be left.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows import directory
from gateway.dispatcher import Dispatcher
from gateway.store import scrub_wal
from messages import i18n
from polls import lifecycle, results
import dbscan
from test_referral_e2e import Handset, SmsPhone as _SmsPhone, phone_formats, scan

SMALL = 5


def definition(today: str) -> dict:
    day = date.fromisoformat(today)
    return {
        "keyword": "MAA", "opens": (day - timedelta(days=1)).isoformat(),
        "closes": (day + timedelta(days=30)).isoformat(),
        "title": {"ar": "الماء في حيك", "fr": "L'eau dans votre quartier", "en": "Water in your area"},
        "questions": [
            {"text": {"ar": "هل الماء متوفر كل يوم؟", "fr": "Avez-vous de l'eau tous les jours ?",
                      "en": "Do you have water every day?"},
             "options": [{"ar": "نعم", "fr": "Oui", "en": "Yes"}, {"ar": "أحيانا", "fr": "Parfois", "en": "Sometimes"},
                         {"ar": "لا", "fr": "Non", "en": "No"}]},
            {"text": {"ar": "كم يوما دون ماء؟", "fr": "Combien de jours sans eau ?",
                      "en": "How many days without water?"},
             "type": "number", "min": 0, "max": 31},
            {"text": "poll.demo.age", "demographic": True,
             "options": ["poll.demo.age.young", "poll.demo.age.middle", "poll.demo.age.older"]},
        ],
    }


# (language, channel, home governorate, answers to Q1..Q3, asks for the result)
PEOPLE = (
    [("ar", "ussd", "kairouan", (q1, 2 + i, 1 + i % 4), i < 2) for i, q1 in enumerate([1, 1, 1, 1, 1, 2, 2, 3])]
    + [("fr", "ussd", "tataouine", (q1, 10 + i, 2), i == 0) for i, q1 in enumerate([2, 2, 2, 2, 2, 1])]
    + [("en", "sms", "medenine", (q1, 0, 1 + i % 2), i < 2) for i, q1 in enumerate([1, 1, 3, 3, 3, 3])]
)
NUMBERS = [f"+216201{n:05d}" for n in range(len(PEOPLE))]
LANG_KEY = {"ar": "1", "fr": "2", "en": "3"}


@pytest.fixture
def config(make_config, at_fake):
    # no quiet hours: the result SMS wait for their end, which at night would keep them past the test
    return make_config(channels={"africastalking": at_fake.channel_config(webhook_token="at-token-3f9a")},
                       polls={"small_cell": SMALL}, campaigns={"quiet_hours": ["00:00", "00:00"]})


class SmsPhone(_SmsPhone):
    """The referral test's phone, with provider ids unique across phones (a repeated id is a provider's re-send)."""
    sent = 0

    def send(self, text: str) -> str:
        SmsPhone.sent += 1
        self.n = SmsPhone.sent * 1000
        return super().send(text)


def t(lang, key, **kw):
    return i18n.t(lang, key, **kw)


def option_label(lang, question, answer):
    q = definition("2026-01-02")["questions"][question]
    if q.get("demographic"):
        keys = ["poll.prefer_not", *q["options"]]
        return t(lang, keys[answer - 1])
    return q["options"][answer - 1][lang]


def answer_over_ussd(live, db, phone, session, lang, governorate, answers, wants_result) -> str:
    handset = Handset(live, phone, session)
    handset.press()
    areas = handset.press(LANG_KEY[lang])
    main = handset.choose(areas, directory.area_name(db, governorate)[lang])
    listing = handset.choose(main, t(lang, "menu.main.polls"))
    assert listing.startswith("CON " + t(lang, "poll.list.title")), listing
    screen = handset.choose(listing, definition("2026-01-02")["title"][lang])
    assert screen.startswith("CON 1/3 "), screen
    assert "\n0. " not in screen and "\n00. " not in screen  # a question's screen is all question
    screen = handset.choose(screen, option_label(lang, 0, answers[0]))
    assert screen.startswith("CON 2/3 ") and t(lang, "poll.number", min=0, max=31) in screen
    screen = handset.press(str(answers[1]))
    assert screen.startswith("CON 3/3 ") and t(lang, "poll.prefer_not") in screen  # "prefer not to say" offered
    screen = handset.choose(screen, option_label(lang, 2, answers[2]))
    assert screen.startswith("CON " + t(lang, "poll.thanks", poll_closes="")[:12]), screen
    return handset.choose(screen, t(lang, "poll.result.yes" if wants_result else "poll.result.no"))


def answer_over_sms(live, db, phone, lang, governorate, answers, wants_result, by_keyword) -> str:
    sms = SmsPhone(live, phone)
    areas = sms.send({"ar": "سلام", "fr": "Bonjour", "en": "Hello"}[lang])
    areas = sms.send(LANG_KEY[lang])
    for _ in range(5):
        if directory.area_name(db, governorate)[lang] in areas:
            break
        areas = sms.send("98")
    main = sms.choose(areas, directory.area_name(db, governorate)[lang])
    if by_keyword:
        text = sms.send(f"maa {answers[0]}")  # the keyword with the first answer, any case
    else:
        listing = sms.choose(main, t(lang, "menu.main.polls"))
        text = sms.choose(listing, definition("2026-01-02")["title"][lang])
        assert text.startswith("1/3 ")
        text = sms.send(option_label(lang, 0, answers[0]).upper())  # the option's word, not its number
    assert text.startswith("2/3 "), text
    text = sms.send(str(answers[1]))
    assert text.startswith("3/3 "), text
    text = sms.send(str(answers[2]))
    return sms.choose(text, t(lang, "poll.result.yes" if wants_result else "poll.result.no"))


@pytest.mark.sqlite_only  # scans the SQLite file and its WAL
def test_a_poll_over_ussd_and_sms_in_three_languages_counts_everyone_once_and_keeps_no_one(live, at_fake, tmp_path):
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    poll_id, problems = lifecycle.create(ctx, db, definition(lifecycle.today(ctx)))
    assert problems == []
    lifecycle.open_poll(ctx, db, poll_id)

    for n, (person, phone) in enumerate(zip(PEOPLE, NUMBERS)):
        lang, channel, governorate, answers, wants = person
        if channel == "ussd":
            end = answer_over_ussd(live, db, phone, f"ATUid_poll_{n}", lang, governorate, answers, wants)
            assert end == "END " + t(lang, "poll.result.promised" if wants else "poll.done"), end
        else:
            end = answer_over_sms(live, db, phone, lang, governorate, answers, wants, by_keyword=n % 2 == 0)
            assert end == t(lang, "poll.result.promised" if wants else "poll.done"), end

    # --- a second answer from the same number is refused politely, over USSD and SMS -----------------------------
    again = Handset(live, NUMBERS[0], "ATUid_poll_again")
    listing = again.choose(again.press(), t("ar", "menu.main.polls"))
    assert again.choose(listing, "الماء في حيك") == "END " + t("ar", "poll.already")
    assert SmsPhone(live, NUMBERS[-1]).send("MAA 1") == t("en", "poll.already")

    # --- a reply that matches nothing re-asks once with the options, then ends; nothing is counted --------------
    before = results.build(db, lifecycle.load(db, poll_id), SMALL)
    stray = Handset(live, "+21629999001", "ATUid_poll_stray")
    stray.press()
    main = stray.choose(stray.press("2"), directory.area_name(db, "sfax")["fr"])
    screen = stray.choose(stray.choose(main, t("fr", "menu.main.polls")), "L'eau dans votre quartier")
    again_screen = stray.press("7")
    assert again_screen == "CON " + t("fr", "poll.again") + "\n" + screen[4:]  # the options again, once
    assert stray.press("banane") == "END " + t("fr", "poll.bad")
    assert results.build(db, lifecycle.load(db, poll_id), SMALL) == before

    # --- what the database holds while the poll is open: to be destroyed at close -------------------------------
    tags = [r[0] for r in db.execute("SELECT tag FROM poll_voters")]
    sealed = [r[0] for r in db.execute("SELECT sealed FROM poll_result_requests")]
    key = db.execute("SELECT key FROM poll_keys").fetchone()[0]
    assert len(tags) == len(PEOPLE) and len(sealed) == sum(p[4] for p in PEOPLE)

    # --- close (the console's button), then answers are refused -------------------------------------------------
    assert lifecycle.close(ctx, db, poll_id) == len(sealed)
    late = Handset(live, "+21629999002", "ATUid_poll_late")
    late.press()
    main = late.choose(late.press("3"), directory.area_name(db, "kairouan")["en"])
    assert late.choose(main, t("en", "menu.main.polls")) == "END " + t("en", "poll.none")
    assert SmsPhone(live, "+21629999003").send("MAA 2") == t("ar", "poll.closed")

    # --- results: what was answered, small cells hidden --------------------------------------------------------
    poll = lifecycle.load(db, poll_id)
    built = results.build(db, poll, SMALL)
    assert built["respondents"] == len(PEOPLE)
    q1 = built["questions"][0]
    truth = {"governorate": {}, "language": {}}
    for lang, _, gov, answers, _ in PEOPLE:
        for dim, value in (("governorate", gov), ("language", lang)):
            truth[dim][(answers[0], value)] = truth[dim].get((answers[0], value), 0) + 1
    assert [o["count"] for o in q1["options"]] == [8, 7, 5] and q1["total"] == 20
    assert [o["percent"] for o in q1["options"]] == [40.0, 35.0, 25.0]
    for dim in ("governorate", "language"):
        hidden = 0
        for a, option in enumerate(q1["options"], start=1):
            for value, shown in option["by"][dim].items():
                real = truth[dim].get((a, value), 0)
                if 0 < real < SMALL:
                    assert shown is None, (dim, a, value, real)
                assert shown in (None, real)
                hidden += shown is None
            assert sum(v is None for v in [*option["by"][dim].values(), option["count"]]) != 1  # no lone hole
        assert hidden >= 4
    q2 = built["questions"][1]
    assert q2["count"] == 20 and q2["median"] == 5.5  # six 0s, 2..9, 10..15: the 10th and 11th are 5 and 6
    assert q2["by"]["language"]["fr"] == {"count": 6, "median": 12.5}
    q3 = built["questions"][2]
    assert q3["options"][0]["label"]["fr"] == t("fr", "poll.prefer_not")

    # --- the CLI export is the console's CSV ------------------------------------------------------------------
    runner = CliRunner()
    from gateway.cli import main as dalil
    config_file = tmp_path / "dalil.toml"
    config_file.write_text(_toml(ctx.config), encoding="utf-8")
    csv_file = tmp_path / "poll.csv"
    exported = runner.invoke(dalil, ["--config", str(config_file), "poll", "export", str(poll_id), "--lang", "en",
                                     "-o", str(csv_file)])
    assert exported.exit_code == 0, exported.output
    from test_console_support import add_accounts, signed_in
    add_accounts(live.app, "en")
    client = signed_in(live.app, "admin")
    page = client.get(f"/console/polls/{poll_id}.csv")
    assert page.status_code == 200 and page.data == csv_file.read_bytes()
    rows = [line.split(",") for line in csv_file.read_text(encoding="utf-8").splitlines()]
    assert ["1", "1", "Yes", "all", "", "8", "40.0", "0"] in rows
    assert ["1", "2", "Sometimes", "governorate", "kairouan", "", "", "1"] in rows  # 2 answers: hidden

    # --- the result SMS go to those who asked, in their language; then the gateway forgets them ---------------
    files = [Path(ctx.db_path), Path(ctx.db_path + "-wal"), Path(ctx.config["gateway"]["log_file"])]
    # the queued result SMS are sealed (gateway.memkey): the number is not in the file even while they wait; the
    # scanner works (it finds the poll's title, which the file holds)
    assert not scan(files, [NUMBERS[0]]) and scan(files, [poll.title["fr"]])
    dispatcher = Dispatcher(ctx)
    while dispatcher.run_once():
        pass
    scrub_wal(db)
    sent = {str(m.get("to")): m.get("message") or m.get("body") for m in at_fake.messages}
    for (lang, _, _, _, wants), phone in zip(PEOPLE, NUMBERS):
        headline = t(lang, "poll.headline", title=poll.title[lang], option=poll.questions[0].options[0][lang],
                     percent=i18n.number(40, lang), total=i18n.number(20, lang))
        assert (sent.get(phone) == headline) == wants, (phone, sent.get(phone))

    # --- the attack: can the operator tell who answered what? ------------------------------------------------
    for table in ("poll_voters", "poll_keys", "poll_result_requests"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table  # noqa: S608
    columns = {c for t_ in ("polls", "poll_tally") for c in dbscan.columns(db, t_)}
    assert not {c for c in columns if c.endswith("_at") or "time" in c}  # days at most, never a time
    assert db.execute("SELECT max(n) FROM poll_tally").fetchone()[0] > 1  # counters, not a row per person
    numbers = [fmt for phone in NUMBERS for fmt in phone_formats(phone)]
    leaks = scan(files, numbers)
    assert not leaks, f"numbers left on the gateway: {leaks}"
    keyed = []
    secrets_dir = Path(ctx.keys_dir)
    for phone in NUMBERS:
        keyed.append(hashlib.sha256(phone.encode()).digest())
        keyed.append(hmac.new(key, phone.encode(), hashlib.sha256).digest())  # the destroyed poll key
        keyed += [hmac.new(f.read_bytes(), phone.encode(), hashlib.sha256).digest()
                  for f in secrets_dir.iterdir() if f.is_file() and f.name != "contacts.key"]
    blobs = [*tags, *sealed, key, *keyed]
    for path in files:
        data = path.read_bytes() if path.exists() else b""
        for blob in blobs:
            assert blob not in data, f"{path.name} still holds a value tied to a number"
            assert blob.hex().encode() not in data
    # the contact key (an HMAC of the number, for language and home area) exists, but no poll table refers to it
    contact_keys = {r[0] for r in db.execute("SELECT contact_key FROM contacts")}
    poll_text = repr(db.execute("SELECT * FROM poll_tally").fetchall() + db.execute("SELECT * FROM polls").fetchall())
    assert contact_keys and not any(k in poll_text for k in contact_keys)


def _toml(config: dict) -> str:
    """The running config as a file for the CLI (same database and keys)."""
    gw = config["gateway"]
    return (f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n'
            f'log_file = "{gw["log_file"]}"\n[polls]\nsmall_cell = {config["polls"]["small_cell"]}\n')


def test_a_poll_with_a_missing_text_or_an_overflowing_screen_cannot_be_opened(app, tmp_path):
    ctx = app.extensions["dalil"]
    db = ctx.db()
    raw = definition(lifecycle.today(ctx))
    raw["questions"][0]["text"] = {"fr": "Avez-vous de l'eau ?", "en": "Do you have water?"}  # no Arabic
    raw["questions"][2]["options"] = ["poll.demo.age.young", {"ar": "بين الخامسة والعشرين والرابعة والأربعين من العمر",
                                                               "fr": "25 à 44", "en": "25 to 44"}]
    poll_id, problems = lifecycle.create(ctx, db, raw)
    assert "question 1 text: missing in ar" in problems
    with pytest.raises(lifecycle.PollError, match="question 1 text: missing in ar"):
        lifecycle.open_poll(ctx, db, poll_id)
    raw["questions"][0]["text"]["ar"] = "هل الماء متوفر؟"
    assert lifecycle.replace(ctx, db, poll_id, _definition_toml(raw)) == [
        "question 3 [ar]: the screen does not fit one USSD screen (94 UCS-2 characters): shorten the question or its "
        "options",
        "question 3 [ar]: the re-ask screen does not fit one USSD screen (105 UCS-2 characters): shorten the question "
        "or its options"]
    # the CLI refuses the same way, naming the text and the language
    config_file = tmp_path / "dalil.toml"
    config_file.write_text(_toml({**ctx.config, "polls": {"small_cell": 5}}), encoding="utf-8")
    from gateway.cli import main as dalil
    out = CliRunner().invoke(dalil, ["--config", str(config_file), "poll", "open", str(poll_id)])
    assert out.exit_code == 1 and "question 3 [ar]: the screen does not fit" in out.output
    assert lifecycle.load(db, poll_id).state == "draft"


def _definition_toml(raw: dict) -> str:
    import json

    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        return json.dumps(v, ensure_ascii=False) if isinstance(v, str) else str(v)
    lines = [f"{k} = {value(v)}" for k, v in raw.items() if k != "questions"]
    for q in raw["questions"]:
        lines += ["[[questions]]"] + [f"{k} = {value(v)}" for k, v in q.items()]
    return "\n".join(lines) + "\n"


def test_one_question_screen_per_hop_holds_no_navigation_and_arabic_reads_in_order(live):
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    poll_id, _ = lifecycle.create(ctx, db, definition(lifecycle.today(ctx)))
    lifecycle.open_poll(ctx, db, poll_id)
    screen = SmsPhone(live, "+21629999010").send("MAA")
    assert screen == "\n".join(["1/3 هل الماء متوفر كل يوم؟", "1. نعم", "2. أحيانا", "3. لا"])
    assert re.search(r"[\u0600-\u06FF]", screen)
