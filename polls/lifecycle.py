"""A poll's life: draft --open--> open --close--> closed, and the SMS invitation through the campaigns.

Opening makes the poll's key (32 random bytes, in ``poll_keys``): it hashes callers' numbers for "once per
person" and seals the requests for the result SMS. Closing queues those SMS, then deletes the key, the hashes
and the requests in the same transaction, and folds the WAL into the file so no old page keeps them.
"""
from __future__ import annotations

import functools
import json
import logging
import secrets
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from nacl.secret import SecretBox

from gateway import outbox
from gateway.store import scrub_wal, transaction
from messages import i18n
from polls import model, results, screens, store
from polls.model import Poll, PollError

log = logging.getLogger(__name__)


def today(ctx) -> str:
    """The local day ([gateway] timezone): a poll opens and closes on the days people see on their phones."""
    return datetime.now(ZoneInfo(ctx.config["gateway"]["timezone"])).date().isoformat()


def load(db, poll_id: int) -> Poll:
    row = store.get(db, poll_id)
    if row is None:
        raise PollError(f"no poll {poll_id}")
    return as_poll(row)


def as_poll(row: dict) -> Poll:
    """A stored row as a Poll, built once per definition and state (this runs on every hop of a poll)."""
    return _poll(row["definition_text"], row["id"], row["state"])


@functools.lru_cache(maxsize=256)
def _poll(definition: str, poll_id: int, state: str) -> Poll:
    return model.from_data(store.parse_definition(definition), poll_id, state)


def problems(ctx, db, poll: Poll) -> list[str]:
    """The checks of `dalil poll open` and the console: texts, screens, keyword, audience, dates."""
    out = screens.problems(poll)
    if store.keyword_taken(db, poll.keyword, poll.id):
        out.append(f"keyword: {poll.keyword} is the keyword of another poll that is not closed")
    out += _audience_problems(db, poll)
    if poll.closes < today(ctx) and poll.state == "draft":
        out.append(f"closes: {poll.closes} has passed")
    return out


def _audience_problems(db, poll: Poll) -> list[str]:
    from messages.audience import Audience, AudienceError
    try:
        Audience.from_data(poll.audience).check(db)
    except AudienceError as e:
        return [str(e)]
    return []


def create(ctx, db, definition: str | dict) -> tuple[int, list[str]]:
    """Store a draft (a definition that can be read at all); returns its id and what keeps it from opening."""
    poll = model.parse_toml(definition) if isinstance(definition, str) else model.parse(definition)
    with transaction(db):
        poll_id = store.insert(db, poll.keyword, poll.to_data(), today(ctx))
    return poll_id, problems(ctx, db, load(db, poll_id))


def replace(ctx, db, poll_id: int, definition: str) -> list[str]:
    """A draft's definition edited (the console's form); an open or closed poll is never changed."""
    current = load(db, poll_id)
    if current.state != "draft":
        raise PollError(f"poll {poll_id} is {current.state}: only a draft can be edited")
    poll = model.parse_toml(definition)
    with transaction(db):
        store.update_definition(db, poll_id, poll.keyword, poll.to_data())
    return problems(ctx, db, load(db, poll_id))


def open_poll(ctx, db, poll_id: int) -> None:
    with transaction(db):
        poll = load(db, poll_id)
        if poll.state != "draft":
            raise PollError(f"poll {poll_id} is {poll.state}: only a draft can be opened")
        found = problems(ctx, db, poll)
        if found:
            raise PollError("cannot open: " + "; ".join(found))
        store.open_poll(db, poll_id, secrets.token_bytes(SecretBox.KEY_SIZE))
    log.info("poll %d opened", poll_id)


