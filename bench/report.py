"""Can a solver invert the municipality's report? Exact recovery of small cells, new method against the old.

    python3 bench/report.py [--tables 1000] [--seed 1]

For each random pilot-sized month (7 needs x 4 places: Kairouan, Medenine, Tataouine, unknown; most cells small,
as in a pilot), the table is published twice and attacked:
- baseline, the suppression the report used before (1-4 hidden, complementary cells hidden until no line has a
  lone hidden entry, everything else exact), attacked as the audit did: every table that fits the published
  totals is generated, the public suppression is re-run on it, and only tables that give back exactly the
  published pattern are kept (a search capped at CAP nodes per table; the share is over the tables searched in
  full);
- referrals.report.publish (under 5 hidden, 0 included; the rest and every total randomly rounded to 5),
  attacked by an exact integer-programming solver (scipy's HiGHS) over every integer table consistent with the
  published values, after a quick search for a second consistent table (a +-1 change, or a 2x2 swap, that keeps
  every published value) which already proves the cell is not determined.
A small cell (true value 0 to 4; for the baseline, only the hidden ones: it showed zeros) is recovered exactly
when every consistent table gives it the same value. The figure: small cells recovered exactly, as a share of
small cells, for each method, and their ratio. Target (issue 10): none for the new method.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from referrals import report  # noqa: E402

NEEDS, PLACES, SMALL = 7, 4, 5
CAP = 20000


def bounds_of(shown, method: str) -> tuple[list[float], list[float]]:
    """Per published entry (cells, row totals, column totals, grand total): what the attacker knows of it."""
    lo, hi = [], []
    for row in shown:
        for v in row:
            if method == "old":
                lo.append(0 if v is None else v)
                hi.append(np.inf if v is None else v)
            else:
                lo.append(0 if v is None else max(SMALL, v - 4))
                hi.append(SMALL - 1 if v is None else v + 4)
    return lo, hi


def solve_range(shown, method: str, target: int) -> tuple[int, int]:
    """Least and greatest value of cell ``target`` over integer tables consistent with ``shown``."""
    n = NEEDS * PLACES
    lo, hi = bounds_of(shown, method)
    width = PLACES + 1
    cell_lo = [lo[i * width + j] for i in range(NEEDS) for j in range(PLACES)]
    cell_hi = [hi[i * width + j] for i in range(NEEDS) for j in range(PLACES)]
    rows_a, rows_lo, rows_hi = [], [], []
    for i in range(NEEDS):  # row totals
        a = np.zeros(n)
        a[i * PLACES:(i + 1) * PLACES] = 1
        rows_a.append(a), rows_lo.append(lo[i * width + PLACES]), rows_hi.append(hi[i * width + PLACES])
    for j in range(PLACES + 1):  # column totals, then the grand total
        a = np.zeros(n)
        for i in range(NEEDS):
            if j < PLACES:
                a[i * PLACES + j] = 1
            else:
                a[i * PLACES:(i + 1) * PLACES] = 1
        rows_a.append(a), rows_lo.append(lo[NEEDS * width + j]), rows_hi.append(hi[NEEDS * width + j])
    constraints = LinearConstraint(np.array(rows_a), rows_lo, rows_hi)
    found = []
    for sign in (1, -1):
        c = np.zeros(n)
        c[target] = sign
        res = milp(c, constraints=constraints, integrality=np.ones(n), bounds=Bounds(cell_lo, cell_hi))
        found.append(round(sign * res.fun))
    return found[0], found[1]


def intervals(shown) -> list[list[tuple[int, int]]]:
    """What the attacker knows of each published value of the new method, as (least, greatest)."""
    return [[(0, SMALL - 1) if v is None else (max(SMALL, v - 4), v + 4) for v in row] for row in shown]


def second_table_exists(cells, shown, i: int, j: int) -> bool:
    """A consistent table where cell (i, j) differs: +-1 on it (totals moved with it) or a 2x2 swap."""
    box = intervals(shown)
    full = [row + [sum(row)] for row in cells]
    full.append([sum(col) for col in zip(*full)])
    inside = lambda r, c, v: box[r][c][0] <= v <= box[r][c][1]  # noqa: E731
    for d in (1, -1):
        if inside(i, j, cells[i][j] + d) and inside(i, PLACES, full[i][PLACES] + d) and \
                inside(NEEDS, j, full[NEEDS][j] + d) and inside(NEEDS, PLACES, full[NEEDS][PLACES] + d):
            return True
        for k in range(PLACES):
            for m in range(NEEDS):
                if k != j and m != i and inside(i, j, cells[i][j] + d) and inside(i, k, cells[i][k] - d) and \
                        inside(m, j, cells[m][j] - d) and inside(m, k, cells[m][k] + d):
                    return True
    return False


def old_attack(shown) -> dict[tuple[int, int], set[int]] | None:
    """The audit's attack on the old method: every candidate for the hidden cells that fits the published totals
    and gives back the published pattern under the public suppression. None when the search hit CAP."""
    hidden = [(i, j) for i in range(NEEDS) for j in range(PLACES) if shown[i][j] is None]
    values: dict[tuple[int, int], set[int]] = {h: set() for h in hidden}
    table = [[0 if v is None else v for v in row[:PLACES]] for row in shown[:NEEDS]]
    row_total = [shown[i][PLACES] for i in range(NEEDS)]
    col_total = [shown[NEEDS][j] for j in range(PLACES)]
    row_sum = [sum(r) for r in table]
    col_sum = [sum(table[i][j] for i in range(NEEDS)) for j in range(PLACES)]
    row_last = {i: k for k, (i, _) in enumerate(hidden)}
    col_last = {j: k for k, (_, j) in enumerate(hidden)}
    nodes = 0

    def choices(k: int) -> range:
        i, j = hidden[k]
        if k == row_last[i] and row_total[i] is not None:
            need = row_total[i] - row_sum[i]
            return range(need, need + 1) if need >= 0 else range(0)
        if k == col_last[j] and col_total[j] is not None:
            need = col_total[j] - col_sum[j]
            return range(need, need + 1) if need >= 0 else range(0)
        caps = [t - s for t, s in ((row_total[i], row_sum[i]), (col_total[j], col_sum[j])) if t is not None]
        return range(min(caps) + 1 if caps else 60)

    def search(k: int) -> bool:
        nonlocal nodes
        nodes += 1
        if nodes > CAP:
            return False
        if k == len(hidden):
            if report.suppress(table, SMALL) == shown:
                for h in hidden:
                    values[h].add(table[h[0]][h[1]])
            return True
        i, j = hidden[k]
        for v in choices(k):
            if col_total[j] is not None and col_sum[j] + v > col_total[j]:
                break
            if k == col_last[j] and col_total[j] is not None and col_sum[j] + v != col_total[j]:
                continue
            table[i][j] = v
            row_sum[i] += v
            col_sum[j] += v
            ok = search(k + 1)
            row_sum[i] -= v
            col_sum[j] -= v
            table[i][j] = 0
            if not ok:
                return False
        return True

    return values if search(0) else None


def pilot_table(rng: random.Random) -> list[list[int]]:
    return [[rng.choice((0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 12)) for _ in range(PLACES)] for _ in range(NEEDS)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    small = {"old": 0, "new": 0}
    recovered = {"old": 0, "new": 0}
    started = time.perf_counter()
    capped = 0
    for _ in range(args.tables):
        cells = pilot_table(rng)
        old, new = report.suppress(cells, SMALL), report.publish(cells, SMALL)
        found = old_attack(old)
        capped += found is None
        for i in range(NEEDS):
            for j in range(PLACES):
                true = cells[i][j]
                if 0 < true < SMALL and found is not None:  # the old method showed zeros: small is 1 to 4
                    small["old"] += 1
                    assert true in found[(i, j)], (cells, i, j)
                    recovered["old"] += found[(i, j)] == {true}
                if true < SMALL:
                    small["new"] += 1
                    if second_table_exists(cells, new, i, j):
                        continue
                    least, greatest = solve_range(new, "new", i * PLACES + j)
                    assert least <= true <= greatest, (cells, i, j)
                    recovered["new"] += least == greatest
    took = time.perf_counter() - started
    print(f"{args.tables} random pilot-sized tables ({NEEDS} needs x {PLACES} places), exact solver, {took:.0f} s")
    for method, label in (("old", "baseline: suppression"), ("new", "random rounding to 5, under 5 hidden")):
        share = recovered[method] / small[method] if small[method] else 0.0
        print(f"  {label}: {recovered[method]} of {small[method]} small cells recovered exactly ({share:.1%})")
        if method == "old" and capped:
            print(f"    (over the {args.tables - capped} tables searched in full; {capped} were too large to search "
                  f"within {CAP} nodes and are left out)")
    base = recovered["old"] / small["old"] if small["old"] else 0.0
    new = recovered["new"] / small["new"] if small["new"] else 0.0
    print(f"ratio new/baseline: {new / base if base else 0.0:.3f}  (target: 0 small cells recovered)")


if __name__ == "__main__":
    main()
