"""The console's jobs pages through the real app: staff add an offer (each problem named next to its field), see
the alert in every language and the preview with its cost, open it and close it, add a trade that callers then
see; the municipality sees counts with small cells hidden and reaches no offer, contact or person."""
from __future__ import annotations

import re
from datetime import date, timedelta

from jobs import profiles, store
from test_console_support import add_accounts, post, signed_in


def offer_form(today: str, **changes) -> dict:
    day = date.fromisoformat(today)
    form = {"trade": "construction", "level": "2", "kind": "full", "governorate": "kairouan", "delegation": "",
            "starts": (day + timedelta(days=2)).isoformat(), "ends": (day + timedelta(days=9)).isoformat(),
            "places": "4", "contact": "71 000 333", "contact_language": "ar",
            "text_ar": "بناء مدرسة", "text_fr": "Chantier d'école", "text_en": "School building site"}
    return form | changes


def seed_profiles(ctx, db, n: int, trade: str = "construction", level: int = 2, governorate: str = "kairouan"):
    for i in range(n):
        profiles.save(ctx, db, f"key-{trade}-{level}-{governorate}-{i}", f"+2162099{i:04d}", language="fr",
                      trade=trade, level=level, governorate=governorate, delegation="", travel="governorate",
                      availability="any")


def test_staff_add_preview_open_and_close_an_offer_and_the_municipality_sees_only_counts(demo_app):
    add_accounts(demo_app)
    ctx = demo_app.extensions["dalil"]
    db = ctx.db()
    seed_profiles(ctx, db, 6)
    seed_profiles(ctx, db, 1, trade="care", governorate="tataouine")
    staff = signed_in(demo_app, "staff")
    today = profiles.today(ctx)

    bad = post(staff, "/console/employment/offers", offer_form(today, text_en="", places="many", contact="12"))
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert 'id="err-text_en"' in page and "text (en): missing" in page
    assert 'id="err-places"' in page and 'id="err-contact"' in page
    assert store.offers(db) == []

    saved = post(staff, "/console/employment/offers", offer_form(today))
    assert saved.status_code == 303
    offer_id = int(re.search(r"/offers/(\d+)", saved.headers["Location"]).group(1))
    page = staff.get(f"/console/employment/offers/{offer_id}").get_data(as_text=True)
    assert 'id="alert-ar"' in page and "School building site" in page
    cost = re.search(r'<p id="offer-cost">([^<]*)</p>', page).group(1)
    assert cost.startswith("6 alerts, 6 segments, about ")  # the 6 matching profiles, one segment each
    opened = post(staff, f"/console/employment/offers/{offer_id}/open")
    assert opened.status_code == 303 and "n=6" in opened.headers["Location"]
    assert store.offer(db, offer_id)["state"] == "open"
    again = post(staff, f"/console/employment/offers/{offer_id}/open")
    assert again.status_code == 409 and "alerts go once" in again.get_data(as_text=True)
    assert post(staff, f"/console/employment/offers/{offer_id}/close").status_code == 303
    assert store.offer(db, offer_id)["state"] == "closed"

    # a trade added in the console is in the list callers choose from, in each language
    refused = post(staff, "/console/employment/trades",
                   {"code": "Plumb ing", "label_ar": "سباكة", "label_fr": "", "label_en": "x"})
    assert refused.status_code == 400 and "label (fr): missing" in refused.get_data(as_text=True)
    added = post(staff, "/console/employment/trades", {"code": "plumbing", "label_ar": "سباكة", "label_fr": "Plomberie",
                                                 "label_en": "Plumbing"})
    assert added.status_code == 303
    assert ("plumbing", {"ar": "سباكة", "fr": "Plomberie", "en": "Plumbing"}) in store.trades(db)
    from jobs import taxonomy
    assert taxonomy.trade_labels(store.trades(db), "ar")[-1] == ("plumbing", "سباكة")  # what jobs.trades lists

    # the municipality: counts, small cells hidden; no offer, contact, trade form or person
    muni = signed_in(demo_app, "muni")
    page = muni.get("/console/employment").get_data(as_text=True)
    assert 'id="jobs-by-level"' in page and 'id="jobs-offers"' not in page
    from jobs import report
    built = report.build(ctx, db)
    grid = re.search(r'<table class="data report" id="jobs-by-level">.*?</table>', page, re.S).group(0)
    shown = [v for _, v in re.findall(r'<td class="num( hidden-cell)?">([^<]*)</td>', grid)]
    assert shown == ["·" if v is None else str(v) for row in built["by_trade_level"] for v in row]
    care = built["by_trade_level"][built["trades"].index("care")]
    assert care[1] is None  # the lone care profile (level 2, Tataouine) is hidden
    assert "7" in shown  # the grand total of profiles is shown
    assert "+216" not in page and "71 000 333" not in page and "key-" not in page
    assert not re.search(r"\d{8}", page.replace(" ", ""))  # no phone number in any form
    for path in ("/console/employment/offers", f"/console/employment/offers/{offer_id}", "/console/employment/trades"):
        assert muni.get(path).status_code == 403, path
