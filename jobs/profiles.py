"""A person's skills profile: made, shown, changed, renewed and deleted by the person alone.

Keyed by the contact key (an HMAC of the number, gateway.contacts), like the opt-out list; the number the alerts
need is sealed under the jobs key (keys_dir/jobs.key), the way the polls seal a request for a result SMS, so the
database alone lists no one. What is kept: language, trade, level, governorate and delegation, how far, when
free, the day it ends. Never nationality or status (the flow does not ask).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nacl.secret import SecretBox

from gateway.store import transaction
from jobs import store, taxonomy


def today(ctx) -> str:
    """The local day ([gateway] timezone): a profile ends on the day people see on their phones."""
    return datetime.now(ZoneInfo(ctx.config["gateway"]["timezone"])).date().isoformat()


def day_after(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def box(ctx) -> SecretBox:
    return SecretBox(ctx.secret("jobs"))


def seal_number(ctx, e164: str) -> bytes:
    return box(ctx).encrypt(e164.encode())


def open_number(ctx, sealed: bytes, with_box: SecretBox | None = None) -> str:
    return (with_box or box(ctx)).decrypt(sealed).decode()


def get(db, key: str) -> dict | None:
    return store.profile(db, key)


def save(ctx, db, key: str, e164: str, *, language: str, trade: str, level: int, governorate: str,
         delegation: str, travel: str, availability: str) -> str:
    """Create or replace the person's profile; returns the day it ends."""
    if level not in taxonomy.LEVELS or travel not in taxonomy.TRAVEL or availability not in taxonomy.AVAILABILITY:
        raise ValueError("profile: unknown level, travel or availability")
    until = day_after(today(ctx), ctx.config["jobs"]["profile_days"])
    with transaction(db):
        store.save_profile(db, {"key": key, "sealed": seal_number(ctx, e164), "language": language,
                                "trade": trade, "level": level, "governorate": governorate,
                                "delegation": delegation or "", "travel": travel, "availability": availability,
                                "expires_day": until, "reminded": 0, "prompt": None})
    return until


def delete(db, key: str) -> bool:
    with transaction(db):
        return store.delete_profile(db, key)


def renew(ctx, db, key: str) -> str | None:
    """Another [jobs] profile_days from today; None when there is no profile to renew."""
    until = day_after(today(ctx), ctx.config["jobs"]["profile_days"])
    with transaction(db):
        return until if store.renew(db, key, until) else None


def summary(db, row: dict, lang: str, area_name) -> str:
    """The profile as its owner reads it on one screen: trade and level, place, how far, when free, until."""
    from messages import i18n
    trade = taxonomy.trade_label(store.trades(db), row["trade"], lang)
    place = area_name(row["delegation"] or row["governorate"], lang)
    comma = "، " if lang == "ar" else ", "
    return "\n".join([
        trade + comma + taxonomy.level_label(row["level"], lang),
        place + comma + i18n.t(lang, "jobs.travel." + row["travel"]),
        i18n.t(lang, "jobs.avail." + row["availability"]),
        i18n.t(lang, "jobs.until", day=i18n.when(date.fromisoformat(row["expires_day"]), lang, "short")),
    ])
