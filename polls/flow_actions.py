"""The actions of the "Have your say" screens (flows/definitions/polls.toml).

The session's vars carry the poll's progress in memory: which poll, which question, the answers so far and the
misses on this question. A reply that matches no option re-asks once with the options; a second miss ends the
session. Nothing reaches the database before the last answer, and then only as counters (polls/answers.py).
"""
from __future__ import annotations

import functools
from datetime import date

from flows.actions import Call, action
from messages import i18n
from polls import answers, lifecycle, screens, store
from polls.model import Poll, PollError

PROGRESS_VARS = ("poll_id", "poll_q", "poll_answers", "poll_misses", "poll_screen", "poll_reply", "poll_done")


def open_polls_for(call: Call) -> list[Poll]:
    """Open polls for the caller's home governorate and language (delegation and topics: invitations only)."""
    governorate, out = call.vars.get("governorate") or "", []
    for row in store.listing(call.db, ("open",)):
        poll = lifecycle.as_poll(row)
        audience = poll.audience
        if not lifecycle.is_answerable(call.ctx, poll):
            continue
        if audience.get("governorates") and governorate not in audience["governorates"]:
            continue
        if audience.get("languages") and call.lang not in audience["languages"]:
            continue
        out.append(poll)
    return out


@action("poll.list")
def list_polls(call: Call) -> str | None:
    polls = open_polls_for(call)
    if not polls:
        return "polls_none"
    call.vars["poll_ids"] = [p.id for p in polls]
    call.vars["poll_list"] = screens.list_screen(polls, call.lang)
    call.vars["poll_list_misses"] = 0
    return None


@action("poll.pick")
def pick(call: Call) -> str:
    ids = call.vars.get("poll_ids") or []
    said = (call.vars.pop("poll_pick", "") or "").strip().translate(screens.ARABIC_DIGITS)
    if said.isascii() and said.isdigit() and 1 <= int(said) <= len(ids):
        return _begin(call, ids[int(said) - 1])
    call.vars["poll_list_misses"] = call.vars.get("poll_list_misses", 0) + 1
    if call.vars["poll_list_misses"] > 1:
        return "poll_bad"
    call.vars["poll_list"] = i18n.t(call.lang, "poll.again") + "\n" + call.vars.get("poll_list", "")
    return "polls"


@action("poll.begin")
def begin_from_keyword(call: Call) -> str:
    return _begin(call, call.vars.pop("poll_start", None))


def _begin(call: Call, poll_id) -> str:
    try:
        poll = lifecycle.load(call.db, int(poll_id))
    except (PollError, TypeError, ValueError):
        return "poll_closed"
    if not lifecycle.is_answerable(call.ctx, poll):
        return "poll_closed"
    if answers.already_answered(call.db, poll, call.phone):
        return "poll_already"
    for var in PROGRESS_VARS:
        call.vars.pop(var, None)
    call.vars.update(poll_id=poll.id, poll_q=0, poll_answers=[], poll_misses=0,
                     poll_screen=screens.question_screen(poll, 0, call.lang))
    return "poll_question"


@action("poll.answer")
def answer(call: Call) -> str:
    reply = call.vars.pop("poll_reply", "")
    try:
        poll = lifecycle.load(call.db, int(call.vars.get("poll_id")))
    except (PollError, TypeError, ValueError):
        return "poll_closed"
    if not lifecycle.is_answerable(call.ctx, poll):
        return "poll_closed"
    index = call.vars["poll_q"]
    value = screens.match(poll.questions[index], call.lang, reply)
    if value is None:
        call.vars["poll_misses"] += 1
        if call.vars["poll_misses"] > 1:
            return "poll_bad"
        call.vars["poll_screen"] = screens.question_screen(poll, index, call.lang, again=True)
        return "poll_question"
    call.vars["poll_answers"].append(value)
    call.vars["poll_misses"] = 0
    if index + 1 < len(poll.questions):
        call.vars["poll_q"] = index + 1
        call.vars["poll_screen"] = screens.question_screen(poll, index + 1, call.lang)
        return "poll_question"
    return _submit(call, poll)


def _submit(call: Call, poll: Poll) -> str:
    given = call.vars.pop("poll_answers")
    if not answers.record(call.db, poll, call.phone, given, call.vars.get("governorate"), call.lang):
        return "poll_already"
    call.vars["poll_done"] = poll.id
    call.vars["poll_closes"] = closing_day(poll.closes, call.lang)
    return "poll_thanks"


@functools.lru_cache(maxsize=256)
def closing_day(day: str, lang: str) -> str:
    """The last day as the caller's locale writes it (babel takes half a millisecond: once per poll and language)."""
    return i18n.when(date.fromisoformat(day), lang)


@action("poll.ask_result")
def ask_result(call: Call) -> str:
    poll_id = call.vars.pop("poll_done", None)
    if poll_id is None:
        return "poll_done"
    poll = lifecycle.load(call.db, poll_id)
    if not answers.ask_for_result(call.db, poll, call.phone, call.lang):
        return "poll_closed"
    return "poll_result_promised"
