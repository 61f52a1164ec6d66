"""A job seeker in Tataouine dials the service on a basic phone, in each language, from the first screen to a
programme's detail and a subscription, against the real server on loopback."""
from __future__ import annotations

import re

import pytest

from flows import directory
from messages import i18n
from messages.segments import screen_length
from gateway import outbox

AT_USSD = "/hooks/africastalking/at-token-3f9a/ussd"
LANGUAGE_CHOICE = {"ar": "1", "fr": "2", "en": "3"}


class Handset:
    """Posts what Africa's Talking posts: every input so far, joined by '*'."""

    def __init__(self, live, phone: str, session_id: str):
        self.live, self.phone, self.session_id = live, phone, session_id
        self.inputs: list[str] = []
        self.screens: list[str] = []

    def dial(self) -> str:
        return self._post()

    def press(self, key: str) -> str:
        self.inputs.append(key)
        return self._post()

    def _post(self) -> str:
        r = self.live.post(AT_USSD, data={"sessionId": self.session_id, "serviceCode": "*216#",
                                          "phoneNumber": self.phone, "networkCode": "60502",
                                          "text": "*".join(self.inputs)})
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/plain")
        assert r.text.startswith(("CON ", "END "))
        screen = r.text[4:]
        assert_fits_ussd(screen)
        self.screens.append(r.text)
        return r.text


def assert_fits_ussd(screen: str) -> None:
    encoding, units = screen_length(screen)
    assert units <= (182 if encoding == "GSM-7" else 80), f"{units} {encoding} characters:\n{screen}"


def options(screen: str) -> dict[str, str]:
    return dict(re.findall(r"^(\d+)\. (.+)$", screen.removeprefix("CON ").removeprefix("END "), flags=re.M))


def choose(handset: Handset, screen: str, label: str) -> str:
    """Press the number shown next to label, paging with 98 (More) until it appears."""
    for _ in range(10):
        for number, text in options(screen).items():
            if text == label:
                return handset.press(number)
        assert "98" in options(screen), f"'{label}' not offered:\n{screen}"
        screen = handset.press("98")
    raise AssertionError(f"'{label}' never offered")


def all_options(handset: Handset, screen: str) -> dict[str, str]:
    """Every numbered option of a screen, paging with 98 (More) and coming back with 0 (Back)."""
    found, pages = {}, 0
    while True:
        found.update({n: label for n, label in options(screen).items() if n not in ("0", "00", "98")})
        if "98" not in options(screen):
            break
        screen, pages = handset.press("98"), pages + 1
    for _ in range(pages):
        handset.press("0")
    return found


def t(lang, key, **kw):
    return i18n.t(lang, key, **kw)


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_ussd_journey_to_a_programme_and_a_subscription(live, lang):
    phone = {"ar": "+21620111001", "fr": "+21620111002", "en": "+21620111003"}[lang]
    handset = Handset(live, phone, f"ATUid_{lang}_1")
    db = live.app.extensions["dalil"].db()

    first = handset.dial()
    assert first == "CON " + "\n".join([t("ar", "lang.title"), "1. العربية", "2. Français", "3. English"])

    area_screen = handset.press(LANGUAGE_CHOICE[lang])
    assert area_screen.startswith("CON " + t(lang, "area.home.title") + "\n1. ")
    tataouine = directory.area_name(db, "tataouine")[lang]
    main = choose(handset, area_screen, tataouine)
    assert main.startswith("CON " + t(lang, "menu.main.title") + "\n1. ")
    assert all_options(handset, main) == {
        str(n): t(lang, "menu.main." + key)
        for n, key in enumerate(["work", "business", "municipal", "help", "subscribe", "polls", "settings"], start=1)}

    work = handset.press("1")
    # one level below the main menu, Back is the way to it: no separate "Main menu" line
    assert work == "CON " + "\n".join([t(lang, "work.title"), f"1. {t(lang, 'work.jobs')}",
                                       f"2. {t(lang, 'work.training')}", f"0. {t(lang, 'nav.back')}"])

    jobs = handset.press("1")
    expected = directory.list_services(db, ["jobs"], "tataouine")
    assert jobs.startswith("CON " + t(lang, "list.jobs.title") + "\n")
    first_item = expected[0]
    assert options(jobs)["1"] == first_item["short_name"][lang]
    assert "Tataouine" in directory.service(db, first_item["id"])["name"]["en"]  # local offices come first

    detail = handset.press("1")
    name = directory.service(db, first_item["id"])["name"][lang]
    assert detail.startswith("CON " + name + "\n")
    # the detail runs over more than one screen; its choices come at the end
    assert all_options(handset, detail) == {"1": t(lang, "detail.sms"), "2": t(lang, "detail.subscribe")}

    done = handset.press("2")
    assert done == "END " + t(lang, "sub.done")

    row = db.execute("SELECT language, governorate, interests, status FROM subscribers WHERE phone = ?",
                     [phone]).fetchone()
    assert row == (lang, "tataouine", "jobs", "active")
    consent = db.execute("SELECT c.action, c.channel, c.via FROM consent_log c JOIN subscribers s "
                         "ON s.id = c.subscriber_id WHERE s.phone = ?", [phone]).fetchall()
    assert consent == [("opt_in", "ussd", "menu")]

    # the language and the area are remembered: the next call starts at the main menu
    again = Handset(live, phone, f"ATUid_{lang}_2").dial()
    assert again == main


def test_send_me_this_by_sms_queues_the_detail(live):
    handset = Handset(live, "+21620111004", "ATUid_sms_1")
    db = live.app.extensions["dalil"].db()
    handset.dial()
    screen = handset.press("2")  # Français
    choose(handset, screen, "Tataouine")
    handset.press("3")  # municipal services
    handset.press("1")
    detail = handset.screens[-1]
    while "1. Recevoir par SMS" not in detail:
        detail = handset.press("98")
    assert handset.press("1") == "END " + t("fr", "detail.sent")
    body, kind, segments, encoding = next((r["body"], r["kind"], r["segments"], r["encoding"])
                                          for r in outbox.readable(db) if r["to_number"] == "+21620111004")
    service_id = directory.list_services(db, ["municipal"], "tataouine")[0]["id"]
    assert body.startswith(directory.service(db, service_id)["name"]["fr"])
    assert kind == "reply" and segments >= 1
    assert encoding is None  # a reply is sealed: its encoding would tell the language
