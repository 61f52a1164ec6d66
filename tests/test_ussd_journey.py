"""A job seeker in Tataouine dials the line on a basic phone, in each language, against the real server on
loopback: first contact, the main menu, a job office's number, its summary, a subscription, a second call.

Every screen is checked as a caller would: it fits the screen (182 GSM-7 or 80 UCS-2 characters), an Arabic
screen reads in order once the phone lays it out right to left (python-bidi, the Unicode algorithm phones
apply), a list holds each item on exactly one page, and a wrong key keeps the caller on the page they were on.
"""
from __future__ import annotations

import re
import time

import pytest
from bidi import get_display

from flows import directory
from gateway import outbox
from messages import bidi, i18n
from messages.segments import fold, screen_length

AT_USSD = "/hooks/africastalking/at-token-3f9a/ussd"
MAIN_MENU = ["menu.main.work", "menu.main.business", "menu.main.municipal", "menu.main.help", "sub.manage.label",
             "menu.main.polls", "menu.main.settings"]
LANGUAGE_CHOICE = {"ar": "1", "fr": "2", "en": "3"}
# a run of digits with what may join them into one number or time: "70 000 006", "8:30", "+216 70 000 006"
NUMBER_RUN = re.compile(r"\+?\d(?:[\d\u00a0 :.,/+\-]*\d)?")


class Handset:
    """Posts what Africa's Talking posts: every input so far, joined by '*'; counts the caller's presses."""

    def __init__(self, live, phone: str, session_id: str, lang: str | None = None):
        self.live, self.phone, self.session_id, self.lang = live, phone, session_id, lang
        self.inputs: list[str] = []
        self.screens: list[str] = []

    @property
    def presses(self) -> int:
        return len(self.inputs)

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
        assert_fits_ussd(r.text[4:])
        assert_reads_in_order(r.text[4:])
        self.screens.append(r.text)
        return r.text


def assert_fits_ussd(screen: str) -> None:
    encoding, units = screen_length(screen)
    assert units <= (182 if encoding == "GSM-7" else 80), f"{units} {encoding} characters:\n{screen}"


def assert_reads_in_order(screen: str) -> None:
    """Every number, phone number and time on the screen shows in its own order once laid out right to left."""
    for line in screen.split("\n"):
        if not re.search(r"[\u0600-\u06ff]", line):
            continue
        shown = get_display(line, base_dir="R")
        for run in NUMBER_RUN.findall(line):
            assert run.strip() in shown, f"{run!r} reads out of order in {shown!r} (line {line!r})"


def options(screen: str) -> dict[str, str]:
    return dict(re.findall(r"^(\d+)\. (.+)$", screen.removeprefix("CON ").removeprefix("END "), flags=re.M))


def nav(screen: str) -> str:
    """The navigation line: the last line when it is not an option ('98.More 0.Back 00.Main menu')."""
    last = screen.rsplit("\n", 1)[-1]
    return "" if re.match(r"^(CON |END )?\d+\. ", last) else last


def choose(handset: Handset, screen: str, label: str) -> str:
    """Press the number shown next to label, paging with 98 (More) until it appears."""
    for _ in range(10):
        for number, text in options(screen).items():
            if text == label:
                return handset.press(number)
        assert "98." in nav(screen), f"'{label}' not offered:\n{screen}"
        screen = handset.press("98")
    raise AssertionError(f"'{label}' never offered")


def t(lang, key, **kw):
    """A text as a USSD screen shows it: French loses the accents GSM-7 lacks ([ussd] fold_accents)."""
    text = i18n.t(lang, key, **kw)
    return fold(text) if lang == "fr" else text


def shown(lang, text: str) -> str:
    return fold(bidi.safe(text, lang)) if lang == "fr" else bidi.safe(text, lang)


