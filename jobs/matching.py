"""Which profiles an offer reaches, the alerts, the person's YES or NO, and the follow-up a week later.

Matching is one indexed query, streamed: trade, level at least the offer's, alive, free for the offer's kind,
and the place (a person who travels anywhere; one who stays in their governorate when the offer is there; one
who stays in their delegation when the offer is there or names no delegation), minus the opted-out contact keys
and those this offer already reached. Alerts go the way the campaigns go (quiet hours pushed back, paced over
open hours at [jobs] rate_per_minute, a preview with the cost first, opted-out numbers skipped) but sealed, like
every message to a person (gateway.outbox: number and text under the process's key, wiped once sent), because
an alert says what someone can do and where they live.

A YES sends exactly one SMS, to exactly the offer's contact, holding the person's number; a NO or silence sends
nothing. Both are counted. The follow-up's answers are only counted.
"""
from __future__ import annotations

import logging
import time

from gateway import outbox
from gateway.store import transaction
from jobs import offers as offers_mod
from jobs import profiles, store
from messages import i18n
from messages.campaigns import quiet_hours
from messages.i18n import LANGUAGES
from messages.quiet import Pacer
from messages.segments import count

log = logging.getLogger(__name__)
DAY = 86400
BATCH = 500  # match rows written at a time while the alerts stream


class MatchError(ValueError):
    pass


def preview(ctx, db, offer_id: int, now: float | None = None) -> dict:
    """Who it reaches per language (before opted-out subscribers are skipped), segments, cost, when it goes."""
    now = time.time() if now is None else now
    offer = offers_mod.load(db, offer_id)
    by_lang = store.matching_by_language(db, offer, profiles.today(ctx))
    settings = ctx.config["campaigns"]
    languages = {}
    for lang in LANGUAGES:
        seg = count(offers_mod.alert_text(db, offer, lang))
        n = by_lang.get(lang, 0)
        languages[lang] = {"recipients": n, "segments": seg.segments, "encoding": seg.encoding,
                           "total_segments": n * seg.segments}
    recipients = sum(by_lang.values())
    total = sum(v["total_segments"] for v in languages.values())
    quiet = quiet_hours(ctx.config)
    starts = quiet.next_open(now)
    rate = ctx.config["jobs"]["rate_per_minute"]
    finishes = Pacer(quiet, starts, 60.0 / rate)(recipients - 1) if rate and recipients else starts
    return {"offer": offer_id, "recipients": recipients, "languages": languages, "total_segments": total,
            "price_per_segment": settings["price_per_segment"], "currency": settings["currency"],
            "estimated_cost": round(total * settings["price_per_segment"], 3), "starts_at": starts,
            "finishes_at": finishes, "quiet_hours": quiet.describe(), "waits_for_quiet_hours": starts > now}


def _opted_out(db):
    """Who must get no alert though their contact key is not on the opt-out list: subscribers who said STOP (their
    numbers are in the subscribers table) and erased numbers' coarse marks. Read once per offer."""
    from messages import store as subscriber_store
    from messages import subscribers
    numbers, marks = subscriber_store.opted_out_numbers(db), subscriber_store.opt_out_marks(db)
    return lambda e164: e164 in numbers or subscribers.opt_out_mark(e164) in marks


