"""The dashboard: the outbox by state, channel health, and the traffic of the last 24 hours and 30 days.

Traffic is counted from the outbox (messages that went out to a provider, by the time they did; a queued message
has not gone out and may never) and from the inbound SMS register; neither count says who. The municipality
viewer sees the same numbers without channel error texts.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import g

from gateway import health, outbox
from gateway.context import dalil
from gateway.console import bp, charts, store, ui


def traffic(db, now: float, tz: ZoneInfo) -> dict:
    """Messages sent and SMS in, per hour over 24 hours and per local day over 30 days."""
    hour_end = (int(now) // 3600 + 1) * 3600
    hours_start = hour_end - 24 * 3600
    local_now = datetime.fromtimestamp(now, timezone.utc).astimezone(tz)
    day_end = datetime.combine(local_now.date() + timedelta(days=1), datetime.min.time(), tz)
    days = [(day_end - timedelta(days=30 - i)) for i in range(30)]
    day_starts = [d.timestamp() for d in days] + [day_end.timestamp()]

    return {
        "hours": [datetime.fromtimestamp(hours_start + i * 3600, timezone.utc).astimezone(tz).strftime("%H")
                  for i in range(24)],
        "hour_out": store.per_bucket(db, "outbox", hours_start, 3600, 24),
        "hour_in": store.per_bucket(db, "inbound_seen", hours_start, 3600, 24),
        "days": [d.strftime("%d/%m") for d in days],
        # local days are not all 86400 s long (no DST in Tunisia today, but do not assume it)
        "day_out": store.per_span(db, "outbox", day_starts),
        "day_in": store.per_span(db, "inbound_seen", day_starts),
    }


@bp.get("/dashboard")
@ui.area("dashboard")
def dashboard():
    ctx = dalil()
    db = ctx.db()
    now = time.time()
    snap = health.snapshot(db, ctx.config, now)
    by_state = snap["outbox"]["by_state"]
    states = [(s, by_state.get(s, 0)) for s in outbox.STATES]
    tz = ZoneInfo(ctx.config["gateway"]["timezone"])
    data = traffic(db, now, tz)
    out_label, in_label = ui.t("console.dashboard.series.sent"), ui.t("console.dashboard.series.in")
    series_24 = [(out_label, data["hour_out"]), (in_label, data["hour_in"])]
    series_30 = [(out_label, data["day_out"]), (in_label, data["day_in"])]
    chart_24 = charts.bars(data["hours"], series_24, ui.t("console.dashboard.traffic24"), label_every=3,
                           number=ui.number, empty_text=ui.t("console.dashboard.no_traffic"), rtl=ui.rtl())
    chart_30 = charts.bars(data["days"], series_30, ui.t("console.dashboard.traffic30"), label_every=5,
                           number=ui.number, empty_text=ui.t("console.dashboard.no_traffic"), rtl=ui.rtl())
    chart_states = charts.hbars([(ui.t(f"console.state.{s}"), n) for s, n in states],
                                ui.t("console.dashboard.outbox"), number=ui.number, rtl=ui.rtl())
    totals = {"out_24": sum(data["hour_out"]), "in_24": sum(data["hour_in"]),
              "out_30": sum(data["day_out"]), "in_30": sum(data["day_in"]),
              "services": store.active_services(db), "subscribers": store.active_subscribers(db)}
    return ui.render("dashboard.html", snap=snap, states=states, chart_24=chart_24, chart_30=chart_30,
                     chart_states=chart_states, totals=totals, now=now, config_file=ctx.config_file(),
                     show_errors=ui.allowed(g.user["role"], "directory"))
