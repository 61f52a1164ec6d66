"""Opting in and out in Arabic, French and English, by SMS keyword and from the USSD menu, against the real
server on loopback. Replies are read where the gateway puts them: the outbox."""
from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from gateway.inbound import InboundSMS
from messages import i18n, keywords, subscribers
from messages.segments import count, fold, screen_length
from gateway import outbox

AT_SMS = "/hooks/africastalking/at-token-3f9a/sms"
AT_USSD = "/hooks/africastalking/at-token-3f9a/ussd"
_ids = itertools.count(1)
SENDER = "Dalil"

JOIN = {"ar": ("اشترك شغل القيروان", {"jobs"}, "kairouan"),
        "fr": ("Inscription emploi formation Médenine", {"jobs", "training"}, "medenine"),
        "en": ("join business sidi bouzid", {"business"}, "sidi_bouzid")}
STOP = {"ar": "توقّف", "fr": "Arrêt !", "en": "stop"}
START = {"ar": "ابدأ", "fr": "REPRENDRE", "en": "Start"}
HELP = {"ar": "مساعدة", "fr": "aide", "en": "HELP"}


class Phone:
    def __init__(self, live, number: str):
        self.live, self.number = live, number
        self.db = live.app.extensions["dalil"].db()

    def send(self, text: str) -> str:
        before = self.db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
        r = self.live.post(AT_SMS, data={"from": self.number, "to": "85000", "text": text,
                                         "date": "2026-03-02 10:00:00", "id": f"ATXid_kw_{next(_ids)}",
                                         "linkId": "", "networkCode": "60502"})
        assert r.status_code == 200, r.text
        rows = [r["body"] for r in outbox.readable(self.db, before) if r["kind"] == "reply"]
        assert len(rows) == 1, rows
        return rows[0]

    def subscriber(self) -> dict | None:
        return subscribers.get(self.db, self.number)


def topics(lang, names):
    sep = "، " if lang == "ar" else ", "
    return sep.join(i18n.t(lang, f"sub.{n}") for n in subscribers.INTERESTS if n in names)


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_sms_join_stop_start_help_in_each_language(live, lang):
    phone = Phone(live, {"ar": "+21620444001", "fr": "+21620444002", "en": "+21620444003"}[lang])
    text, interests, governorate = JOIN[lang]
    area = live.app.extensions["dalil"].db().execute(f"SELECT name_{lang} FROM areas WHERE code = ?",
                                                     [governorate]).fetchone()[0]

    reply = phone.send(text)
    sep = "، " if lang == "ar" else ", "
    assert reply == i18n.t(lang, "sub.join.done", topics=topics(lang, interests), area=f"{sep}{area}")
    sub = phone.subscriber()
    assert (sub["language"], sub["interests"], sub["governorate"], sub["status"]) == \
        (lang, interests, governorate, "active")

    assert phone.send(HELP[lang]) == i18n.t(lang, "sub.help", sender=SENDER, menu=i18n.t(lang, "kw.menu"))
    assert phone.send(STOP[lang]) == i18n.t(lang, "sub.stop.done", sender=SENDER)
    assert phone.subscriber()["status"] == "opted_out"
    assert phone.send(START[lang]) == i18n.t(lang, "sub.start.done", sender=SENDER)
    assert phone.subscriber()["status"] == "active"

    history = subscribers.consent_history(phone.db, phone.number)
    assert [(h["action"], h["channel"]) for h in history] == [("opt_in", "sms"), ("opt_out", "sms"), ("opt_in", "sms")]
    assert history[1]["via"] == f"keyword:{keywords.fold(STOP[lang]).upper()}@africastalking"


