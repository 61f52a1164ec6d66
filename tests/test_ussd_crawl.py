"""Every screen of the Arabic line, reached as a caller would reach it on the real server, fits its 80 characters,
reads in order right to left (python-bidi, the Unicode algorithm phones apply), holds each option on one page,
and keeps the caller on the same page after a wrong key. The same crawl in French and English checks fit and
page integrity. The simulators take the real inbound path: keywords work in them as on a real channel.
"""
from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from test_console_support import console_app, post_json, signed_in  # noqa: F401 (fixture)
from test_ussd_journey import Handset, assert_reads_in_order, nav, options
from gateway import outbox
from gateway.cli import main as dalil_main
from messages import i18n
from messages.segments import fold

MAX_PATH = 7


def crawl(live, lang: str, phone: str, max_screens: int = 400) -> dict[str, tuple]:
    """Depth-first over every number and More shown, from the main menu of a caller set up in Tataouine,
    coming back with Back (0) where it leads back, else dialling again and replaying the way there."""
    ctx = live.app.extensions["dalil"]
    ctx.services.ussd_resume.ttl = 0  # every new call starts afresh: no "Continue where I was" offer
    calls = iter(range(10**6))
    reset(live, phone, lang)
    seen: dict[str, tuple] = {}
    hops = [0]

    def dial(path) -> tuple[Handset, str]:
        reset(live, phone, lang)  # a path through Settings may have changed the area
        handset = Handset(live, phone, f"crawl-{lang}-{next(calls)}")
        screen = handset.dial()
        for key in path:
            screen = handset.press(key)
        hops[0] += len(path) + 1
        return handset, screen

    def explore(handset, path, screen):
        if screen.startswith("END ") or len(path) >= MAX_PATH or any(
                screen.startswith("CON " + i18n.t(other, "lang.title")) for other in i18n.LANGUAGES):
            return handset  # an end, or the language question: a caller who changes language leaves this crawl
        for key in list(options(screen)) + (["98"] if "98." in nav(screen) else []):
            if len(seen) >= max_screens:
                return handset
            child = handset.press(key)
            hops[0] += 1
            if child not in seen:
                seen[child] = path + (key,)
                handset = explore(handset, path + (key,), child)
            if handset.screens[-1] != child or child.startswith("END "):
                handset, _ = dial(path)
                continue
            back = handset.press("0")
            hops[0] += 1
            if back != screen:
                handset, _ = dial(path)
        return handset

    handset, main = dial(())
    seen[main] = ()
    explore(handset, (), main)
    print(f"crawl {lang}: {len(seen)} screens in {hops[0]} hops")
    return seen


def reset(live, phone: str, lang: str) -> None:
    from gateway import contacts
    ctx = live.app.extensions["dalil"]
    key = contacts.contact_key(ctx.services.contacts_secret, phone)
    contacts.remember(ctx.db(), key, language=lang, governorate="tataouine")


def assert_pages_hold_each_option_once(live, lang: str, phone: str, seen: dict[str, tuple]) -> int:
    """For every screen with More: its pages hold each number once, in order; a wrong key keeps each page."""
    checked = 0
    for screen, path in seen.items():
        if path and path[-1] == "98" or "98." not in nav(screen) or \
                screen.startswith("CON " + (fold if lang == "fr" else str)(i18n.t(lang, "nav.invalid")) + "\n"):
            continue  # start from a first page (a page after a wrong key, reached when the crawl replays a way
            # whose screens changed meanwhile, such as a profile made or deleted, is not one)
        reset(live, phone, lang)
        handset = Handset(live, phone, f"pages-{lang}-{checked}")
        again = handset.dial()
        for key in path:
            again = handset.press(key)
        if again != screen:
            continue  # the crawl changed what this way leads to (a subscription made, a topic removed)
        pages = [screen]
        while "98." in nav(pages[-1]):
            pages.append(handset.press("98"))
        numbers = [int(n) for page in pages for n in options(page)]
        assert numbers == list(range(1, len(numbers) + 1)), pages
        assert len({nav(page) for page in pages[:-1]}) == 1, pages  # one layout: the same navigation line
        for page in reversed(pages):
            wrong = handset.press("99")
            assert wrong[4:].split("\n", 1)[1] == page[4:].split("\n", 1)[1], (page, wrong)
            hint = (fold if lang == "fr" else str)(i18n.t(lang, "nav.invalid"))
            assert wrong.startswith("CON " + hint + "\n"), (path, page, wrong)
            if page is not pages[0]:
                assert handset.press("0") == pages[pages.index(page) - 1]
        checked += 1
    return checked


