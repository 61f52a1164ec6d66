"""Campaigns: information blasts to opted-in subscribers by area, interest and language, on a schedule.

Life of a campaign (``campaigns.status``)::

    draft --send--> active      (schedule "now": queued at once)
          --send--> scheduled   (a time, or a recurrence: messages/schedule.py runs it)
    active | scheduled --pause--> paused --resume--> back where it was
    any --cancel--> cancelled;  a one-off whose time passed while the gateway was down --> missed

A run queues one outbox row per matching subscriber with a single INSERT ... SELECT per batch of subscriber
ids: the audience is never loaded into Python (bench/blast.py measures it), and the whole run is one
transaction, so nothing is half-queued. Each row's text is its subscriber's language or the fallback; its
``not_before`` is the end of quiet hours if they are on, and with a rate the rows are spread over the open
hours (messages/quiet.py). Pausing parks queued rows at a far-future ``not_before``; cancelling expires them.
Results are counted from the outbox, so delivery receipts show up as they arrive.
"""
from __future__ import annotations

import functools
import json
import logging
import time
import unicodedata
import uuid
from dataclasses import dataclass

from gateway import contacts, outbox
from gateway.store import transaction
from messages import schedule as schedules
from messages.audience import Audience, AudienceError
from messages.i18n import LANGUAGES
from messages.quiet import Pacer, QuietHours
from messages.segments import count, fold, is_gsm7, non_gsm7_characters
from messages.subscribers import SKIPPED_OPTED_OUT

log = logging.getLogger(__name__)

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


_FIELDS = ("id", "name", "status", "texts", "fallback_language", "audience", "schedule", "send_at", "cron",
           "rate_per_minute", "expiry_hours", "next_run_at", "paused_from")


def quiet_hours(config: dict) -> QuietHours:
    return _quiet_hours(tuple(config["campaigns"]["quiet_hours"]), config["gateway"]["timezone"])


@functools.lru_cache(maxsize=8)
def _quiet_hours(hours: tuple, tz_name: str) -> QuietHours:
    return QuietHours.from_config({"campaigns": {"quiet_hours": list(hours)}, "gateway": {"timezone": tz_name}})


def _tz(ctx) -> str:
    return ctx.config["gateway"]["timezone"]


# -- reading -------------------------------------------------------------------------------------------------

def load(db, campaign_id: int) -> Campaign:
    row = db.execute(f"SELECT {', '.join(_FIELDS)} FROM campaigns WHERE id = ?", [campaign_id]).fetchone()  # noqa: S608 (fixed names, bound values)
    if row is None:
        raise CampaignError(f"campaign: no campaign {campaign_id}")
    raw = dict(zip(_FIELDS, row))
    raw["texts"] = json.loads(raw["texts"])
    raw["audience"] = Audience.from_json(raw["audience"])
    return Campaign(**raw)


def listing(db, now: float | None = None) -> list[dict]:
    now = time.time() if now is None else now
    counts: dict[int, dict] = {}
    first_send: dict[int, float] = {}
    for cid, state, n, earliest in db.execute(
            "SELECT campaign_id, state, count(*), min(not_before) FROM outbox WHERE campaign_id IS NOT NULL "
            "AND kind = 'blast' GROUP BY campaign_id, state"):
        counts.setdefault(cid, {})[state] = n
        if state == "queued":
            first_send[cid] = earliest
    rows = db.execute("SELECT id, name, status, schedule, next_run_at, created_at FROM campaigns ORDER BY id DESC")
    out = []
    for cid, name, status, schedule, next_run_at, created_at in rows:
        states = counts.get(cid, {})
        starts = first_send.get(cid)
        out.append({"id": cid, "name": name, "status": _shown_status(status, states, starts, now),
                    "schedule": schedule, "next_run_at": next_run_at, "created_at": created_at,
                    "messages": sum(states.values()), "waiting": states.get("queued", 0) + states.get("sending", 0),
                    "starts_at": starts if starts and starts > now else None})
    return out


def _shown_status(status: str, states: dict, first_send_at: float | None = None, now: float | None = None) -> str:
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
    _check_schedule(ctx, schedule, send_at, cron, now)
    cur = db.execute(
        "INSERT INTO campaigns (name, status, texts, fallback_language, audience, schedule, send_at, cron, "
        "rate_per_minute, expiry_hours, created_at, updated_at) VALUES (?, 'draft', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [name, json.dumps(texts, ensure_ascii=False), fallback_language, audience.to_json(), schedule,
         send_at if schedule == "at" else None, cron if schedule == "cron" else None, rate, expiry, now, now])
    return cur.lastrowid


