"""Offers entered by staff (the console's form and `dalil jobs add`): checked before anyone is alerted.

An offer: trade, level (a floor), kind (full time, part time, seasonal), governorate and optional delegation,
first and last day, places, the contact's number and language, and a short text per language. ``problems``
names every field and language that keeps it from being sent: a text missing or too long, the alert over
[campaigns] max_segments, the USSD screen over one screen, the message to the contact over its budget.
"""
from __future__ import annotations

from datetime import date

from flows.render import Budget
from gateway import contacts
from gateway.store import transaction
from jobs import profiles, store, taxonomy
from messages import bidi, i18n
from messages.i18n import LANGUAGES
from messages.segments import count

MAX_TEXT = 60        # characters of an offer's text in one language: the alert's first line
USSD_BUDGET = Budget(182, 80)
FIELDS = ("trade", "level", "kind", "governorate", "delegation", "starts", "ends", "places", "contact",
          "contact_language", "texts")


class OfferError(ValueError):
    """A bad offer or a wrong step; the message names the field."""


def load(db, offer_id: int) -> dict:
    row = store.offer(db, offer_id)
    if row is None:
        raise OfferError(f"offer: no offer {offer_id}")
    return row


def clean(ctx, db, raw: dict) -> tuple[dict, list[str]]:
    """The offer as stored, and the problems of its fields (each naming the field)."""
    out, problems = {}, []
    trades = [code for code, _ in store.trades(db)]
    out["trade"] = (raw.get("trade") or "").strip()
    if out["trade"] not in trades:
        problems.append(f"trade: unknown {out['trade']!r}; known: {', '.join(trades)}")
    out["level"] = _int(raw.get("level"), "level", problems)
    if out["level"] is not None and out["level"] not in taxonomy.LEVELS:
        problems.append("level: 1 (beginner), 2 (experienced) or 3 (certified)")
    out["kind"] = (raw.get("kind") or "").strip()
    if out["kind"] not in taxonomy.KINDS:
        problems.append(f"kind: one of {', '.join(taxonomy.KINDS)}")
    out["governorate"], out["delegation"] = _place(db, raw, problems)
    out["starts"], out["ends"] = _days(ctx, raw, problems)
    out["places"] = _int(raw.get("places"), "places", problems)
    if out["places"] is not None and not 1 <= out["places"] <= 10000:
        problems.append("places: 1 to 10000")
    try:
        out["contact"] = contacts.normalize(raw.get("contact") or "", ctx.config["sms"]["default_region"])
    except contacts.BadNumber as e:
        out["contact"] = ""
        problems.append(f"contact: {e}")
    out["contact_language"] = raw.get("contact_language") or ctx.config["gateway"]["default_language"]
    if out["contact_language"] not in LANGUAGES:
        problems.append(f"contact_language: one of {', '.join(LANGUAGES)}")
    texts = raw.get("texts") or {}
    out["texts"] = {lang: " ".join((texts.get(lang) or "").split()) for lang in LANGUAGES}
    for lang in LANGUAGES:
        if not out["texts"][lang]:
            problems.append(f"text ({lang}): missing")
        elif len(out["texts"][lang]) > MAX_TEXT:
            problems.append(f"text ({lang}): {len(out['texts'][lang])} characters, at most {MAX_TEXT}")
    if not problems:
        problems += _budget_problems(ctx, db, out)
    return out, problems


def _int(value, field: str, problems: list) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        problems.append(f"{field}: a whole number")
        return None


def _place(db, raw: dict, problems: list) -> tuple[str, str]:
    from flows import directory
    governorate, delegation = (raw.get("governorate") or "").strip(), (raw.get("delegation") or "").strip()
    if not directory.area_name(db, governorate):
        problems.append(f"governorate: unknown {governorate!r}")
    elif delegation and delegation not in [d["code"] for d in directory.delegations(db, governorate)]:
        problems.append(f"delegation: {delegation!r} is not a delegation of {governorate}")
    return governorate, delegation


def _days(ctx, raw: dict, problems: list) -> tuple[str, str]:
    try:
        starts, ends = date.fromisoformat(str(raw.get("starts"))), date.fromisoformat(str(raw.get("ends")))
    except ValueError:
        problems.append("starts, ends: days as YYYY-MM-DD")
        return str(raw.get("starts") or ""), str(raw.get("ends") or "")
    if ends < starts:
        problems.append("ends: before starts")
    if ends.isoformat() < profiles.today(ctx):
        problems.append("ends: already past")
    return starts.isoformat(), ends.isoformat()


# -- what people read ----------------------------------------------------------------------------------------

def _short(day: str) -> str:
    d = date.fromisoformat(day)
    return f"{d.day}/{d.month}"


def facts(db, offer: dict, lang: str) -> str:
    """Place, days and places on one line: "Kairouan Sud, 1/12-20/12, 3"."""
    from flows import directory
    place = (directory.area_name(db, offer["delegation"] or offer["governorate"]) or {}).get(lang, "")
    days = _short(offer["starts"]) + ("" if offer["ends"] == offer["starts"] else "-" + _short(offer["ends"]))
    places = i18n.plural(lang, "jobs.offer.places", offer["places"])
    return bidi.safe(i18n.t(lang, "jobs.offer.facts", place=place, days=days, places=places), lang)


def alert_text(db, offer: dict, lang: str) -> str:
    return "\n".join([i18n.t(lang, "jobs.alert.title"), offer["texts"][lang], facts(db, offer, lang),
                      i18n.t(lang, "jobs.alert.reply")])


def screen_text(db, offer: dict, lang: str) -> str:
    """The USSD/SMS screen of an offer in "Offers for me" (its two options are added by the flow)."""
    return "\n".join([offer["texts"][lang], facts(db, offer, lang)])


def share_text(offer: dict, e164: str) -> str:
    """The one SMS to the offer's contact after a YES: the person's number, and nothing else about them."""
    lang = offer["contact_language"]
    return i18n.t(lang, "jobs.share", offer=offer["texts"][lang], phone=bidi.phone(e164, lang))


def _budget_problems(ctx, db, offer: dict) -> list[str]:
    cap = ctx.config["campaigns"]["max_segments"]
    out = []
    for lang in LANGUAGES:
        alert = count(alert_text(db, offer, lang))
        if alert.segments > cap:
            out.append(f"text ({lang}): the alert is {alert.segments} segments ({alert.characters} {alert.encoding} "
                       f"characters), more than [campaigns] max_segments = {cap}")
        if not USSD_BUDGET.fits(screen_text(db, offer, lang)):  # its two choices may follow on a second page
            out.append(f"text ({lang}): the offer with its place and days does not fit one USSD screen; "
                       f"shorten the text")
    share = count(share_text(offer, "+21620000000"))
    if share.segments > cap:
        out.append(f"text ({offer['contact_language']}): the message to the contact is {share.segments} segments, "
                   f"more than [campaigns] max_segments = {cap}")
    return out


# -- life of an offer ----------------------------------------------------------------------------------------

def add(ctx, db, raw: dict) -> int:
    """A draft offer; refused (OfferError listing every problem) while anything is wrong."""
    offer, problems = clean(ctx, db, raw)
    if problems:
        raise OfferError("; ".join(problems))
    with transaction(db):
        return store.insert_offer(db, {**offer, "created_day": profiles.today(ctx)})


def close(ctx, db, offer_id: int) -> None:
    offer = load(db, offer_id)
    if offer["state"] == "closed":
        raise OfferError(f"offer {offer_id} is closed already")
    with transaction(db):
        store.set_offer_state(db, offer_id, "closed", offer["state"], profiles.today(ctx))
