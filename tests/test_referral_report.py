"""The municipality's report: counts by need, governorate and closed month on a fixed grid; every value under 5
hidden the same way (0 included), the rest randomly rounded to 5, a month published once; no CSO anywhere."""
from __future__ import annotations

import json

from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from gateway.cli import main
from referrals import notices, report
from referrals.protocol import days
from test_referral_support import add_cso, refer

MUNICIPALITY = "muni-token-0123456789"


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 7).flatmap(lambda r: st.integers(1, 6).flatmap(
    lambda c: st.lists(st.lists(st.integers(0, 30), min_size=c, max_size=c), min_size=r, max_size=r))))
def test_every_value_is_hidden_under_5_or_rounded_to_5(cells):
    shown = report.publish(cells, 5)
    full = [row + [sum(row)] for row in cells]
    full.append([sum(col) for col in zip(*full)])
    for true_row, shown_row in zip(full, shown):
        for v, s in zip(true_row, shown_row):
            if v < 5:
                assert s is None  # 0 and 4 look the same
            else:
                assert s % 5 == 0 and abs(s - v) < 5


def test_report_endpoint_and_command(app, client, tmp_path, monkeypatch):
    ctx = app.extensions["dalil"]
    ctx.config["referrals"]["municipality_token"] = MUNICIPALITY
    add_cso(app, tmp_path, "amal", needs=("legal", "health"), areas=("*",))
    add_cso(app, tmp_path, "nour", needs=("legal",), areas=("*",))
    monkeypatch.setattr(days, "today", lambda: "2026-10-05")
    for _ in range(7):
        refer(app, "amal", need="legal", governorate="kairouan")
    for _ in range(2):
        refer(app, "nour", need="legal", governorate="medenine")
    refer(app, "amal", need="health", governorate=None)
    monkeypatch.setattr(days, "today", lambda: "2026-11-20")
    for _ in range(5):
        refer(app, "nour", need="legal", governorate="kairouan")
    notices.flush(ctx, ctx.db())  # counts are held in memory until a digest moment
    headers = {"Authorization": f"Bearer {MUNICIPALITY}"}

    data = client.get("/api/reports/referrals", headers=headers).get_json()
    text = json.dumps(data)
    assert "amal" not in text and "nour" not in text and "Association" not in text  # no CSO breakdown
    (oct_,) = data["months"]  # November is still open: not published
    assert oct_["month"] == "2026-10"
    # the fixed grid: every need by all 24 governorates and "unknown", whether or not a referral came from there
    assert len(data["governorates"]) == 25 and "gabes" in data["governorates"]
    assert all(set(oct_["cells"][n]) == set(data["governorates"]) for n in data["needs"])
    assert oct_["cells"]["legal"]["medenine"] is None and oct_["cells"]["health"]["unknown"] is None  # 2 and 1
    assert oct_["cells"]["legal"]["gabes"] is None  # 0 looks like 1 to 4
    assert oct_["cells"]["legal"]["kairouan"] in (5, 10)  # 7, rounded at random
    assert oct_["need_totals"]["legal"] in (5, 10) and oct_["total"] in (10, 15)

    # published once: the same table on every later call, and its counters are gone from the file
    monkeypatch.setattr(days, "today", lambda: "2026-12-02")
    again = client.get("/api/reports/referrals", headers=headers).get_json()
    assert again["months"][0] == oct_ and again["months"][1]["month"] == "2026-11"
    assert ctx.db().execute("SELECT count(*) FROM referral_counts").fetchone()[0] == 0

    cfg = tmp_path / "dalil.toml"
    gw = ctx.config["gateway"]
    cfg.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n')
    out = CliRunner().invoke(main, ["--config", str(cfg), "report", "--json"])
    assert json.loads(out.stdout)["months"] == again["months"]
    table = CliRunner().invoke(main, ["--config", str(cfg), "report"])
    assert table.exit_code == 0 and "2026-10" in table.output