def send_alerts(ctx, db, offer_id: int, now: float | None = None) -> int:
    """Queue the alerts of a draft offer and open it; returns how many. One transaction: all or nothing.

    The matches are streamed from one query; the match rows and prompts are written in batches, so memory stays
    the same however many profiles there are (bench/job_alerts.py)."""
    now = time.time() if now is None else now
    offer = offers_mod.load(db, offer_id)
    if offer["state"] != "draft":
        raise MatchError(f"offer {offer_id} is {offer['state']}: alerts go once, from a draft")
    texts = {lang: offers_mod.alert_text(db, offer, lang) for lang in LANGUAGES}
    quiet = quiet_hours(ctx.config)
    rate = ctx.config["jobs"]["rate_per_minute"]
    start = quiet.next_open(now)
    pace = Pacer(quiet, start, 60.0 / rate) if rate else (lambda n: start)
    max_age = ctx.config["dispatcher"]["max_age_hours"] * 3600
    box, opted_out, batch = profiles.box(ctx), _opted_out(db), []
    queued, skipped, today = 0, 0, profiles.today(ctx)
    with transaction(db):
        store.set_offer_state(db, offer_id, "open", "draft")
        for key, sealed, lang in store.matching(db, offer, today):
            e164 = profiles.open_number(ctx, sealed, box)
            if opted_out(e164):
                skipped += 1
                continue
            when = pace(queued)
            outbox.enqueue(db, e164, texts[lang], kind="notice", sensitive=True, not_before=when,
                           expires_at=(int((when + max_age) // DAY) + 1) * DAY)
            batch.append(key)
            queued += 1
            if len(batch) >= BATCH:
                store.add_matches(db, offer_id, batch)
                batch.clear()
        store.add_matches(db, offer_id, batch)
        if queued:
            store.count_up(db, offer_id, "alerted", queued)
    log.info("job offer %d: %d alert(s) queued, %d opted out skipped", offer_id, queued, skipped)
    return queued


def answer(ctx, db, key: str, e164: str, offer_id: int, yes: bool, now: float | None = None) -> str:
    """The person's answer to an alert; returns the catalog key of what they read back."""
    now = time.time() if now is None else now
    with transaction(db):
        offer = store.offer(db, offer_id)
        if offer is None or offer["state"] != "open" or store.match_state(db, offer_id, key) != "alerted":
            return "jobs.answer.gone"
        store.set_prompt(db, key, None)
        if not yes:
            store.set_match(db, offer_id, key, "no", "alerted")
            store.count_up(db, offer_id, "no")
            return "jobs.answer.no"
        follow = ctx.config["jobs"]["follow_up_days"]
        follow_day = profiles.day_after(profiles.today(ctx), follow) if follow else None
        store.set_match(db, offer_id, key, "yes" if follow else "done", "alerted", follow_day)
        store.count_up(db, offer_id, "yes")
        outbox.enqueue(db, offer["contact"], offers_mod.share_text(offer, e164), kind="notice", sensitive=True,
                       not_before=quiet_hours(ctx.config).next_open(now),
                       max_age_hours=ctx.config["dispatcher"]["max_age_hours"])
    return "jobs.answer.yes"


def follow_up_answer(db, key: str, offer_id: int, contacted: bool) -> str:
    with transaction(db):
        if not store.set_match(db, offer_id, key, "done", "asked"):
            return "jobs.answer.gone"
        store.set_prompt(db, key, None)
        store.count_up(db, offer_id, "contacted" if contacted else "not_contacted")
    return "jobs.follow.thanks"


# -- the `dalil serve` job: expiry, reminders, follow-ups ------------------------------------------------------

def housekeeping(ctx, db, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    today = profiles.today(ctx)
    not_before = quiet_hours(ctx.config).next_open(now)
    max_age = ctx.config["dispatcher"]["max_age_hours"]
    done = {"expired": 0, "reminded": 0, "followed_up": 0}
    with transaction(db):
        for key in store.expired_keys(db, today):
            store.delete_profile(db, key)
            done["expired"] += 1
        horizon = profiles.day_after(today, ctx.config["jobs"]["reminder_days"])
        for key, sealed, lang, until in store.due_reminders(db, horizon).fetchall():
            text = i18n.t(lang, "jobs.remind", day=_day(until, lang), days=ctx.config["jobs"]["profile_days"])
            outbox.enqueue(db, profiles.open_number(ctx, sealed), text, kind="notice", sensitive=True,
                           not_before=not_before, max_age_hours=max_age)
            store.mark_reminded(db, key)
            done["reminded"] += 1
        for offer_id, key, sealed, lang in store.due_follow_ups(db, today).fetchall():
            offer = store.offer(db, offer_id)
            text = i18n.t(lang, "jobs.follow.ask", offer=offer["texts"][lang])
            outbox.enqueue(db, profiles.open_number(ctx, sealed), text, kind="notice", sensitive=True,
                           not_before=not_before, max_age_hours=max_age)
            store.set_match(db, offer_id, key, "asked", "yes")
            store.set_prompt(db, key, f"followup:{offer_id}")
            done["followed_up"] += 1
    return done


def _day(day: str, lang: str) -> str:
    from datetime import date
    return i18n.when(date.fromisoformat(day), lang, "short")
