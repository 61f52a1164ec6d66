"""A poll's definition, its checks, its calendar and its suppressed results, without the server."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from polls import answers, lifecycle, model, results, store
from polls.model import PollError
from test_polls_e2e import definition
from gateway import outbox


@pytest.mark.parametrize("change,message", [
    (lambda d: d.update(colour="red"), "unknown key(s) colour"),
    (lambda d: d.update(keyword="2X"), "keyword: expected 3 to 12 letters or digits"),
    (lambda d: d.update(closes="2020-01-01"), "closes: 2020-01-01 is before opens"),
    (lambda d: d.update(opens="1 December"), "opens: expected a day as YYYY-MM-DD"),
    (lambda d: d.update(questions=d["questions"] * 2), "questions: expected 1 to 5"),
    (lambda d: d["questions"][1].update(demographic=True), "question 2: a number question has no options and cannot"),
    (lambda d: d["questions"][1].update(min=5, max=1), "question 2: a number question needs whole numbers min <= max"),
    (lambda d: d["questions"][0].update(text="no.such.key"), "question 1 text: 'no.such.key' is not a key"),
    (lambda d: d["questions"][0]["options"][0].update(de="Ja"), "question 1 option 1: unknown language(s) de"),
    (lambda d: d.update(audience={"districts": []}), "audience: unknown field(s) districts"),
])
def test_a_definition_that_cannot_be_read_names_the_field(change, message):
    raw = definition("2026-06-01")
    change(raw)
    with pytest.raises(PollError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model.parse(raw)


def test_problems_name_the_question_and_the_language(app):
    ctx = app.extensions["dalil"]
    raw = definition(lifecycle.today(ctx))
    raw["questions"][0]["options"] = [{"ar": f"خيار {n}", "fr": f"Choix {n}", "en": f"Choice {n}"} for n in range(10)]
    raw["questions"][2]["options"] = ["poll.demo.age.young", "poll.demo.age.young"]
    raw["title"]["en"] = "A title far longer than forty characters fits no list"
    raw["audience"] = {"governorates": ["atlantis"]}
    raw["keyword"] = "STOP"
    _, problems = lifecycle.create(ctx, ctx.db(), raw)
    assert problems == [
        "title [en]: 53 characters, at most 40 (a line of the list of polls)",
        "question 1: 10 options, expected 2 to 9",
        "question 3 [ar]: two options read the same, a reply by word would be ambiguous",
        "question 3 [fr]: two options read the same, a reply by word would be ambiguous",
        "question 3 [en]: two options read the same, a reply by word would be ambiguous",
        "keyword: STOP is already a word of the SMS line (STOP, JOIN, MENU, ...)",
        "audience governorate: unknown 'atlantis'",
    ]  # the screens are measured once every text is right


def test_a_keyword_the_line_uses_or_another_open_poll_has_is_refused(app):
    ctx = app.extensions["dalil"]
    db = ctx.db()
    raw = definition(lifecycle.today(ctx))
    first, _ = lifecycle.create(ctx, db, raw)
    lifecycle.open_poll(ctx, db, first)
    _, problems = lifecycle.create(ctx, db, raw)
    assert problems == ["keyword: MAA is the keyword of another poll that is not closed"]
    _, problems = lifecycle.create(ctx, db, {**raw, "keyword": "Stop"})
    assert problems == ["keyword: STOP is already a word of the SMS line (STOP, JOIN, MENU, ...)"]


@pytest.mark.sqlite_only  # scans the SQLite file and its WAL
def test_answers_after_the_last_day_are_refused_and_the_closing_job_destroys_the_key(app, monkeypatch):
    ctx = app.extensions["dalil"]
    db = ctx.db()
    raw = definition(lifecycle.today(ctx))
    poll_id, _ = lifecycle.create(ctx, db, raw)
    lifecycle.open_poll(ctx, db, poll_id)
    poll = lifecycle.load(db, poll_id)
    assert answers.record(db, poll, "+21620000001", [1, 3, 1], "kairouan", "ar")
    assert not answers.record(db, poll, "+21620000001", [2, 3, 1], "kairouan", "ar")  # once per person
    assert answers.ask_for_result(db, poll, "+21620000001", "ar")
    assert lifecycle.is_answerable(ctx, poll)
    # while open, the job folds the WAL (where a commit pairs a hash with its counters) into the file
    from pathlib import Path
    wal = Path(ctx.db_path + "-wal")
    tag = db.execute("SELECT tag FROM poll_voters").fetchone()[0]
    assert tag in wal.read_bytes()
    assert lifecycle.housekeeping(ctx, db) == [] and wal.stat().st_size == 0
    day_after = (date.fromisoformat(raw["closes"]) + timedelta(days=1)).isoformat()
    monkeypatch.setattr(lifecycle, "today", lambda _ctx: day_after)
    assert not lifecycle.is_answerable(ctx, poll)
    assert lifecycle.close_due(ctx, db) == [poll_id]
    assert lifecycle.load(db, poll_id).state == "closed"
    assert store.key(db, poll_id) is None
    assert not answers.record(db, poll, "+21620000002", [1, 3, 1], "kairouan", "ar")  # no key: nothing counted
    assert store.respondents(db, poll_id) == 1
    # sealed while it waits, and a "reply" like any other sensitive message (gateway.outbox)
    queued = [(r["body"], r["kind"]) for r in outbox.readable(db) if r["to_number"] == "+21620000001"]
    assert queued == [(results.headline(results.build(db, lifecycle.load(db, poll_id), 5),
                                        lifecycle.load(db, poll_id), "ar"), "reply")]
    assert "قليلة" in queued[0][0]  # one answer: too few to share a result


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["kairouan", "medenine", "tataouine", "sfax"]),
                          st.sampled_from(["ar", "fr", "en"])), max_size=60))
def test_suppression_hides_small_cells_and_the_same_totals_in_both_tables(tmp_path_factory, people):
    from gateway import initialize
    from gateway.config import load
    folder = tmp_path_factory.mktemp("poll")
    ctx = initialize(load({"gateway": {"database": str(folder / "p.db"), "keys_dir": str(folder / "k")}}))
    db = ctx.db()
    raw = definition(lifecycle.today(ctx))
    raw["questions"] = raw["questions"][:1]
    poll_id, _ = lifecycle.create(ctx, db, raw)
    lifecycle.open_poll(ctx, db, poll_id)
    poll = lifecycle.load(db, poll_id)
    for n, (choice, gov, lang) in enumerate(people):
        answers.record(db, poll, f"+2162{n:07d}", [choice], gov, lang)
    q = results.build(db, poll, 5)["questions"][0]
    for a, option in enumerate(q["options"], start=1):
        real = sum(1 for c, _, _ in people if c == a)
        assert option["count"] in (None, real) and (option["count"] is None or not 0 < real < 5)
        for dim, pos in (("governorate", 1), ("language", 2)):
            line = list(option["by"][dim].values()) + [option["count"]]
            assert sum(v is None for v in line) != 1  # no lone hidden cell in a row, total included
            for value, shown in option["by"][dim].items():
                real = sum(1 for p in people if p[0] == a and p[pos] == value)
                assert shown in (None, real) and (shown is None or not 0 < real < 5)
    for dim in ("governorate", "language"):
        for value, total in q["column_totals"][dim].items():
            column = [o["by"][dim][value] for o in q["options"]] + [total]
            assert sum(v is None for v in column) != 1
        totals = [o["count"] for o in q["options"]] + [q["total"]]
        assert sum(v is None for v in totals) != 1
