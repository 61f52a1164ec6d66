"""The actions of the job profile and offer screens (flows/definitions/jobs.toml).

The profile's answers stay in the session's vars until the last screen; jobs.save stores them in one write.
"""
from __future__ import annotations

from flows.actions import Call, action
from jobs import matching, offers, profiles, store, taxonomy
from messages import i18n

ARABIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
PROFILE_VARS = ("jobs_trade", "jobs_level", "jobs_gov", "jobs_deleg", "jobs_travel", "jobs_avail")


def _area_name(db):
    from flows import directory

    def name(code: str, lang: str) -> str:
        return (directory.area_name(db, code) or {}).get(lang, code)
    return name


def _number(said: str | None, upto: int) -> int | None:
    text = (said or "").strip().translate(ARABIC_DIGITS)
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= upto else None


@action("jobs.home")
def home(call: Call) -> str | None:
    row = profiles.get(call.db, call.contact_key)
    if row is None:
        return "jobs_consent"
    call.vars["jobs_summary"] = profiles.summary(call.db, row, call.lang, _area_name(call.db))
    return None


@action("jobs.consent")
def consent(call: Call) -> None:
    call.vars["jobs_days"] = call.ctx.config["jobs"]["profile_days"]


@action("jobs.trades")
def trades(call: Call) -> None:
    labels = taxonomy.trade_labels(store.trades(call.db), call.lang)
    call.vars["jobs_codes"] = [code for code, _ in labels]
    call.vars["jobs_list"] = "\n".join(f"{n}. {label}" for n, (_, label) in enumerate(labels, start=1))
    call.vars.setdefault("jobs_misses", 0)


@action("jobs.trade_pick")
def trade_pick(call: Call) -> str:
    codes = call.vars.get("jobs_codes") or []
    n = _number(call.vars.pop("jobs_pick", ""), len(codes))
    if n is None:
        call.vars["jobs_misses"] = call.vars.get("jobs_misses", 0) + 1
        return "jobs_bad" if call.vars["jobs_misses"] > 1 else "jobs_trade"
    call.vars["jobs_trade"] = codes[n - 1]
    return "jobs_level"


@action("jobs.offer_home")
def offer_home(call: Call) -> str | None:
    home_code = call.vars.get("governorate")
    if not home_code:
        return "jobs_gov"
    call.vars["home"] = _area_name(call.db)(home_code, call.lang)
    return None


@action("jobs.home_place")
def home_place(call: Call) -> None:
    call.vars["jobs_gov"] = call.vars.get("governorate") or ""


@action("jobs.check_delegations")
def check_delegations(call: Call) -> str | None:
    from flows import directory
    if not directory.delegations(call.db, call.vars.get("jobs_gov") or ""):
        call.vars["jobs_deleg"] = ""
        return "jobs_travel"
    return None


@action("jobs.save")
def save(call: Call) -> str:
    v = call.vars
    if not (v.get("jobs_trade") and v.get("jobs_gov")):
        return "jobs_bad"
    until = profiles.save(call.ctx, call.db, call.contact_key, call.phone, language=call.lang,
                          trade=v["jobs_trade"], level=int(v.get("jobs_level") or 1), governorate=v["jobs_gov"],
                          delegation=v.get("jobs_deleg") or "", travel=v.get("jobs_travel") or "governorate",
                          availability=v.get("jobs_avail") or "any")
    for name in PROFILE_VARS:
        v.pop(name, None)
    from datetime import date
    v["jobs_until"] = i18n.when(date.fromisoformat(until), call.lang, "short")
    return "jobs_saved"


@action("jobs.delete")
def delete(call: Call) -> str:
    profiles.delete(call.db, call.contact_key)
    return "jobs_deleted"


@action("jobs.offers")
def pending(call: Call) -> str | None:
    ids = store.pending_offers(call.db, call.contact_key)
    if not ids:
        return "jobs_offers_none"
    call.vars["jobs_offer_ids"] = ids
    lines = [f"{n}. {offers.load(call.db, i)['texts'][call.lang]}" for n, i in enumerate(ids, start=1)]
    call.vars["jobs_offer_list"] = "\n".join(lines)
    return None


@action("jobs.offer_pick")
def offer_pick(call: Call) -> str:
    ids = call.vars.get("jobs_offer_ids") or []
    n = _number(call.vars.pop("jobs_offer_pick", ""), len(ids))
    if n is None:
        return "jobs_bad"
    return show_offer(call, ids[n - 1])


def show_offer(call: Call, offer_id: int) -> str:
    offer = store.offer(call.db, offer_id)
    if offer is None or offer["state"] != "open":
        call.vars["jobs_answer_text"] = i18n.t(call.lang, "jobs.answer.gone")
        return "jobs_answered"
    call.vars["jobs_offer"] = offer_id
    call.vars["jobs_offer_text"] = offers.screen_text(call.db, offer, call.lang)
    return "jobs_offer"


def _answer(call: Call, yes: bool) -> str:
    offer_id = call.vars.pop("jobs_offer", None)
    key = "jobs.answer.gone" if offer_id is None else \
        matching.answer(call.ctx, call.db, call.contact_key, call.phone, int(offer_id), yes)
    call.vars["jobs_answer_text"] = i18n.t(call.lang, key)
    return "jobs_answered"


@action("jobs.yes")
def yes(call: Call) -> str:
    return _answer(call, True)


@action("jobs.no")
def no(call: Call) -> str:
    return _answer(call, False)