def _audience(db, audience) -> Audience:
    try:
        audience = audience if isinstance(audience, Audience) else Audience.from_data(audience)
        audience.check(db)
    except AudienceError as e:
        raise CampaignError(str(e)) from None
    return audience


def _check_schedule(ctx, schedule: str, send_at, cron, now: float) -> None:
    try:
        schedules.check(schedule, send_at, cron, quiet_hours(ctx.config), _tz(ctx), now)
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


# -- preview -------------------------------------------------------------------------------------------------

def recipients_by_language(db, audience: Audience) -> dict[str, int]:
    where, params = audience.where()
    return dict(db.execute(f"SELECT s.language, count(*) FROM subscribers s WHERE {where} GROUP BY s.language",  # noqa: S608 (fixed names, bound values)
                           params).fetchall())


def gsm7_lookalike(text: str) -> str:
    """The text with accents and typographic marks flattened: what it would be in GSM-7, for the warning."""
    out = []
    for c in text:
        if is_gsm7(c):
            out.append(c)
            continue
        c = _LOOKALIKES.get(c, c)
        if not is_gsm7(c):
            c = "".join(x for x in unicodedata.normalize("NFKD", c) if not unicodedata.combining(x))
        out.append(c)
    return "".join(out)


_LOOKALIKES = {"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "–": "-", "—": "-", "…": "...",
               "œ": "oe", "Œ": "OE", "\u00a0": " ", "\u202f": " "}


def text_report(lang: str, text: str) -> dict:
    seg = count(text)
    info = seg.as_dict()
    forced = non_gsm7_characters(text) if seg.encoding == "UCS-2" else []
    info["ucs2_characters"] = forced
    flat = gsm7_lookalike(text)
    info["gsm7_segments"] = count(flat).segments if forced and is_gsm7(flat) else None
    return info


def preview(ctx, db, campaign: Campaign, now: float | None = None) -> dict:
    """Recipients per language, encoding and segments of each text, total segments, estimated cost, warnings."""
    now = time.time() if now is None else now
    settings = ctx.config["campaigns"]
    by_lang = recipients_by_language(db, campaign.audience)
    texts = {lang: text_report(lang, outgoing(ctx.config, lang, text)) for lang, text in campaign.texts.items()}
    languages = {}
    for lang in LANGUAGES:
        n = by_lang.get(lang, 0)
        used = lang if lang in campaign.texts else campaign.fallback_language
        languages[lang] = {"recipients": n, "text": used, "segments": texts[used]["segments"],
                           "total_segments": n * texts[used]["segments"]}
    total = sum(v["total_segments"] for v in languages.values())
    recipients = sum(by_lang.values())
    timing = _timing(ctx, campaign, recipients, now)
    return {"campaign": campaign.id, "name": campaign.name, "status": campaign.status,
            "audience": _audience_words(ctx, campaign), "recipients": recipients, "languages": languages,
            "texts": texts, "total_segments": total, "price_per_segment": settings["price_per_segment"],
            "currency": settings["currency"], "estimated_cost": round(total * settings["price_per_segment"], 3),
            **timing, "route_limits": (limits := route_problems(ctx, db, campaign)),
            "warnings": limits + _warnings(ctx, campaign, languages, texts, recipients, timing)}


def route_problems(ctx, db, campaign: Campaign) -> list[str]:
    """Texts longer than the route their recipients' messages are meant to take ([channels.*] max_segments):
    refused at preview and at send, naming the route and the limit, never cut."""
    from gateway import routing
    config = ctx.config
    limits = {c: routing.max_segments(config, c) for c in routing.channel_names() if routing.max_segments(config, c)}
    if not limits:
        return []
    route, route_params = routing.planned(config).sql(number="s.phone", requested="NULL", segments="1")
    where, params = campaign.audience.where()
    rows = db.execute(f"SELECT {route} AS route, s.language, count(*) FROM subscribers s WHERE {where} "  # noqa: S608 (fixed names, bound values)
                      f"GROUP BY route, s.language ORDER BY route, s.language", route_params + params).fetchall()
    problems = []
    for channel, lang, n in rows:
        used = lang if lang in campaign.texts else campaign.fallback_language
        segments = count(campaign.texts[used]).segments
        if limits.get(channel) and segments > limits[channel]:
            problems.append(f"text ({used}): {segments} segments for {n} recipient(s) on route {channel}, which "
                            f"carries at most {limits[channel]} ([channels.{channel}] max_segments); shorten it")
    return problems


