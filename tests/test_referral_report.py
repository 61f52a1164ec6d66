"""The municipality's report: counts by need, governorate and month; small cells suppressed, totals that cannot
give them back, no CSO anywhere."""
from __future__ import annotations

import itertools
import json

from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from gateway.cli import main
from referrals import days, report
from test_referral_support import add_cso, refer

MUNICIPALITY = "muni-token-0123456789"


def lone_suppressions(shown):
    """Lines (rows, columns, with totals) where exactly one entry is hidden: that entry is recoverable."""
    rows = [list(r) for r in shown]
    cols = [list(c) for c in zip(*shown)]
    return [line for line in rows + cols if sum(v is None for v in line) == 1]


def test_small_cells_and_their_complements_are_hidden():
    cells = [[12, 3, 7], [9, 8, 0], [6, 0, 11]]
    shown = report.suppress(cells, 5)
    assert shown[0][1] is None  # the 3
    assert not lone_suppressions(shown)
    assert shown[-1][-1] == 56  # the grand total is not small and nothing forces it
    # what stays visible is right
    for i, j in itertools.product(range(3), range(3)):
        assert shown[i][j] in (None, cells[i][j])


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 5).flatmap(lambda r: st.integers(1, 5).flatmap(
    lambda c: st.lists(st.lists(st.integers(0, 30), min_size=c, max_size=c), min_size=r, max_size=r))))
def test_no_small_count_is_ever_shown_or_recoverable(cells):
    shown = report.suppress(cells, 5)
    full = [row + [sum(row)] for row in cells]
    full.append([sum(col) for col in zip(*full)])
    for i, row in enumerate(shown):
        for j, v in enumerate(row):
            assert v is None or v == full[i][j]
            assert not (v is not None and 0 < v < 5)
    assert not lone_suppressions(shown)


def test_report_endpoint_and_command(app, client, make_config, tmp_path, monkeypatch):
    app.extensions["dalil"].config["referrals"]["municipality_token"] = MUNICIPALITY
    add_cso(app, tmp_path, "amal", needs=("legal", "health"), areas=("*",))
    add_cso(app, tmp_path, "nour", needs=("legal",), areas=("*",))
    monkeypatch.setattr(days, "today", lambda: "2026-10-05")
    for _ in range(7):
        refer(app, "amal", need="legal", governorate="kairouan")
    for _ in range(2):
        refer(app, "nour", need="legal", governorate="medenine")
    for _ in range(6):
        refer(app, "amal", need="health", governorate="medenine")
    refer(app, "amal", need="health", governorate=None)
    monkeypatch.setattr(days, "today", lambda: "2026-11-20")
    for _ in range(5):
        refer(app, "nour", need="legal", governorate="kairouan")

    r = client.get("/api/reports/referrals", headers={"Authorization": f"Bearer {MUNICIPALITY}"})
    assert r.status_code == 200
    data = r.get_json()
    text = json.dumps(data)
    assert "amal" not in text and "nour" not in text and "Association" not in text  # no CSO breakdown
    oct_, nov = data["months"]
    assert oct_["month"] == "2026-10" and nov["month"] == "2026-11"
    assert oct_["cells"]["legal"]["medenine"] is None and oct_["cells"]["health"]["unknown"] is None  # 2 and 1
    assert oct_["cells"]["legal"]["kairouan"] is None  # 7, hidden so that the legal total does not give the 2
    assert oct_["need_totals"]["legal"] == 9 and oct_["need_totals"]["health"] == 7 and oct_["total"] == 16
    assert nov["cells"]["legal"]["kairouan"] == 5 and nov["total"] == 5
    for month in data["months"]:
        shown = [[month["cells"][n][g] for g in data["governorates"]] + [month["need_totals"][n]]
                 for n in data["needs"]]
        shown.append([month["governorate_totals"][g] for g in data["governorates"]] + [month["total"]])
        assert not lone_suppressions(shown)
        assert not any(v is not None and 0 < v < 5 for row in shown for v in row)

    cfg = tmp_path / "dalil.toml"
    gw = app.extensions["dalil"].config["gateway"]
    cfg.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n')
    out = CliRunner().invoke(main, ["--config", str(cfg), "report", "--json"])
    assert json.loads(out.output)["months"] == data["months"]
    table = CliRunner().invoke(main, ["--config", str(cfg), "report"])
    assert table.exit_code == 0 and "2026-10" in table.output
