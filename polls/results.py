"""A poll's results from its counters: per question, counts and percentages overall, by governorate and by
language, small cells suppressed with the referral report's rule (referrals.report.suppress).

The option totals appear in both tables, so they must be hidden alike in both: a total hidden in one and shown
in the other would give a hidden cell back by subtraction. The two tables are suppressed again with the union of
their hidden totals until neither hides a new one. A number question shows its count and median, each hidden
below the small-cell size.
"""
from __future__ import annotations

import csv
import io
from collections import defaultdict

from messages import i18n
from messages.i18n import LANGUAGES
from polls import store
from polls.model import Poll
from referrals.report import suppress

DIMENSIONS = ("governorate", "language")


def build(db, poll: Poll, small: int) -> dict:
    counts: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))  # q -> dim -> value -> answer -> n
    for question, answer, dimension, value, n in store.tally(db, poll.id):
        counts[question][dimension][value][answer] = n
    governorates = sorted({v for q in counts.values() for v in q["governorate"]})
    columns = {"governorate": governorates, "language": list(LANGUAGES)}
    questions = []
    for number, question in enumerate(poll.questions, start=1):
        by = counts[number]
        if question.type == "number":
            questions.append(_number_result(question, by, columns, small))
        else:
            questions.append(_choice_result(question, by, columns, small))
    return {"small": small, "columns": columns, "questions": questions,
            "respondents": _shown(store.respondents(db, poll.id), small)}


def _shown(n: int, small: int) -> int | None:
    return None if 0 < n < small else n


def _choice_result(question, by, columns, small: int) -> dict:
    answers = range(1, len(question.options) + 1)
    cells = {dim: [[by[dim].get(value, {}).get(a, 0) for value in columns[dim]] for a in answers]
             for dim in DIMENSIONS}
    tables = _consistent(cells, small)
    gov = tables["governorate"]
    grand = gov[-1][-1]
    options = []
    for i, option in enumerate(question.options):
        total = gov[i][-1]
        options.append({"label": option, "count": total,
                        "percent": round(100 * total / grand, 1) if total is not None and grand else None,
                        "by": {dim: dict(zip(columns[dim], tables[dim][i][:-1])) for dim in DIMENSIONS}})
    return {"type": "choice", "text": question.text, "total": grand, "options": options,
            "column_totals": {dim: dict(zip(columns[dim], tables[dim][-1][:-1])) for dim in DIMENSIONS}}


def _consistent(cells: dict, small: int) -> dict:
    """Suppress each table; hide in every table the totals (option totals, grand total) any of them hid."""
    forced: set[int] = set()
    while True:
        tables = {}
        for dim, table in cells.items():
            ncols = len(table[0]) if table else 0
            tables[dim] = suppress(table, small, {(r, ncols) for r in forced})
        hidden = {r for t in tables.values() for r, row in enumerate(t) if row[-1] is None}
        if hidden <= forced:
            return tables
        forced |= hidden


def _number_result(question, by, columns, small: int) -> dict:
    def summary(tallied: dict) -> dict:
        n = sum(tallied.values())
        if n < small:
            return {"count": _shown(n, small), "median": None}
        return {"count": n, "median": _median(tallied)}
    overall: dict = defaultdict(int)
    for value_counts in by["language"].values():
        for answer, n in value_counts.items():
            overall[answer] += n
    return {"type": "number", "text": question.text, "min": question.min, "max": question.max,
            **summary(overall),
            "by": {dim: {value: summary(by[dim].get(value, {})) for value in columns[dim]} for dim in DIMENSIONS}}


def _median(tallied: dict) -> float:
    values = sorted(tallied.items())
    n = sum(c for _, c in values)
    middle, seen, below = [(n - 1) // 2, n // 2], 0, {}
    for value, c in values:
        for m in middle:
            if seen <= m < seen + c:
                below[m] = value
        seen += c
    return (below[middle[0]] + below[middle[1]]) / 2


def headline(built: dict, poll: Poll, lang: str) -> str:
    """The result SMS: the first choice question's leading option, or "too few answers" below the small cell."""
    title = poll.title[lang]
    first = next((q for q in built["questions"] if q["type"] == "choice"), None)
    shown = [o for o in (first or {}).get("options", []) if o["percent"] is not None]
    if not first or not first["total"] or first["total"] < built["small"] or not shown:
        return i18n.t(lang, "poll.headline.few", title=title)
    top = max(shown, key=lambda o: o["count"])
    return i18n.t(lang, "poll.headline", title=title, option=top["label"][lang],
                  percent=i18n.number(round(top["percent"]), lang), total=i18n.number(first["total"], lang))


CSV_HEADER = ["question", "answer", "label", "dimension", "value", "count", "percent", "suppressed"]


def csv_text(built: dict, lang: str) -> str:
    """One row per question, answer and breakdown ("all", each governorate, each language); a suppressed
    count is empty with suppressed = 1. Number questions give their count and median."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for number, q in enumerate(built["questions"], start=1):
        if q["type"] == "number":
            writer.writerow(_row(number, "", "count", "all", "", q["count"]))
            writer.writerow(_row(number, "", "median", "all", "", q["median"]))
            for dim in DIMENSIONS:
                for value, s in q["by"][dim].items():
                    writer.writerow(_row(number, "", "median", dim, value, s["median"]))
            continue
        for a, option in enumerate(q["options"], start=1):
            label = option["label"][lang]
            writer.writerow(_row(number, a, label, "all", "", option["count"], option["percent"]))
            for dim in DIMENSIONS:
                for value, count in option["by"][dim].items():
                    writer.writerow(_row(number, a, label, dim, value, count))
        writer.writerow(_row(number, "total", "", "all", "", q["total"]))
    return out.getvalue()


def _row(question, answer, label, dimension, value, count, percent=None) -> list:
    return [question, answer, label, dimension, value, "" if count is None else count,
            "" if percent is None else percent, int(count is None)]