def walk_pages(handset: Handset, first: str) -> list[str]:
    """Every page of a list, with More; then a wrong key on each page after the first keeps that page."""
    pages = [first]
    while "98." in nav(pages[-1]):
        pages.append(handset.press("98"))
    return pages


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_a_new_caller_reaches_a_job_office_phone_and_subscribes(live, lang):
    phone = {"ar": "+21620111001", "fr": "+21620111002", "en": "+21620111003"}[lang]
    handset = Handset(live, phone, f"ATUid_{lang}_1")
    db = live.app.extensions["dalil"].db()

    first = handset.dial()
    assert first == "CON " + "\n".join([i18n.t("ar", "lang.title"), "1. العربية", "2. Français", "3. English"])

    area_screen = handset.press(LANGUAGE_CHOICE[lang])
    names = [a["name"][lang] for a in directory.governorates(db)]
    assert area_screen.startswith("CON " + t(lang, "area.home.title") + "\n1. " + shown(lang, names[0]) + "\n")
    assert names[:3] == [directory.area_name(db, c)[lang] for c in ("kairouan", "medenine", "tataouine")]
    main = choose(handset, area_screen, shown(lang, directory.area_name(db, "tataouine")[lang]))
    assert main == "CON " + "\n".join([t(lang, "menu.main.title")] + [
        f"{n}. {t(lang, key)}" for n, key in enumerate(MAIN_MENU, start=1)])  # one screen: no More, no navigation

    work = handset.press("1")
    expected = directory.list_services(db, ["jobs", "training"], "tataouine")
    assert work.startswith("CON " + t(lang, "list.work.title") + "\n1. " + shown(lang, expected[0]["short_name"][lang]))
    assert nav(work) == f"98.{t(lang, 'nav.more')} 0.{t(lang, 'nav.back')}"  # Back leads to the main menu
    office = directory.service(db, expected[0]["id"], "tataouine")
    assert office["categories"] == ["jobs"] and "Tataouine" in office["name"]["en"]  # the local office first

    detail = handset.press("1")
    # the first screen: the same title as in the list, the phone number, then the two choices; "00 Main menu"
    # only where it costs no page (not in 80 Arabic characters)
    detail_nav = f"98.{t(lang, 'nav.more')} 0.{t(lang, 'nav.back')}" + ("" if lang == "ar" else
                                                                        f" 00.{t(lang, 'nav.main')}")
    assert detail == "CON " + "\n".join([
        shown(lang, expected[0]["short_name"][lang]), t(lang, "detail.phone", phone=bidi.phone(office["phone"], lang)),
        f"1. {t(lang, 'detail.sms')}", f"2. {t(lang, 'detail.subscribe')}", detail_nav])
    assert handset.presses <= 6, handset.presses  # language, governorate, menu, programme
    assert {"ar": "70\u00a0000\u00a0006", "fr": "70 000 006", "en": "70 000 006"}[lang] in detail

    summary = handset.press("98")  # the one-screen summary
    assert summary == "CON " + "\n".join([shown(lang, expected[0]["short_name"][lang]),
                                          shown(lang, office["ussd_summary"][lang]),
                                          detail_nav.split(" ", 1)[1]])
    wrong = handset.press("7")  # a wrong key: the same page, the hint in the title's place
    assert wrong == "CON " + t(lang, "nav.invalid") + "\n" + summary[4:].split("\n", 1)[1]
    assert handset.press("1") == wrong  # option 1 is not on this page: its number is not valid here
    assert handset.press("0") == detail

    done = handset.press("2")
    assert done == "END " + t(lang, "sub.done")
    row = db.execute("SELECT language, governorate, interests, status FROM subscribers WHERE phone = ?",
                     [phone]).fetchone()
    assert row == (lang, "tataouine", "jobs", "active")
    consent = db.execute("SELECT c.action, c.channel, c.via FROM consent_log c JOIN subscribers s "
                         "ON s.id = c.subscriber_id WHERE s.phone = ?", [phone]).fetchall()
    assert consent == [("opt_in", "ussd", "menu")]

    # the language and the area are remembered: the next call starts at the main menu, two presses from the number
    again = Handset(live, phone, f"ATUid_{lang}_2")
    assert again.dial() == main
    again.press("1")
    assert again.press("1") == detail
    assert again.presses <= 3


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_every_list_page_holds_its_items_once_and_a_wrong_key_keeps_the_page(live, lang):
    phone = {"ar": "+21620111011", "fr": "+21620111012", "en": "+21620111013"}[lang]
    handset = Handset(live, phone, f"ATUid_{lang}_pages")
    db = live.app.extensions["dalil"].db()
    handset.dial()
    area_screen = handset.press(LANGUAGE_CHOICE[lang])

    # the governorate list: 24 names, each on one page, every page but the last closing with More
    pages = walk_pages(handset, area_screen)
    listed = [label for page in pages for label in options(page).values()]
    assert listed == [shown(lang, a["name"][lang]) for a in directory.governorates(db)]
    assert len({nav(p) for p in pages[:-1]}) == 1 and nav(pages[-1]) == f"0.{t(lang, 'nav.back')}"
    for page in pages:
        assert page.startswith("CON " + t(lang, "area.home.title") + "\n")  # the title on every page
    numbers = [n for page in pages for n in options(page)]
    assert numbers == [str(n) for n in range(1, 25)]
    # on the last page, a wrong key and a number from another page both keep the caller there, with the hint
    last = pages[-1]
    hinted = "CON " + t(lang, "nav.invalid") + "\n" + last[4:].split("\n", 1)[1]
    assert handset.press("9" + "9") == hinted
    assert handset.press("1") == hinted
    for _ in range(len(pages) - 1):
        handset.press("0")  # back through the pages, to the first
    assert handset.screens[-1] == area_screen
    main = choose(handset, area_screen, shown(lang, directory.area_name(db, "medenine")[lang]))

    # the Jobs and training list of Medenine: local offices first, every item once, same order as the directory
    pages = walk_pages(handset, handset.press("1"))
    expected = [shown(lang, s["short_name"][lang])
                for s in directory.list_services(db, ["jobs", "training"], "medenine")]
    listed = [label for page in pages for label in options(page).values()]
    assert listed == expected and len(set(listed)) == len(listed)
    assert len(pages) > 1 and len({nav(p) for p in pages[:-1]}) == 1
    for page in reversed(pages[:-1]):
        assert handset.press("0") == page  # Back through the pages shows each cut the same way
    second = handset.press("98")
    assert second == pages[1]
    assert handset.press("1") == "CON " + t(lang, "nav.invalid") + "\n" + second[4:].split("\n", 1)[1]
    assert handset.press("98") == (pages[2] if len(pages) > 2 else handset.screens[-2])
    assert main.startswith("CON " + t(lang, "menu.main.title"))


