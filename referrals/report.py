"""The municipality's report: referrals by need and governorate, one table per month, small cells suppressed.

A cell (or a total) with 1 to small_cell-1 referrals is suppressed ("primary"). Totals would give a lone
suppressed cell back by subtraction, so in every row and column (totals included) that has exactly one
suppressed entry, a second one is suppressed ("complementary"): the smallest non-zero cell, else the smallest
cell, else the total; repeated until no line has a lone suppression. Zero is shown: it reveals no one. There is
no breakdown by CSO, and a month is its own table: nothing is summed across months.
"""
from __future__ import annotations

from referrals import store
from referrals.csos import NEEDS

UNKNOWN = "unknown"  # the person preferred not to say where


def suppress(cells: list[list[int]], small: int, also_hide: set = frozenset()) -> list[list[int | None]]:
    """Cells with row totals (last column), column totals (last row) and the grand total; None where hidden.

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


def build(db, small: int = 5) -> dict:
    rows = store.report_rows(db)
    governorates = sorted({g or UNKNOWN for _, g, _, _ in rows})
    months: dict[str, list[list[int]]] = {}
    for month, governorate, need, n in rows:
        table = months.setdefault(month, [[0] * len(governorates) for _ in NEEDS])
        if need in NEEDS:
            table[NEEDS.index(need)][governorates.index(governorate or UNKNOWN)] += n
    out = []
    for month, table in sorted(months.items()):
        shown = suppress(table, small)
        out.append({
            "month": month,
            "cells": {need: dict(zip(governorates, shown[i][:-1])) for i, need in enumerate(NEEDS)},
            "need_totals": {need: shown[i][-1] for i, need in enumerate(NEEDS)},
            "governorate_totals": dict(zip(governorates, shown[-1][:-1])),
            "total": shown[-1][-1],
        })
    return {"suppressed_below": small, "suppressed_as": None, "needs": list(NEEDS), "governorates": governorates,
            "months": out}
