"""What a caller pays on a basic phone: key presses to a job office's number, "More" presses before a phone
number, and how many items an Arabic or French list shows per page.

    python3 bench/screens.py

Runs the real app in-process on a fresh SQLite file with the demo directory; each caller is a real USSD
session through flows.ussd.hop, reading the screens as a person would (pressing the number shown next to a
label, "98" until it shows). Prints, for ar, fr and en and each corridor governorate:

- presses for a new caller (language, governorate, then the menus) and a returning one to reach the first
  job office's phone number (targets: <= 6 and <= 3);
- the most "More" presses any detail screen needs before its phone number (target: <= 1);
- mean items per page over the directory lists (Jobs and training, Start a business, Municipal services) of
  every governorate, in Arabic (target >= 3), and in French with [ussd] fold_accents on and off: the French
  figure with folding is printed as a ratio to the one without, measured in the same run.
"""
from __future__ import annotations

import itertools
import json
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows import directory, ussd  # noqa: E402
from gateway import create_app  # noqa: E402
from messages import i18n  # noqa: E402

LANGUAGE_KEY = {"ar": "1", "fr": "2", "en": "3"}
LISTS = ("work_list", "business_list", "municipal_list")
_numbers = itertools.count(1)


class Caller:
    """One number dialling the line; each `press` is one USSD hop with every input so far, as AT sends it."""

    def __init__(self, app, phone: str):
        self.app, self.ctx, self.phone = app, app.extensions["dalil"], phone
        self.session, self.inputs, self.presses = None, [], 0

    def dial(self) -> str:
        self.session, self.inputs = f"bench-{next(_numbers)}", []
        return self._hop()

    def press(self, key: str) -> str:
        self.inputs.append(key)
        self.presses += 1
        return self._hop()

    def _hop(self) -> str:
        with self.app.test_request_context():
            reply = ussd.hop(self.ctx, channel="bench", session_id=self.session, phone=self.phone,
                             text="*".join(self.inputs), input_mode="whole")
        return reply.text

    def choose(self, screen: str, label: str) -> str:
        for _ in range(20):
            for number, text in options(screen).items():
                if text == label:
                    return self.press(number)
            if "98" not in navigation(screen):
                raise AssertionError(f"{label!r} not offered:\n{screen}")
            screen = self.press("98")
        raise AssertionError(f"{label!r} never offered")


def options(screen: str) -> dict[str, str]:
    return dict(re.findall(r"^(\d+)\. (.+)$", screen, flags=re.M))


def navigation(screen: str) -> dict[str, str]:
    last = screen.rsplit("\n", 1)[-1]
    return dict(re.findall(r"(\d+)\.(\S+(?: \S+)*?)(?= \d+\.|$)", last)) if not re.match(r"^\d+\. ", last) else {}


def make_app(folder: str, fold: list[str] | None = None):
    # resume off: a returning caller here is one whose last call ended long ago, not one offered "Continue"
    cfg = {"gateway": {"database": f"{folder}/bench.db", "keys_dir": f"{folder}/keys", "log_level": "WARNING"},
           "dispatcher": {"enabled": False}, "ussd": {"resume_seconds": 0}}
    if fold is not None:
        cfg["ussd"]["fold_accents"] = fold
    app = create_app(cfg)
    directory.load_demo(app.extensions["dalil"].db())
    return app


def presses_to_job_office(app, lang: str, governorate: str, phone: str) -> tuple[int, int]:
    """(new caller's presses, returning caller's presses) to the screen showing the first job office's phone."""
    db = app.extensions["dalil"].db()
    office = next(s for s in directory.list_services(db, ["jobs", "training"], governorate)
                  if "jobs" in directory.service(db, s["id"])["categories"])
    service = directory.service(db, office["id"], governorate)
    from flows import screen_text
    wanted = screen_text.phone_line(service, lang)
    counts = []
    caller = Caller(app, phone)
    for returning in (False, True):
        caller.presses = 0
        screen = caller.dial()
        if not returning:
            screen = caller.press(LANGUAGE_KEY[lang])
            screen = caller.choose(screen, directory.area_name(db, governorate)[lang])
        screen = caller.choose(screen, i18n.t(lang, "menu.main.work"))
        screen = caller.choose(screen, office["short_name"][lang])
        while wanted not in screen:
            screen = caller.press("98")
        counts.append(caller.presses)
    return counts[0], counts[1]


def more_before_phone(app, lang: str) -> int:
    """The most "More" presses any detail needs before its phone number (every service, every list)."""
    db = app.extensions["dalil"].db()
    from flows import screen_text
    worst = 0
    for gov in [g["code"] for g in directory.governorates(db)][:3]:
        caller = Caller(app, f"+2162{next(_numbers):07d}")
        caller.dial()
        caller.press(LANGUAGE_KEY[lang])
        screen = caller.choose(caller._hop(), directory.area_name(db, gov)[lang])
        for list_key, categories in (("work", ["jobs", "training"]), ("business", ["business"]),
                                     ("municipal", ["municipal"])):
            for item in directory.list_services(db, categories, gov):
                service = directory.service(db, item["id"], gov)
                wanted = screen_text.phone_line(service, lang)
                caller.dial()
                screen = caller.choose(caller._hop(), i18n.t(lang, f"menu.main.{list_key}"))
                screen = caller.choose(screen, item["short_name"][lang])
                mores = 0
                while wanted and wanted not in screen:
                    screen, mores = caller.press("98"), mores + 1
                worst = max(worst, mores)
    return worst