class InProcess:
    """The app itself, without the HTTP hop: the crawl makes a thousand requests (the journeys use the server)."""

    def __init__(self, app):
        self.app, self.client = app, app.test_client()

    def post(self, path, **kw):
        return self.client.post(path, **kw)


@pytest.mark.parametrize("lang", ["ar", "fr", "en"])
def test_every_screen_of_the_line_fits_reads_in_order_and_pages_hold(demo_app, lang):
    live = InProcess(demo_app)
    phone = {"ar": "+21620777001", "fr": "+21620777002", "en": "+21620777003"}[lang]
    seen = crawl(live, lang, phone)  # Handset asserts the fit and, for Arabic, the reading order of each screen
    texts = "\n".join(seen)
    # the crawl reached the lists, a detail with its phone number and summary, help, updates and settings
    assert len(seen) > 40, len(seen)
    phone_line = {"ar": "هاتف: 70\u00a0000\u00a0006", "fr": "Tél. : 70 000 006", "en": "Tel: 70 000 006"}[lang]
    assert phone_line in texts
    for key in ("help.need.title", "sub.manage.label", "settings.title", "list.work.title", "resume.main"):
        if key != "resume.main":
            assert (fold if lang == "fr" else str)(i18n.t(lang, key)).split("{")[0] in texts, key
    assert assert_pages_hold_each_option_once(live, lang, phone, seen) >= 3
    # the SMS the crawl asked for (details of every programme it opened) read in order too
    bodies = [r["body"] for r in outbox.readable(live.app.extensions["dalil"].db())
              if r["to_number"] == phone and r["body"]]
    assert bodies
    if lang == "ar":
        for body in bodies:
            assert_reads_in_order(body)
            assert not re.search(r"\d \d", body), body  # digit groups joined by no-break spaces, not spaces


def test_dalil_simulate_sms_takes_the_real_inbound_path(app, tmp_path):
    """STOP, JOIN, HELP and MENU in the terminal simulator are answered by the keyword handlers, not the menu."""
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    gw = app.extensions["dalil"].config["gateway"]
    cfg = tmp_path / "dalil.toml"
    cfg.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n'
                   f'[dispatcher]\nenabled = false\n')
    run = CliRunner().invoke(dalil_main, ["--config", str(cfg), "simulate", "--mode", "sms", "--lang", "en",
                                          "--phone", "+21620888001"],
                             input="JOIN JOBS\nHELP\nSTOP\nMENU\nq\n", catch_exceptions=False)
    assert run.exit_code == 0, run.output
    flat = re.sub(r"[│╭╮╰╯─\s]+", " ", run.output)
    sender = "Dalil"
    for text in (i18n.t("en", "sub.join.done", topics="Jobs", area=""),
                 i18n.t("en", "sub.help", sender=sender, menu="MENU"),
                 i18n.t("en", "sub.stop.done", sender=sender),
                 i18n.t("en", "area.home.title")):
        words = " ".join(text.split()[:4])
        assert words in flat, (words, flat[-2000:])
    assert i18n.t("en", "nav.invalid") not in flat  # no keyword fell through to the menu as a wrong choice
    from messages import subscribers
    assert subscribers.get(app.extensions["dalil"].db(), "+21620888001")["status"] == "opted_out"


def test_the_console_simulator_sends_sms_through_the_inbound_path(console_app):  # noqa: F811
    client = signed_in(console_app, "staff")
    stop = post_json(client, "/console/simulator/sms", {"phone": "+21620888002", "text": "STOP"}).get_json()
    assert stop["text"] == i18n.t("ar", "sub.stop.done", sender="Dalil")  # default language: Arabic
    menu = post_json(client, "/console/simulator/sms", {"phone": "+21620888002", "text": "MENU"}).get_json()
    assert menu["text"].startswith(i18n.t("ar", "lang.title") + "\n1. ")
    bad = post_json(client, "/console/simulator/sms", {"phone": "+21620888002", "text": ""})
    assert bad.status_code == 422