def test_every_reply_fits_one_segment():
    values = {"topics": "", "area": "", "sender": SENDER, "menu": "MENU"}
    for lang in i18n.LANGUAGES:
        for key in ("sub.join.done", "sub.join.usage", "sub.stop.done", "sub.start.done", "sub.start.already",
                    "sub.help", "sub.stop.confirm"):
            values["menu"] = i18n.t(lang, "kw.menu")
            values["topics"] = i18n.t(lang, "sub.all")
            assert count(i18n.t(lang, key, **values)).segments == 1, (lang, key)


@pytest.mark.parametrize("word", [w for kind in ("stop", "start", "help") for w in keywords.TWILIO_RESERVED[kind]])
def test_the_words_twilio_reserves(live, word):
    phone = Phone(live, "+21620444010")
    phone.send("JOIN")
    phone.send("STOP")  # so that START, YES and UNSTOP have something to undo
    reply = phone.send(word)
    kind = next(k for k, words in keywords.TWILIO_RESERVED.items() if word in words)
    expected = {"stop": "sub.stop.done", "start": "sub.start.done", "help": "sub.help"}[kind]
    assert reply == i18n.t("en", expected, sender=SENDER, menu="MENU")
    assert phone.subscriber()["status"] == ("active" if kind == "start" else "opted_out")


def test_shared_words_answer_in_the_subscribers_language(live):
    phone = Phone(live, "+21620444011")
    phone.send("اشترك")
    assert phone.send("STOP") == i18n.t("ar", "sub.stop.done", sender=SENDER)
    assert phone.send("UNSTOP") == i18n.t("ar", "sub.start.done", sender=SENDER)
    assert phone.send("START") == i18n.t("ar", "sub.start.already")


def test_what_is_not_a_keyword_goes_to_the_menu(live):
    phone = Phone(live, "+21620444012")
    language_menu = i18n.t("ar", "lang.title")
    assert phone.send("End of my contract, I need help").startswith(language_menu)  # a sentence, not END
    assert phone.send("yes").startswith(i18n.t("ar", "nav.invalid"))  # YES means nothing to a stranger
    assert phone.subscriber() is None


def test_yes_from_a_stranger_is_not_taken(app):
    ctx = app.extensions["dalil"]
    sms = InboundSMS(channel="twilio", phone="+21620444013", text="YES", provider_id="SM1")
    assert keywords.handle(ctx, ctx.db(), sms) is None
    assert keywords.handle(ctx, ctx.db(), dataclasses.replace(sms, text="EFFACER")) is None  # referrals' word


def test_join_with_an_unknown_word_explains_instead_of_guessing(live):
    phone = Phone(live, "+21620444014")
    assert phone.send("INSCRIPTION kairwan") == i18n.t("fr", "sub.join.usage")
    assert phone.subscriber() is None
    assert phone.send("INSCRIPTION tout").startswith(i18n.t("fr", "sub.join.done", topics=i18n.t("fr", "sub.all"),
                                                            area=""))


def test_start_from_a_stranger_subscribes_and_stop_from_one_is_remembered(live):
    phone = Phone(live, "+21620444015")
    # a shared word from an unknown number: [gateway] default_language
    assert phone.send("STOP") == i18n.t("ar", "sub.stop.done", sender=SENDER)
    assert phone.subscriber() is None  # kept by contact key only
    phone.send("START")
    assert phone.subscriber()["status"] == "active"
    assert phone.subscriber()["interests"] == set(subscribers.INTERESTS)


# -- USSD ------------------------------------------------------------------------------------------------------

