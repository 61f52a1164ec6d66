"""Reports: referrals by need, governorate and month, with small cells suppressed, as tables, charts and CSV.

The numbers come from referrals.report.build (the same function `dalil report` and the municipality API use):
suppressed cells and their complementary cells arrive as None and are shown as such, never recomputed here.
"""
from __future__ import annotations

import csv
import io

from flask import Response

from flows import directory as dirmod
from gateway.context import dalil
from gateway.console import bp, charts, ui


def _build() -> dict:
    from referrals import report  # the referrals package owns the suppression rules
    ctx = dalil()
    return report.build(ctx.db(), ctx.config["referrals"]["small_cell"])


def _names() -> tuple[dict, dict]:
    db = dalil().db()
    areas = {gv["code"]: ui.text_of(gv["name"]) for gv in dirmod.governorates(db)}
    areas["unknown"] = ui.t("console.reports.unknown_area")
    needs = {term["code"]: ui.text_of(term["name"]) for term in dirmod.taxonomy(db)}
    return areas, needs


@bp.get("/reports")
@ui.area("reports")
def reports():
    data = _build()
    areas, needs = _names()
    hidden = ui.t("console.reports.hidden")
    months = data["months"]
    totals_chart = charts.bars([m["month"] for m in months], [(ui.t("console.reports.total"),
                                                               [m["total"] for m in months])],
                               ui.t("console.reports.chart_months"), number=ui.number,
                               empty_text=ui.t("console.reports.none"), hidden_text=hidden, rtl=ui.rtl())
    month_charts = {
        m["month"]: charts.bars([needs.get(n, n) for n in data["needs"]],
                                [(ui.t("console.reports.total"), [m["need_totals"][n] for n in data["needs"]])],
                                ui.t("console.reports.chart_needs", month=m["month"]), number=ui.number,
                                hidden_text=hidden, rtl=ui.rtl())
        for m in months}
    return ui.render("reports.html", data=data, months=list(reversed(months)), areas=areas, needs=needs,
                     totals_chart=totals_chart, month_charts=month_charts)


@bp.get("/reports.csv")
@ui.area("reports")
def reports_csv():
    data = _build()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["month", "need", "governorate", "referrals", "suppressed"])
    for month in data["months"]:
        for need in data["needs"]:
            for gov in data["governorates"]:
                value = month["cells"][need][gov]
                writer.writerow([month["month"], need, gov, "" if value is None else value, int(value is None)])
            value = month["need_totals"][need]
            writer.writerow([month["month"], need, "total", "" if value is None else value, int(value is None)])
        for gov in data["governorates"]:
            value = month["governorate_totals"][gov]
            writer.writerow([month["month"], "total", gov, "" if value is None else value, int(value is None)])
        writer.writerow([month["month"], "total", "total", "" if month["total"] is None else month["total"],
                         int(month["total"] is None)])
    # a suppressed cell (fewer than small_cell referrals, or one that would give such a cell away) is empty
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="dalil-referrals-report.csv"'})