def _timing(ctx, campaign: Campaign, recipients: int, now: float) -> dict:
    quiet = quiet_hours(ctx.config)
    due = campaign.next_run_at or schedules.first_run(campaign.schedule, campaign.send_at, campaign.cron, _tz(ctx),
                                                       now) or now
    first = quiet.next_open(max(due, now))
    finish = None
    if campaign.rate_per_minute and recipients:
        finish = Pacer(quiet, first, 60.0 / campaign.rate_per_minute)(recipients - 1)
    return {"starts_at": first, "quiet_hours": quiet.describe(), "waits_for_quiet_hours": first > max(due, now),
            "finishes_at": finish, "expires_at": first + campaign.expiry_hours * 3600}


def _audience_words(ctx, campaign: Campaign) -> str:
    return campaign.audience.describe(ctx.config["gateway"]["timezone"])


def _warnings(ctx, campaign: Campaign, languages: dict, texts: dict, recipients: int, timing: dict) -> list[str]:
    out = []
    if not recipients:
        out.append(f"audience: matches nobody ({_audience_words(ctx, campaign)})")
    for lang, info in texts.items():
        if info["ucs2_characters"] and lang != "ar":  # Arabic is UCS-2 by nature; a French ç is a surprise
            alt = f"; without them {info['gsm7_segments']} in GSM-7" if info["gsm7_segments"] else ""
            out.append(f"text ({lang}): {' '.join(info['ucs2_characters'])} force UCS-2 (70 characters a "
                       f"segment instead of 160): {info['segments']} segment(s){alt}")
    for lang, info in languages.items():
        if info["recipients"] and info["text"] != lang:
            out.append(f"{info['recipients']} subscriber(s) in {lang} get the {info['text']} text (no {lang} text)")
    if timing["finishes_at"] and timing["finishes_at"] > timing["expires_at"]:
        out.append(f"rate: at {campaign.rate_per_minute} a minute the last message would go after the expiry "
                   f"({campaign.expiry_hours:g} h); the rest would expire unsent")
    return out


# -- sending -------------------------------------------------------------------------------------------------

def send(ctx, db, campaign: Campaign, now: float | None = None, progress=None) -> dict:
    """Queue a "now" campaign at once, or hand a timed or recurring one to the scheduler."""
    now = time.time() if now is None else now
    if campaign.status != "draft":
        raise CampaignError(f"status: campaign {campaign.id} is {campaign.status}; only a draft can be sent")
    check_texts(ctx.config, campaign.texts, campaign.fallback_language)  # the config may have changed since
    _check_schedule(ctx, campaign.schedule, campaign.send_at, campaign.cron, now)
    info = preview(ctx, db, campaign, now)
    if info["route_limits"]:
        raise CampaignError("; ".join(info["route_limits"]) + "; nothing queued")
    if not info["recipients"]:
        raise CampaignError(f"audience: matches nobody ({_audience_words(ctx, campaign)}); nothing queued")
    if info["finishes_at"] and info["finishes_at"] > info["expires_at"]:
        raise CampaignError(f"rate: at {campaign.rate_per_minute} a minute, {info['recipients']} messages would go "
                            f"on past the expiry of {campaign.expiry_hours:g} h; raise the rate or the expiry")
    if campaign.schedule != "now":
        due = schedules.first_run(campaign.schedule, campaign.send_at, campaign.cron, _tz(ctx), now)
        _set_status(db, campaign.id, "scheduled", due, now)
        return {"status": "scheduled", "next_run_at": due, "recipients": info["recipients"]}
    with transaction(db):
        run = queue_run(ctx, db, campaign, run_key="now", due=now, now=now, progress=progress,
                        total=info["recipients"])
        _set_status(db, campaign.id, "active", None, now)
    return {"status": "active", **run}


def _set_status(db, campaign_id: int, status: str, next_run_at: float | None, now: float) -> None:
    db.execute("UPDATE campaigns SET status = ?, next_run_at = ?, updated_at = ? WHERE id = ?",
               [status, next_run_at, now, campaign_id])


