"""A campaign: what it is, its checks, reading and creating it (the package's docstring tells its life)."""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass

from gateway import blasts
from messages import schedule as schedules
from messages.audience import Audience, AudienceError
from messages.campaigns import store
from messages.i18n import LANGUAGES
from messages.quiet import QuietHours
from messages.segments import count, fold, non_gsm7_characters

STATUSES = ("draft", "scheduled", "active", "paused", "cancelled", "missed")
PAUSED_UNTIL = 32503680000.0  # 3000-01-01: where a paused campaign's queued rows wait until it is resumed
CANCELLED = "campaign cancelled"  # outbox error of a row a cancel expired
MAX_NAME = 100


class CampaignError(ValueError):
    """Bad campaign input or a wrong step; the message names the field."""


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    status: str
    texts: dict
    fallback_language: str
    audience: Audience
    schedule: str
    send_at: float | None
    cron: str | None
    rate_per_minute: int
    expiry_hours: float
    next_run_at: float | None
    paused_from: str | None

    def text_for(self, language: str) -> str:
        return self.texts.get(language) or self.texts[self.fallback_language]


def quiet_hours(config: dict) -> QuietHours:
    return _quiet_hours(tuple(config["campaigns"]["quiet_hours"]), config["gateway"]["timezone"])


@functools.lru_cache(maxsize=8)
def _quiet_hours(hours: tuple, tz_name: str) -> QuietHours:
    return QuietHours.from_config({"campaigns": {"quiet_hours": list(hours)}, "gateway": {"timezone": tz_name}})


def tz(ctx) -> str:
    return ctx.config["gateway"]["timezone"]


# -- reading -------------------------------------------------------------------------------------------------

def load(db, campaign_id: int) -> Campaign:
    raw = store.campaign_row(db, campaign_id)
    if raw is None:
        raise CampaignError(f"campaign: no campaign {campaign_id}")
    raw["texts"] = json.loads(raw["texts"])
    raw["audience"] = Audience.from_json(raw["audience"])
    return Campaign(**raw)


def listing(db, now: float | None = None) -> list[dict]:
    now = time.time() if now is None else now
    counts: dict[int, dict] = {}
    first_send: dict[int, float] = {}
    for cid, state, n, earliest in blasts.states_by_campaign(db):
        counts.setdefault(cid, {})[state] = n
        if state == "queued":
            first_send[cid] = earliest
    out = []
    for cid, name, status, schedule, next_run_at, created_at in store.campaign_rows(db):
        states = counts.get(cid, {})
        starts = first_send.get(cid)
        out.append({"id": cid, "name": name, "status": shown_status(status, states, starts, now),
                    "schedule": schedule, "next_run_at": next_run_at, "created_at": created_at,
                    "messages": sum(states.values()), "waiting": states.get("queued", 0) + states.get("sending", 0),
                    "starts_at": starts if starts and starts > now else None})
    return out


def shown_status(status: str, states: dict, first_send_at: float | None = None, now: float | None = None) -> str:
    """An active campaign with nothing left to send is done; one whose every message waits for a later time
    (queued in quiet hours, or spread by its rate) has not started: it is waiting, not sending."""
    if status == "active" and not states.get("queued") and not states.get("sending"):
        return "done"
    if (status == "active" and not states.get("sending") and first_send_at is not None
            and first_send_at > (time.time() if now is None else now)
            and not any(states.get(s) for s in ("sent", "delivered", "failed", "expired"))):
        return "waiting"
    return status


# -- creating ------------------------------------------------------------------------------------------------

def create(ctx, db, *, name: str, texts: dict, fallback_language: str, audience: Audience | dict | list | None = None,
           schedule: str = "now", send_at: float | None = None, cron: str | None = None,
           rate_per_minute: int | None = None, expiry_hours: float | None = None, now: float | None = None) -> int:
    """Check everything and store a draft; returns its id. Raises CampaignError naming the field."""
    now = time.time() if now is None else now
    settings = ctx.config["campaigns"]
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise CampaignError(f"name: expected 1 to {MAX_NAME} characters")
    texts = check_texts(ctx.config, texts, fallback_language)
    audience = _audience(db, audience)
    rate = settings["rate_per_minute"] if rate_per_minute is None else rate_per_minute
    expiry = settings["expiry_hours"] if expiry_hours is None else expiry_hours
    if rate < 0:
        raise CampaignError(f"rate: expected messages a minute, 0 or more, got {rate}")
    if expiry <= 0:
        raise CampaignError(f"expiry: expected a number of hours above 0, got {expiry}")
    check_schedule(ctx, schedule, send_at, cron, now)
    return store.insert_draft(db, name=name, texts=texts, fallback_language=fallback_language,
                              audience_json=audience.to_json(), schedule=schedule,
                              send_at=send_at if schedule == "at" else None, cron=cron if schedule == "cron" else None,
                              rate=rate, expiry=expiry, now=now)


def _audience(db, audience) -> Audience:
    try:
        audience = audience if isinstance(audience, Audience) else Audience.from_data(audience)
        audience.check(db)
    except AudienceError as e:
        raise CampaignError(str(e)) from None
    return audience


def check_schedule(ctx, schedule: str, send_at, cron, now: float) -> None:
    try:
        schedules.check(schedule, send_at, cron, quiet_hours(ctx.config), tz(ctx), now)
    except schedules.ScheduleError as e:
        raise CampaignError(str(e)) from None


def check_texts(config: dict, texts: dict, fallback_language: str) -> dict:
    """One text per language, the fallback among them, each within [campaigns] max_segments.

    The texts are checked first: with `--text de=...` the fallback defaults to `de`, and the text is the mistake."""
    cleaned = {}
    for lang, text in (texts or {}).items():
        if lang not in LANGUAGES:
            raise CampaignError(f"text ({lang}): unknown language; expected one of {', '.join(LANGUAGES)}")
        text = (text or "").strip()
        if not text:
            raise CampaignError(f"text ({lang}): empty")
        _check_length(config, lang, text)
        cleaned[lang] = text
    if fallback_language not in LANGUAGES:
        raise CampaignError(f"fallback language: expected one of {', '.join(LANGUAGES)}, got {fallback_language!r}")
    if fallback_language not in cleaned:
        given = ", ".join(cleaned) or "none"
        raise CampaignError(f"fallback language: no {fallback_language} text (texts given: {given}); the fallback "
                            f"is sent to subscribers whose language has no text, so it must be one of them")
    return cleaned


def outgoing(config: dict, lang: str, text: str) -> str:
    """The text as it is sent: accents GSM-7 lacks folded for the languages in [sms] fold_accents."""
    return fold(text) if lang in config["sms"]["fold_accents"] else text


def _check_length(config: dict, lang: str, text: str) -> None:
    cap = config["campaigns"]["max_segments"]
    text = outgoing(config, lang, text)
    seg = count(text)
    if seg.segments > cap:
        forced = non_gsm7_characters(text)
        why = f"; UCS-2 because of {' '.join(forced[:8])}" if forced and lang != "ar" else ""
        raise CampaignError(f"text ({lang}): {seg.segments} segments ({seg.characters} {seg.encoding} characters), "
                            f"more than [campaigns] max_segments = {cap}{why}")
