"""The municipality's report: referrals by need and governorate, one table per closed month, rounded.

Made to be neither inverted nor differenced (docs/privacy.md, "Reports"):
- a fixed grid: every need by every governorate of the deployment (and "unknown"), whether or not a referral
  came from there, so a new row or column never announces a first referral;
- a month is published once, when it is over, and never changes: polling cannot catch one referral arriving;
- every value, cells and totals alike, under ``small`` is shown as hidden (None), the same whether 0 or 4;
- every other value is randomly rounded to a multiple of ``base`` (up with probability remainder/base, so sums
  stay unbiased), each draw fresh from the system's random source. Totals are rounded on their own, so adding
  published cells does not give a published total, and no published value pins a hidden one: a solver over all
  the tables that could have been published finds several for every hidden cell (bench/report.py measures it).
Once a month is published its counters are deleted; only the rounded table stays.
"""
from __future__ import annotations

import json
import secrets

from gateway.store import transaction
from referrals import store
from referrals.protocol import days
from referrals.csos import NEEDS

UNKNOWN = "unknown"  # the person preferred not to say where
BASE = 5


def suppress(cells: list[list[int]], small: int, also_hide: set = frozenset()) -> list[list[int | None]]:
    """Primary and complementary suppression, other values exact: what this report did before. The polls'
    results still use it (polls/results.py); bench/report.py measures how much of it a solver gives back.
    Cells with row totals (last column), column totals (last row) and the grand total; None where hidden.
    ``also_hide``: (row, column) positions hidden from the start, e.g. totals another table of the same
    figures had to hide (the polls' results show one set of totals in two tables)."""
    rows, cols = len(cells), len(cells[0]) if cells else 0
    full = [row + [sum(row)] for row in cells]
    full.append([sum(full[i][j] for i in range(rows)) for j in range(cols + 1)])
    hidden = [[0 < v < small or (i, j) in also_hide for j, v in enumerate(row)] for i, row in enumerate(full)]
    # each line lists its positions, the total last
    lines = [[(i, j) for j in range(cols + 1)] for i in range(rows + 1)]
    lines += [[(i, j) for i in range(rows + 1)] for j in range(cols + 1)]
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(hidden[i][j] for i, j in line) != 1:
                continue
            open_cells = [(full[i][j], (i, j)) for i, j in line[:-1] if not hidden[i][j]]
            nonzero = [c for c in open_cells if c[0] > 0]
            pick = min(nonzero or open_cells)[1] if (nonzero or open_cells) else line[-1]
            hidden[pick[0]][pick[1]] = True
            changed = True
    return [[None if hidden[i][j] else full[i][j] for j in range(cols + 1)] for i in range(rows + 1)]


def round_value(v: int, small: int, base: int = BASE) -> int | None:
    if v < small:
        return None
    low, rest = divmod(v, base)
    return (low + (secrets.randbelow(base) < rest)) * base


def publish(cells: list[list[int]], small: int, base: int = BASE) -> list[list[int | None]]:
    """Cells with row totals (last column), column totals (last row) and the grand total, each rounded alone."""
    full = [row + [sum(row)] for row in cells]
    full.append([sum(col) for col in zip(*full)])
    return [[round_value(v, small, base) for v in row] for row in full]


def grid(db) -> list[str]:
    from flows import directory
    return [g["code"] for g in directory.governorates(db)] + [UNKNOWN]


def _month_table(counts: dict, governorates: list[str]) -> list[list[int]]:
    return [[counts.get((need, g), 0) for g in governorates] for need in NEEDS]


def _closed_months(first: str, current: str) -> list[str]:
    months, (y, m) = [], map(int, first.split("-"))
    while f"{y:04d}-{m:02d}" < current:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def publish_closed(db, small: int) -> None:
    """Publish every closed month not yet published (zeros included), then drop its counters."""
    current = days.today()[:7]
    rows = store.counts(db)
    by_month: dict[str, dict] = {}
    for month, need, governorate, n in rows:
        by_month.setdefault(month, {})[(need, governorate)] = n
    published = store.published_months(db)
    first = min([*by_month, *published], default=None)
    if first is None:
        return
    governorates = grid(db)
    with transaction(db):
        for month in _closed_months(first, current):
            if month in published:
                continue
            shown = publish(_month_table(by_month.get(month, {}), governorates), small)
            store.save_published(db, month, json.dumps({"governorates": governorates, "shown": shown}))
            store.drop_counts(db, month)


def _cell(shown: list, index: dict, row: int, governorate: str) -> int | None:
    """A governorate added to the directory after a month was published shows as hidden in that month."""
    return shown[row][index[governorate]] if governorate in index else None


def build(db, small: int = 5) -> dict:
    publish_closed(db, small)
    governorates = grid(db)
    out = []
    for month, data in store.published(db):
        table = json.loads(data)
        index = {g: i for i, g in enumerate(table["governorates"])}
        shown = table["shown"]
        out.append({
            "month": month,
            "cells": {need: {g: _cell(shown, index, i, g) for g in governorates} for i, need in enumerate(NEEDS)},
            "need_totals": {need: shown[i][-1] for i, need in enumerate(NEEDS)},
            "governorate_totals": {g: _cell(shown, index, len(NEEDS), g) for g in governorates},
            "total": shown[-1][-1],
        })
    return {"suppressed_below": small, "rounded_to": BASE, "suppressed_as": None, "needs": list(NEEDS),
            "governorates": governorates, "months": out}