def queue_run(ctx, db, campaign: Campaign, *, run_key: str, due: float, now: float, progress=None,
              total: int | None = None) -> dict:
    """Queue one run of the campaign, once: a run_key already queued queues nothing. One transaction."""
    quiet = quiet_hours(ctx.config)
    first = quiet.next_open(max(due, now))
    expires = first + campaign.expiry_hours * 3600
    with transaction(db):
        cur = db.execute(
            "INSERT INTO campaign_runs (campaign_id, run_key, due_at, started_at, first_send_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(campaign_id, run_key) DO NOTHING",
            [campaign.id, run_key, due, now, first, expires])
        if not cur.rowcount:
            return {"run": None, "run_key": run_key, "queued": 0, "first_send_at": first, "expires_at": expires}
        run_id = cur.lastrowid
        queued = _insert_blasts(ctx, db, campaign, f"blast:{campaign.id}:{run_id}:", first, expires, now,
                                progress, total)
        db.execute("UPDATE campaign_runs SET queued = ? WHERE id = ?", [queued, run_id])
    log.info("campaign %s run %s: %d message(s) queued", campaign.id, run_id, queued)
    return {"run": run_id, "run_key": run_key, "queued": queued, "first_send_at": first, "expires_at": expires}


def _case(values: dict, fallback) -> tuple[str, list]:
    """CASE s.language WHEN 'ar' THEN ? ... END: one value per language, bound once per statement."""
    sql = "CASE s.language " + " ".join(f"WHEN '{lang}' THEN ?" for lang in LANGUAGES) + " ELSE ? END"
    return sql, [values[lang] for lang in LANGUAGES] + [fallback]


def _pace_sql(ctx, db, campaign: Campaign, first: float) -> str | None:
    """Register the pacing function on this connection; None when the campaign has no rate."""
    if not campaign.rate_per_minute:
        return None
    pacer = Pacer(quiet_hours(ctx.config), first, 60.0 / campaign.rate_per_minute)
    db.conn.create_function("dalil_pace", 1, pacer, deterministic=True)
    return "dalil_pace"


def _insert_blasts(ctx, db, campaign: Campaign, key_prefix: str, first: float, expires: float, now: float,
                   progress=None, total: int | None = None) -> int:
    """INSERT ... SELECT over batches of subscriber ids: SQLite streams the rows, Python holds none of them."""
    written = {lang: lang if lang in campaign.texts else campaign.fallback_language for lang in LANGUAGES}
    bodies = {lang: outgoing(ctx.config, written[lang], campaign.text_for(lang)) for lang in LANGUAGES}
    fallback = bodies[campaign.fallback_language]
    body_sql, body_params = _case(bodies, fallback)
    enc_sql, enc_params = _case({k: count(v).encoding for k, v in bodies.items()}, count(fallback).encoding)
    seg_sql, seg_params = _case({k: count(v).segments for k, v in bodies.items()}, count(fallback).segments)
    pace = _pace_sql(ctx, db, campaign, first)
    where, where_params = campaign.audience.where()
    not_before = f"{pace}(? + row_number() OVER (ORDER BY s.id) - 1)" if pace else "?"
    sql = (
        "INSERT INTO outbox (idempotency_key, to_number, body, kind, priority, encoding, segments, not_before, "  # noqa: S608 (fixed names, bound values)
        "expires_at, created_at, updated_at, sensitive, campaign_id, subscriber_id) "
        f"SELECT ? || s.id, s.phone, {body_sql}, 'blast', ?, {enc_sql}, {seg_sql}, {not_before}, ?, ?, ?, 0, ?, s.id "
        f"FROM subscribers s WHERE s.id > ? AND s.id <= ? AND {where} ORDER BY s.id "
        "ON CONFLICT(idempotency_key) DO NOTHING")
    low, high = db.execute("SELECT coalesce(min(id), 1), coalesce(max(id), 0) FROM subscribers").fetchone()
    batch = max(1, ctx.config["campaigns"]["queue_batch"])
    queued = 0
    for start in range(low - 1, high, batch):
        params = [key_prefix, *body_params, outbox.PRIORITY["blast"], *enc_params, *seg_params,
                  queued if pace else first, expires, now, now, campaign.id, start, start + batch, *where_params]
        queued += db.execute(sql, params).rowcount
        if progress:
            progress(queued, total)
    return queued