def close(ctx, db, poll_id: int) -> int:
    """Close, queue the result SMS people asked for, destroy every trace of who took part. Returns SMS queued."""
    with transaction(db):
        poll = load(db, poll_id)
        if poll.state != "open":
            raise PollError(f"poll {poll_id} is {poll.state}: only an open poll can be closed")
        box = SecretBox(store.key(db, poll_id))
        requests = [json.loads(box.decrypt(sealed)) for sealed in store.result_requests(db, poll_id)]
        store.mark_closed(db, poll_id, today(ctx))
        poll = load(db, poll_id)
        built = results.build(db, poll, ctx.config["polls"]["small_cell"])
        not_before = _after_quiet_hours(ctx)
        for request in requests:
            outbox.enqueue(db, request["phone"], results.headline(built, poll, request["lang"]), kind="notice",
                           sensitive=True, not_before=not_before,
                           max_age_hours=ctx.config["dispatcher"]["max_age_hours"])
    scrub_wal(db)
    log.info("poll %d closed; %d result SMS queued", poll_id, len(requests))
    return len(requests)


def _after_quiet_hours(ctx) -> float:
    import time

    from messages.quiet import QuietHours
    quiet, now = QuietHours.from_config(ctx.config), time.time()
    return quiet.next_open(now) if quiet.is_quiet(now) else 0.0


def close_due(ctx, db) -> list[int]:
    """Close every open poll whose last day has passed (the `dalil serve` job, and `dalil poll close --due`)."""
    day = today(ctx)
    due = [row["id"] for row in store.listing(db, ("open",)) if row["definition"]["closes"] < day]
    for poll_id in due:
        close(ctx, db, poll_id)
    return due


def housekeeping(ctx, db) -> list[int]:
    """The `dalil serve` job: close polls past their last day; while any is open, fold the WAL into the file.

    Between checkpoints the WAL keeps page images of recent commits, each one a respondent's hash and counter
    increments together: truncating it every few minutes bounds how long a copy of it could pair them."""
    closed = close_due(ctx, db)
    if store.listing(db, ("open",)):
        scrub_wal(db)
    return closed


def is_answerable(ctx, poll: Poll) -> bool:
    return poll.state == "open" and poll.opens <= today(ctx) <= poll.closes


# -- the SMS invitation ---------------------------------------------------------------------------------------

def invitation(poll: Poll, lang: str) -> str:
    return "\n".join([i18n.t(lang, "poll.invite", title=poll.title[lang]), screens.question_screen(poll, 0, lang),
                      i18n.t(lang, "poll.invite.reply", keyword=poll.keyword)])


def invite(ctx, db, poll_id: int, rate_per_minute: int | None = None) -> int:
    """A draft campaign to the poll's audience, one text per language: staff preview it (recipients, cost,
    quiet hours) and send it like any campaign. Returns the campaign's id."""
    from messages import campaigns
    poll = load(db, poll_id)
    if poll.state != "open":
        raise PollError(f"poll {poll_id} is {poll.state}: open it before inviting anyone to answer")
    texts = {lang: invitation(poll, lang) for lang in i18n.LANGUAGES}
    try:
        with transaction(db):
            campaign_id = campaigns.create(
                ctx, db, name=f"Poll {poll.keyword}"[:100], texts=texts,
                fallback_language=ctx.config["gateway"]["default_language"],
                audience=dict(poll.audience), rate_per_minute=rate_per_minute,
                expiry_hours=_hours_until_close(ctx, poll))
            store.set_campaign(db, poll_id, campaign_id)
    except campaigns.CampaignError as e:
        raise PollError(f"invitation: {e}") from None
    return campaign_id


def _hours_until_close(ctx, poll: Poll) -> float:
    """An invitation still queued when the poll closes would ask people to answer a closed poll."""
    tz = ZoneInfo(ctx.config["gateway"]["timezone"])
    end = datetime.combine(date.fromisoformat(poll.closes) + timedelta(days=1), datetime.min.time(), tz)
    hours = (end - datetime.now(timezone.utc)).total_seconds() / 3600
    return max(1.0, min(hours, ctx.config["campaigns"]["expiry_hours"]))