def test_send_me_the_details_by_sms_queues_the_full_text_with_its_number_in_order(live):
    db = live.app.extensions["dalil"].db()
    for lang, phone in (("fr", "+21620111004"), ("ar", "+21620111005")):
        handset = Handset(live, phone, f"ATUid_sms_{lang}")
        handset.dial()
        screen = handset.press(LANGUAGE_CHOICE[lang])
        choose(handset, screen, shown(lang, directory.area_name(db, "tataouine")[lang]))
        handset.press("3")  # municipal services
        detail = handset.press("1")
        assert options(detail).get("1") == t(lang, "detail.sms"), handset.screens
        assert handset.press("1") == "END " + t(lang, "detail.sent")
        body, kind, segments, encoding = next((r["body"], r["kind"], r["segments"], r["encoding"])
                                              for r in outbox.readable(db) if r["to_number"] == phone)
        service = directory.service(db, directory.list_services(db, ["municipal"], "tataouine")[0]["id"], "tataouine")
        assert body.startswith(service["name"][lang] + "\n" + service["description"][lang])
        assert bidi.phone(service["phone"], lang) in body and service["schedule"][lang] in body
        assert kind == "reply" and segments >= 1
        assert encoding is None  # a reply is sealed: its encoding would tell the language
        if lang == "ar":
            assert_reads_in_order(body)