def items_per_page(app, lang: str) -> dict:
    """Items and pages over every directory list of every governorate, as a caller pages through them; and the
    same over the pages a caller leaves with "More" (a list's last page holds what is left: a list of two
    programmes is one page of two whatever the layout), and over the governorate list."""
    db = app.extensions["dalil"].db()
    items = pages = full_items = full_pages = 0
    for gov in directory.governorates(db):
        caller = Caller(app, f"+2162{next(_numbers):07d}")
        caller.dial()
        caller.press(LANGUAGE_KEY[lang])
        caller.choose(caller._hop(), gov["name"][lang])
        for list_key in ("work", "business", "municipal"):
            caller.dial()
            screen = caller.choose(caller._hop(), i18n.t(lang, f"menu.main.{list_key}"))
            while True:
                items, pages = items + len(options(screen)), pages + 1
                if "98" not in navigation(screen):
                    break
                full_items, full_pages = full_items + len(options(screen)), full_pages + 1
                screen = caller.press("98")
    caller = Caller(app, f"+2162{next(_numbers):07d}")
    caller.dial()
    screen = caller.press(LANGUAGE_KEY[lang])
    area_items = area_pages = 0
    while True:
        area_items, area_pages = area_items + len(options(screen)), area_pages + 1
        if "98" not in navigation(screen):
            break
        screen = caller.press("98")
    return {"items": items, "pages": pages, "mean": items / pages, "full_mean": full_items / full_pages,
            "full_pages": full_pages, "governorates": area_items / area_pages}


def governorate_screens(app, lang: str) -> dict[str, float]:
    """Items per page of every flow screen listing the governorates (home area, where help is needed ...),
    rendered by the engine as a set-up caller in Tataouine sees them."""
    from flows.actions import Call
    from flows.sessions import Session
    ctx = app.extensions["dalil"]
    engine, db = ctx.services.engine, ctx.db()
    found = {}
    for screen in engine.flows.screens.values():
        if screen.type != "areas" or screen.level != "governorate":
            continue
        session = Session(lang=lang, contact_key="bench", screen=screen.id, stack=["main"],
                          vars={"language": lang, "governorate": "tataouine"})
        call = Call(ctx=ctx, db=db, phone="+21620000000", contact_key="bench", lang=lang, channel="ussd",
                    vars=session.vars)
        text, items, pages = engine.render(call, session).text, 0, 1
        items += len(options(text))
        while session.page + 1 < session.pages:
            items, pages = items + len(options(engine.step(call, session, "98").text)), pages + 1
        found[screen.id] = items / pages
    return found


def main() -> None:
    results: dict = {"presses": {}, "more_before_phone": {}}
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(folder)
        for lang in ("ar", "fr", "en"):
            for gov in ("kairouan", "medenine", "tataouine"):
                new, back = presses_to_job_office(app, lang, gov, f"+2162{next(_numbers):07d}")
                results["presses"][f"{lang}/{gov}"] = {"new": new, "returning": back}
            results["more_before_phone"][lang] = more_before_phone(app, lang)
        ar = items_per_page(app, "ar")
        fr = items_per_page(app, "fr")
        fr_areas = governorate_screens(app, "fr")
    with tempfile.TemporaryDirectory() as folder:
        plain_app = make_app(folder, fold=[])
        plain = items_per_page(plain_app, "fr")
        plain_areas = governorate_screens(plain_app, "fr")
    worst_new = max(v["new"] for v in results["presses"].values())
    worst_back = max(v["returning"] for v in results["presses"].values())
    for key, value in results["presses"].items():
        print(f"{key:16} new caller {value['new']} presses, returning caller {value['returning']}")
    print(f"presses to a job office's phone: new caller at most {worst_new} (target <= 6), "
          f"returning at most {worst_back} (target <= 3)")
    print("'More' before a detail's phone number, at most: "
          + ", ".join(f"{k} {v}" for k, v in results["more_before_phone"].items()) + " (target <= 1)")
    print(f"Arabic directory lists, 24 governorates: {ar['items']} items on {ar['pages']} pages, mean "
          f"{ar['mean']:.2f}; on the {ar['full_pages']} pages left with More, mean {ar['full_mean']:.2f} "
          f"(target >= 3); governorate list {ar['governorates']:.2f}")
    for name, key in (("directory lists", "mean"), ("pages left with More", "full_mean"),
                      ("governorate list", "governorates")):
        print(f"French {name}: {fr[key]:.2f} items per page with accents folded, {plain[key]:.2f} without "
              f"(ratio {fr[key] / plain[key]:.2f})")
    for screen_id, folded in fr_areas.items():
        print(f"French screen '{screen_id}': {folded:.2f} governorates per page with accents folded, "
              f"{plain_areas[screen_id]:.2f} without (ratio {folded / plain_areas[screen_id]:.2f})")
    results.update(fr_governorate_screens={"folded": fr_areas, "unfolded": plain_areas})
    results.update(ar=ar, fr_folded=fr, fr_unfolded=plain, worst_new=worst_new, worst_returning=worst_back)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
