"""Days, not times: every date the referrals package stores is a UTC day, so that a row cannot be matched to the
exact moment of a call in some other log. One function, so tests can move the calendar."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def days_before(day: str, n: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=n)).isoformat()