class Handset:
    def __init__(self, live, number: str, session_id: str):
        self.live, self.number, self.session_id, self.inputs = live, number, session_id, []

    def press(self, key: str | None = None) -> str:
        if key is not None:
            self.inputs.append(key)
        r = self.live.post(AT_USSD, data={"sessionId": self.session_id, "serviceCode": "*216#",
                                          "phoneNumber": self.number, "networkCode": "60502",
                                          "text": "*".join(self.inputs)})
        assert r.status_code == 200 and r.text.startswith(("CON ", "END ")), r.text
        encoding, units = screen_length(r.text[4:])
        assert units <= (182 if encoding == "GSM-7" else 80), r.text
        return r.text

    def choose(self, screen: str, label: str) -> str:
        for _ in range(10):
            options = dict(re.findall(r"^(\d+)\. (.+)$", screen[4:], flags=re.M))
            for number, text in options.items():
                if text == label:
                    return self.press(number)
            assert "98." in screen.rsplit("\n", 1)[-1], f"{label!r} not offered:\n{screen}"  # the navigation line
            screen = self.press("98")
        raise AssertionError(label)


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_ussd_subscribe_then_stop_in_each_language(live, lang):
    number = {"ar": "+21620555001", "fr": "+21620555002", "en": "+21620555003"}[lang]
    shown = fold if lang == "fr" else str  # [ussd] fold_accents: French screens lose the accents GSM-7 lacks
    t = lambda key, **kw: shown(i18n.t(lang, key, **kw))  # noqa: E731
    db = live.app.extensions["dalil"].db()

    handset = Handset(live, number, f"sub-{lang}")
    screen = handset.press()
    screen = handset.press({"ar": "1", "fr": "2", "en": "3"}[lang])
    screen = handset.choose(screen, db.execute(f"SELECT name_{lang} FROM areas WHERE code = 'tataouine'").fetchone()[0])
    screen = handset.choose(screen, t("sub.manage.label"))  # "My updates": not subscribed yet, offered to
    assert screen.startswith("CON " + t("sub.none.title"))
    screen = handset.choose(screen, t("sub.none.subscribe"))
    assert handset.choose(screen, t("sub.training")) == "END " + t("sub.done")
    sub = subscribers.get(db, number)
    assert (sub["language"], sub["interests"], sub["governorate"], sub["status"]) == \
        (lang, {"training"}, "tataouine", "active")

    # "My updates" names the topics, adds one, removes one
    handset = Handset(live, number, f"topics-{lang}")
    screen = handset.choose(handset.press(), t("sub.manage.label"))
    assert screen.startswith("CON " + t("sub.manage.title", topics=t("sub.training")) + "\n")
    screen = handset.choose(screen, t("sub.manage.add"))
    assert handset.choose(screen, t("sub.jobs")) == "END " + t("sub.done")
    handset = Handset(live, number, f"topics2-{lang}")
    screen = handset.choose(handset.press(), t("sub.manage.label"))
    both = t("sub.list.separator").join([t("sub.jobs"), t("sub.training")])
    assert screen.startswith("CON " + t("sub.manage.title", topics=both) + "\n")
    screen = handset.choose(screen, t("sub.manage.remove"))
    assert screen.startswith("CON " + t("sub.remove.title"))
    assert handset.choose(screen, t("sub.training")) == "END " + t("sub.removed", topics=t("sub.jobs"))
    assert subscribers.get(db, number)["interests"] == {"jobs"}

    handset = Handset(live, number, f"unsub-{lang}")
    screen = handset.press()
    screen = handset.choose(screen, t("sub.manage.label"))
    assert screen.startswith("CON " + t("sub.manage.title", topics=t("sub.jobs")))
    screen = handset.choose(screen, t("sub.manage.stop"))
    assert screen.startswith("CON " + t("sub.stop.ask"))
    assert handset.choose(screen, t("sub.stop.yes")) == "END " + t("sub.stop.confirm")
    assert subscribers.get(db, number)["status"] == "opted_out"
    assert [(h["action"], h["channel"], h["via"]) for h in subscribers.consent_history(db, number)] == \
        [("opt_in", "ussd", "menu"), ("opt_in", "ussd", "menu"), ("topic_removed", "ussd", "menu"),
         ("opt_out", "ussd", "menu")]

    handset = Handset(live, number, f"again-{lang}")  # no longer subscribed: offered to subscribe instead
    screen = handset.press()
    assert handset.choose(screen, t("sub.manage.label")).startswith("CON " + t("sub.none.title"))