def run_scheduled(ctx, db, campaign_id: int, now: float) -> dict | None:
    """Run a scheduled campaign that is due, and move it to its next time (both or neither: one transaction)."""
    grace = ctx.config["campaigns"]["misfire_grace_minutes"] * 60
    with transaction(db):
        campaign = load(db, campaign_id)
        due = campaign.next_run_at
        if campaign.status != "scheduled" or due is None or due > now:
            return None
        following = schedules.next_cron_time(campaign.cron, _tz(ctx), now) if campaign.schedule == "cron" else None
        run = None
        if now - due > grace:
            log.warning("campaign %s: the run due %s was missed by %.0f min (gateway down?); skipped",
                        campaign_id, schedules.show(due, _tz(ctx)), (now - due) / 60)
        elif problems := route_problems(ctx, db, campaign):  # the routes changed since it was scheduled
            log.warning("campaign %s: not queued: %s", campaign_id, "; ".join(problems))
        else:
            run = queue_run(ctx, db, campaign, run_key=f"{due:.0f}", due=due, now=now)
            if not run["queued"] and run["run"] is not None:
                log.warning("campaign %s: audience matches nobody now; nothing queued", campaign_id)
        status = "scheduled" if following else ("active" if run else "missed")
        _set_status(db, campaign_id, status, following, now)
    return run


def run_due(ctx, db, now: float | None = None) -> list[dict]:
    """Every scheduled campaign that is due (what the scheduler's jobs do, for callers without one)."""
    now = time.time() if now is None else now
    due = [r[0] for r in db.execute("SELECT id FROM campaigns WHERE status = 'scheduled' AND next_run_at <= ? "
                                    "ORDER BY next_run_at", [now])]
    return [run for cid in due if (run := run_scheduled(ctx, db, cid, now))]


def test_send(ctx, db, campaign: Campaign, numbers: list[str] | None = None) -> int:
    """Each text, once, to each staff number (at once: staff asked for it, quiet hours are for subscribers)."""
    numbers = list(numbers or ctx.config["campaigns"]["staff_numbers"])
    if not numbers:
        raise CampaignError("staff numbers: none; set [campaigns] staff_numbers or pass --to NUMBER")
    region = ctx.config["sms"]["default_region"]
    targets = []
    for raw in numbers:
        try:
            targets.append(contacts.normalize(raw, region))
        except contacts.BadNumber as e:
            raise CampaignError(f"staff number {raw!r}: {e}") from None
    tag = uuid.uuid4().hex[:12]
    with transaction(db):
        for number in targets:
            for lang in (lang for lang in LANGUAGES if lang in campaign.texts):
                try:
                    outbox.enqueue(db, number, campaign.texts[lang], kind="test", config=ctx.config,
                                   idempotency_key=f"test:{campaign.id}:{tag}:{number}:{lang}")
                except ValueError as e:  # gateway.routing.RouteLimit: the text is longer than the route carries
                    raise CampaignError(f"text ({lang}): {e}") from None
    return len(targets) * len(campaign.texts)


# -- pause, resume, cancel -----------------------------------------------------------------------------------

_WAITING_BLASTS = "campaign_id = ? AND state = 'queued' AND kind = 'blast'"


def pause(ctx, db, campaign: Campaign, now: float | None = None) -> int:
    """Stop sending and stop running; returns how many queued messages now wait."""
    now = time.time() if now is None else now
    if campaign.status not in ("active", "scheduled"):
        raise CampaignError(f"status: campaign {campaign.id} is {campaign.status}; only an active or scheduled "
                            f"campaign can be paused")
    with transaction(db):
        held = db.execute(f"UPDATE outbox SET not_before = ?, updated_at = ? WHERE {_WAITING_BLASTS}",  # noqa: S608 (fixed names, bound values)
                          [PAUSED_UNTIL, now, campaign.id]).rowcount
        db.execute("UPDATE campaigns SET status = 'paused', paused_from = ?, updated_at = ? WHERE id = ?",
                   [campaign.status, now, campaign.id])
    return held


def resume(ctx, db, campaign: Campaign, now: float | None = None) -> int:
    """Carry on from now (or from the end of quiet hours); a recurrence skips the runs missed while paused."""
    now = time.time() if now is None else now
    if campaign.status != "paused":
        raise CampaignError(f"status: campaign {campaign.id} is {campaign.status}; only a paused campaign can be "
                            f"resumed")
    start = quiet_hours(ctx.config).next_open(now)
    following = campaign.next_run_at
    if campaign.paused_from == "scheduled" and following is not None and following <= now:
        following = schedules.next_cron_time(campaign.cron, _tz(ctx), now) if campaign.schedule == "cron" else now
    with transaction(db):
        moved = reschedule_queued(ctx, db, campaign, start, now, only_earlier=False)
        db.execute("UPDATE campaigns SET status = ?, paused_from = NULL, next_run_at = ?, updated_at = ? "
                   "WHERE id = ?", [campaign.paused_from or "active", following, now, campaign.id])
    return moved


