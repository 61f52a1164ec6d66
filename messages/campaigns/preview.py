"""What a campaign would do before it is sent: recipients per language, encodings and segments, cost, timing,
the routes' limits and the warnings staff see first."""
from __future__ import annotations

import time
import unicodedata

from gateway import routing
from messages import schedule as schedules
from messages.audience import Audience
from messages.campaigns import store
from messages.campaigns.model import Campaign, outgoing, quiet_hours, tz
from messages.i18n import LANGUAGES
from messages.quiet import Pacer
from messages.segments import count, is_gsm7, non_gsm7_characters

def recipients_by_language(db, audience: Audience) -> dict[str, int]:
    return store.recipients_by_language(db, *audience.where())


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
            "audience": audience_words(ctx, campaign), "recipients": recipients, "languages": languages,
            "texts": texts, "total_segments": total, "price_per_segment": settings["price_per_segment"],
            "currency": settings["currency"], "estimated_cost": round(total * settings["price_per_segment"], 3),
            **timing, "route_limits": (limits := route_problems(ctx, db, campaign)),
            "warnings": limits + _warnings(ctx, campaign, languages, texts, recipients, timing)}


def route_problems(ctx, db, campaign: Campaign) -> list[str]:
    """Texts longer than the route their recipients' messages are meant to take ([channels.*] max_segments):
    refused at preview and at send, naming the route and the limit, never cut."""
    config = ctx.config
    limits = {c: routing.max_segments(config, c) for c in routing.channel_names() if routing.max_segments(config, c)}
    if not limits:
        return []
    route, route_params = routing.planned(config).sql(number="s.phone", requested="NULL", segments="1")
    rows = store.recipients_by_route(db, route, route_params, *campaign.audience.where())
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
    due = campaign.next_run_at or schedules.first_run(campaign.schedule, campaign.send_at, campaign.cron, tz(ctx),
                                                       now) or now
    first = quiet.next_open(max(due, now))
    finish = None
    if campaign.rate_per_minute and recipients:
        finish = Pacer(quiet, first, 60.0 / campaign.rate_per_minute)(recipients - 1)
    return {"starts_at": first, "quiet_hours": quiet.describe(), "waits_for_quiet_hours": first > max(due, now),
            "finishes_at": finish, "expires_at": first + campaign.expiry_hours * 3600}


def audience_words(ctx, campaign: Campaign) -> str:
    return campaign.audience.describe(ctx.config["gateway"]["timezone"])


def _warnings(ctx, campaign: Campaign, languages: dict, texts: dict, recipients: int, timing: dict) -> list[str]:
    out = []
    if not recipients:
        out.append(f"audience: matches nobody ({audience_words(ctx, campaign)})")
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
