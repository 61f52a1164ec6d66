"""The information line as an SMS conversation: numbered replies, a menu keyword per language, an idle timeout.

Inbound texts arrive the way Africa's Talking posts them; replies are read where the gateway puts them, the
outbox, as the dispatcher would send them.
"""
from __future__ import annotations

import itertools
import re

import pytest

from flows import directory
from messages import bidi, i18n
from test_ussd_journey import MAIN_MENU
from messages.segments import count
from gateway import outbox

AT_SMS = "/hooks/africastalking/at-token-3f9a/sms"
_ids = itertools.count(1)


class SmsPhone:
    def __init__(self, live, phone: str):
        self.live, self.phone = live, phone
        self.db = live.app.extensions["dalil"].db()

    def send(self, text: str) -> str:
        before = self._last_id()
        r = self.live.post(AT_SMS, data={"from": self.phone, "to": "85000", "text": text,
                                         "date": "2026-11-23 10:00:00", "id": f"ATXid_{next(_ids)}",
                                         "linkId": "", "networkCode": "60502"})
        assert r.status_code == 200, r.text
        rows = [(r["body"], r["segments"]) for r in outbox.readable(self.db, before)
                if r["to_number"] == self.phone and r["kind"] == "reply"]
        assert len(rows) == 1, rows
        body, segments = rows[0]
        assert segments == count(body).segments <= 3  # [sms] reply_segments
        return body

    def _last_id(self) -> int:
        return self.db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]


def options(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(\d+)\. (.+)$", text, flags=re.M))


def number_of(text: str, label: str) -> str:
    return next(n for n, shown in options(text).items() if shown == label)


@pytest.mark.parametrize("lang,keyword", [("ar", "قائمة"), ("fr", "MENU"), ("en", "menu")])
def test_sms_journey_to_a_programme_and_a_subscription(live, lang, keyword):
    phone = SmsPhone(live, {"ar": "+21620333001", "fr": "+21620333002", "en": "+21620333003"}[lang])
    t = lambda key: i18n.t(lang, key)  # noqa: E731

    first = phone.send("Salam")
    assert first == "\n".join([i18n.t("ar", "lang.title"), "1. العربية", "2. Français", "3. English"])
    areas = phone.send({"ar": "1", "fr": "2", "en": "3"}[lang])
    assert areas.startswith(t("area.home.title") + "\n1. ")
    # three SMS segments hold all 24 governorates, with room for More on the first page in Arabic
    while directory.area_name(phone.db, "tataouine")[lang] not in options(areas).values():
        areas = phone.send("98")
    main = phone.send(number_of(areas, directory.area_name(phone.db, "tataouine")[lang]))
    assert main == "\n".join([t("menu.main.title")] + [
        f"{n}. {t(key)}" for n, key in enumerate(MAIN_MENU, start=1)])

    business = phone.send("2")
    expected = directory.list_services(phone.db, ["business"], "tataouine")
    assert business.startswith(t("list.business.title") + "\n")
    shown = [label for n, label in options(business).items() if n not in ("0", "00", "98")]
    assert shown and shown == [s["short_name"][lang] for s in expected][:len(shown)]

    detail = phone.send("1")
    service = directory.service(phone.db, expected[0]["id"], "tataouine")
    # the same first screen as over USSD: the list's title, the phone number, the two choices
    assert detail.startswith("\n".join([bidi.safe(service["short_name"][lang], lang),
                                        i18n.t(lang, "detail.phone", phone=bidi.phone(service["phone"], lang)),
                                        f"1. {t('detail.sms')}", f"2. {t('detail.subscribe')}"]))

    assert phone.send("2") == t("sub.done")
    row = phone.db.execute("SELECT language, governorate, interests FROM subscribers WHERE phone = ?",
                           [phone.phone]).fetchone()
    assert row == (lang, "tataouine", "business")

    # the conversation ended; any text starts again, at the main menu since language and area are known
    assert phone.send("hello") == main
    assert phone.send("9") == t("nav.invalid") + "\n" + main.split("\n", 1)[1]  # the hint in the title's place
    assert phone.send(keyword) == main  # the menu keyword restarts from anywhere


def test_an_idle_conversation_starts_again(live):
    phone = SmsPhone(live, "+21620333004")
    phone.send("hi")
    areas = phone.send("3")
    sessions = live.app.extensions["dalil"].services.sms_sessions
    sessions.ttl = 0  # as if [sms] session_idle_minutes had passed
    # "1" is not read as Kairouan: the conversation starts again, and English is remembered
    assert areas.startswith("Where do you live?")
    restarted = phone.send("1")
    assert restarted.startswith("Where do you live?\n1. ") and "0. Back" not in restarted


def test_a_resent_sms_gets_one_reply(live):
    db = live.app.extensions["dalil"].db()
    form = {"from": "+21620333005", "to": "85000", "text": "hi", "date": "2026-11-23 10:00:00", "id": "ATXid_dup"}
    for _ in range(3):  # AT re-sends until it sees a 200
        assert live.post(AT_SMS, data=form).status_code == 200
    assert [r["to_number"] for r in outbox.readable(db)] == ["+21620333005"]