def cancel(ctx, db, campaign: Campaign, now: float | None = None) -> int:
    """Nothing more is sent or run; returns how many queued messages were dropped."""
    now = time.time() if now is None else now
    if campaign.status == "cancelled":
        raise CampaignError(f"status: campaign {campaign.id} is already cancelled")
    with transaction(db):
        dropped = db.execute(f"UPDATE outbox SET state = 'expired', error = ?, updated_at = ? WHERE {_WAITING_BLASTS}",  # noqa: S608 (fixed names, bound values)
                             [CANCELLED, now, campaign.id]).rowcount
        db.execute("UPDATE campaigns SET status = 'cancelled', next_run_at = NULL, paused_from = NULL, "
                   "updated_at = ? WHERE id = ?", [now, campaign.id])
    return dropped


def reschedule_queued(ctx, db, campaign: Campaign, start: float, now: float, only_earlier: bool = True) -> int:
    """Move a campaign's queued rows to start at ``start`` (re-paced when it has a rate).

    only_earlier: leave rows already due at or after ``start`` alone (quiet hours beginning).
    """
    pace = _pace_sql(ctx, db, campaign, start)
    if pace:
        return db.execute(
            f"UPDATE outbox SET not_before = {pace}(x.n - 1), updated_at = ? FROM (SELECT id, row_number() OVER "  # noqa: S608 (fixed names, bound values)
            f"(ORDER BY not_before, id) AS n FROM outbox WHERE {_WAITING_BLASTS}) AS x WHERE outbox.id = x.id",
            [now, campaign.id]).rowcount
    earlier = "AND not_before < ?" if only_earlier else ""
    return db.execute(f"UPDATE outbox SET not_before = ?, updated_at = ? WHERE {_WAITING_BLASTS} {earlier}",  # noqa: S608 (fixed names, bound values)
                      [start, now, campaign.id] + ([start] if only_earlier else [])).rowcount


def defer_for_quiet_hours(ctx, db, now: float | None = None) -> int:
    """Quiet hours began: blasts still queued to go before they end wait for the end (the rest waits)."""
    now = time.time() if now is None else now
    quiet = quiet_hours(ctx.config)
    if not quiet.is_quiet(now):
        return 0
    start = quiet.next_open(now)
    moved = 0
    with transaction(db):
        ids = [r[0] for r in db.execute(
            "SELECT DISTINCT campaign_id FROM outbox WHERE state = 'queued' AND kind = 'blast' AND not_before < ? "
            "AND campaign_id IS NOT NULL", [start])]
        for cid in ids:
            campaign = load(db, cid)
            if campaign.status not in ("paused", "cancelled"):
                moved += reschedule_queued(ctx, db, campaign, start, now)
    return moved


# -- results -------------------------------------------------------------------------------------------------

RESULT_KEYS = ("queued", "sending", "sent", "delivered", "failed", "skipped_opted_out", "expired", "cancelled")


def results(db, campaign_id: int) -> dict:
    """Counts from the outbox. 'sent' counts every message a provider took, delivered ones included;
    'queued' includes messages waiting for quiet hours to end or for a paused campaign to resume."""
    out = dict.fromkeys(RESULT_KEYS, 0)
    segments_sent = 0
    for key, n, segs in db.execute(
            "SELECT CASE WHEN state = 'failed' AND error = ? THEN 'skipped_opted_out' "
            "WHEN state = 'expired' AND error = ? THEN 'cancelled' ELSE state END AS k, count(*), sum(segments) "
            "FROM outbox WHERE campaign_id = ? AND kind = 'blast' GROUP BY k",
            [SKIPPED_OPTED_OUT, CANCELLED, campaign_id]):
        out[key] = out.get(key, 0) + n
        if key in ("sent", "delivered"):
            segments_sent += segs or 0
    out["sent"] += out["delivered"]
    out["total"] = sum(out[k] for k in RESULT_KEYS if k != "delivered")
    out["done"] = out["total"] - out["queued"] - out["sending"]
    out["segments_sent"] = segments_sent
    out["runs"] = [dict(zip(("run", "due_at", "first_send_at", "queued"), r)) for r in db.execute(
        "SELECT id, due_at, first_send_at, queued FROM campaign_runs WHERE campaign_id = ? ORDER BY id",
        [campaign_id])]
    return out