def set_up_in_kairouan(live, phone: str, session_id: str, lang: str) -> Handset:
    """A first contact that picks `lang` and Kairouan; the handset is left on the main menu."""
    handset = Handset(live, phone, session_id)
    handset.dial()
    kairouan = directory.area_name(live.app.extensions["dalil"].db(), "kairouan")[lang]
    choose(handset, handset.press(LANGUAGE_CHOICE[lang]), kairouan)
    return handset


def test_a_dropped_call_is_offered_to_continue_where_it_was(live):
    db = live.app.extensions["dalil"].db()
    phone = "+21620111020"
    first = set_up_in_kairouan(live, phone, "ATUid_drop_1", "ar")
    first.press("1")
    first.press("2")
    page = first.press("98")  # the second programme's summary: then the signal drops, no END
    second = directory.list_services(db, ["jobs", "training"], "kairouan")[1]
    assert page.startswith("CON " + second["short_name"]["ar"] + "\n")

    again = Handset(live, phone, "ATUid_drop_2")
    offer = again.dial()
    assert offer == "CON " + "\n".join([t("ar", "resume.title"), f"1. {t('ar', 'resume.continue')}",
                                        f"2. {t('ar', 'resume.main')}"])
    assert again.press("1") == page
    assert again.press("0") == first.screens[-2]  # the way back is kept too
    assert again.press("0") == first.screens[-3]

    # the offer again (that session dropped too), now declined: the main menu
    third = Handset(live, phone, "ATUid_drop_3")
    assert third.dial() == offer
    assert third.press("2").startswith("CON " + t("ar", "menu.main.title") + "\n1. ")

    # a call that ended on an END screen leaves nothing to resume; nor does one past [ussd] resume_seconds
    fourth = Handset(live, phone, "ATUid_drop_4")
    fourth.dial()
    fourth.press("1")
    fourth.press("1")
    fourth.press("1")  # SMS me the details: END
    assert Handset(live, phone, "ATUid_drop_5").dial().startswith("CON " + t("ar", "menu.main.title"))
    fifth = Handset(live, phone, "ATUid_drop_6")
    fifth.dial()
    fifth.press("1")
    live.app.extensions["dalil"].services.ussd_resume.ttl = 0.001  # as if [ussd] resume_seconds had passed
    time.sleep(0.01)
    assert Handset(live, phone, "ATUid_drop_7").dial().startswith("CON " + t("ar", "menu.main.title"))


def test_a_call_dropped_in_the_middle_of_a_help_request_keeps_nothing_to_resume(live):
    phone = "+21620111021"
    handset = set_up_in_kairouan(live, phone, "ATUid_help_1", "en")
    need = handset.press("4")  # Get help
    assert need.startswith("CON " + t("en", "help.need.title"))
    handset.press("1")  # a need is an answer, not navigation: from here on nothing is kept for a resume
    # the call drops here; the redial is not offered to continue, and no answer waits anywhere for it
    assert Handset(live, phone, "ATUid_help_2").dial().startswith("CON " + t("en", "menu.main.title") + "\n1. ")


def test_the_arabic_main_menu_is_one_screen_with_the_hint_and_has_room_left():
    from flows.render import Budget, paginate
    from flows import screen_text
    labels = [i18n.t("ar", key) for key in MAIN_MENU]
    for extra, pages in (("", 1), ("حرفان", 2)):  # the seven entries fit; one more of 5 characters does not
        title, pieces = screen_text.layout(i18n.t("ar", "menu.main.title"), labels + ([extra] if extra else []), "ar")
        laid = paginate(pieces, [], i18n.t("ar", "nav.more"), Budget(182, 80), title, i18n.t("ar", "nav.invalid"))
        assert len(laid) == pages, (extra, [p.text for p in laid])
        assert all(Budget(182, 80).fits(p.show(i18n.t("ar", "nav.invalid"))) for p in laid)
