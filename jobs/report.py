"""What the municipality and partners see: counts of live profiles by trade, level and governorate, offers by
state, alerts and answers; cells below [jobs] small_cell hidden with the referral report's suppression
(referrals.report.suppress: primary, then complementary until no line has a lone hidden cell). Never a person:
no number, no key, no row per profile. The grids are fixed (every trade, level, governorate), so a new row or
column never announces a first profile.
"""
from __future__ import annotations

from jobs import profiles, store, taxonomy
from referrals.report import suppress

ANSWERS = ("alerted", "yes", "no", "contacted", "not_contacted")


def _grid(cells, rows: list, cols: list) -> list[list[int]]:
    where = {(str(r), str(c)): n for r, c, n in cells}
    return [[where.get((str(r), str(c)), 0) for c in cols] for r in rows]


def build(ctx, db) -> dict:
    from flows import directory
    small, today = ctx.config["jobs"]["small_cell"], profiles.today(ctx)
    trades = [code for code, _ in store.trades(db)]
    governorates = [g["code"] for g in directory.governorates(db)]
    by_level = suppress(_grid(store.profile_cells(db, today, "trade", "level"), trades, list(taxonomy.LEVELS)), small)
    by_place = suppress(_grid(store.profile_cells(db, today, "governorate", "trade"), governorates, trades), small)
    totals = store.counts(db)
    answers = {what: (n if (n := totals.get(what, 0)) == 0 or n >= small else None) for what in ANSWERS}
    return {"small_cell": small, "trades": trades, "levels": list(taxonomy.LEVELS), "governorates": governorates,
            "by_trade_level": by_level, "by_governorate_trade": by_place,
            "offers": {state: store.offer_states(db).get(state, 0) for state in ("draft", "open", "closed")},
            "answers": answers}


def offer_counts(ctx, db, offer_id: int) -> dict:
    """One offer's alerts and answers, small ones hidden: the contact knows who called, no one else needs to."""
    small, got = ctx.config["jobs"]["small_cell"], store.counts(db, offer_id)
    return {what: (n if (n := got.get(what, 0)) == 0 or n >= small else None) for what in ANSWERS}
