"""Who a campaign reaches: one or more groups of active subscribers, compiled to one SQL condition.

A group narrows by governorate, delegation, interest, language and "active since" (opted in on or after a
date); within a criterion any listed value matches, criteria combine with AND, groups with OR. Because the
audience is a WHERE clause over the subscribers table, a person matching two groups is one row: one message.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flows.directory import store as directory_store
from messages.i18n import LANGUAGES
from messages.subscribers import INTERESTS


class AudienceError(ValueError):
    """Bad audience; the message names the field."""


@dataclass(frozen=True)
class Group:
    governorates: tuple[str, ...] = ()
    delegations: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    active_since: float | None = None  # Unix time: opted in on or after

    @classmethod
    def from_dict(cls, raw: dict, where: str = "audience") -> "Group":
        unknown = set(raw) - {"governorates", "delegations", "interests", "languages", "active_since"}
        if unknown:
            raise AudienceError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        lists = {k: tuple(raw.get(k) or ()) for k in ("governorates", "delegations", "interests", "languages")}
        since = raw.get("active_since")
        return cls(**lists, active_since=float(since) if since is not None else None)

    def where(self) -> tuple[str, list]:
        parts, params = [], []
        for column, values in (("governorate", self.governorates), ("delegation", self.delegations),
                               ("language", self.languages)):
            if values:
                parts.append(f"s.{column} IN ({', '.join('?' for _ in values)})")
                params += list(values)
        if self.interests:
            # interests are stored as "business,jobs": match a whole name between commas
            parts.append("(" + " OR ".join("instr(',' || s.interests || ',', ?) > 0" for _ in self.interests) + ")")
            params += [f",{name}," for name in self.interests]
        if self.active_since is not None:
            parts.append("s.opted_in_at >= ?")
            params.append(self.active_since)
        return (" AND ".join(parts) or "1 = 1"), params


@dataclass(frozen=True)
class Audience:
    groups: tuple[Group, ...] = field(default_factory=lambda: (Group(),))

    @classmethod
    def from_json(cls, text: str) -> "Audience":
        return cls.from_data(json.loads(text))

    @classmethod
    def from_data(cls, raw) -> "Audience":
        """A dict (one group) or a list of dicts (several groups, any of which matches)."""
        items = [raw] if isinstance(raw, dict) else list(raw or [{}])
        if not all(isinstance(item, dict) for item in items):
            raise AudienceError("audience: expected an object or a list of objects")
        return cls(tuple(Group.from_dict(item, f"audience group {i + 1}") for i, item in enumerate(items)))

    def to_json(self) -> str:
        return json.dumps([{k: v for k, v in asdict(g).items() if v not in ((), None)} for g in self.groups],
                          ensure_ascii=False)

    def where(self) -> tuple[str, list]:
        """SQL condition on subscribers aliased ``s``: active, and in at least one group."""
        clauses, params = [], []
        for group in self.groups:
            sql, group_params = group.where()
            clauses.append(f"({sql})")
            params += group_params
        return f"s.status = 'active' AND ({' OR '.join(clauses)})", params

    def check(self, db) -> None:
        """Every code must exist: a misspelt governorate would silently match nobody."""
        areas = {code: level for code, (level, _) in directory_store.area_levels(db).items()}
        for i, group in enumerate(self.groups):
            where = "audience" if len(self.groups) == 1 else f"audience group {i + 1}"
            _known(group.governorates, [c for c, lvl in areas.items() if lvl == "governorate"],
                   f"{where} governorate")
            _known(group.delegations, [c for c, lvl in areas.items() if lvl == "delegation"], f"{where} delegation")
            _known(group.interests, INTERESTS, f"{where} interest")
            _known(group.languages, LANGUAGES, f"{where} language")

    def describe(self, tz_name: str) -> str:
        """In words, with "since" as the local day it was given as (not the UTC day of its midnight)."""
        return " OR ".join(_describe_group(g, ZoneInfo(tz_name)) for g in self.groups)


def _known(values, known, field_name: str) -> None:
    bad = [v for v in values if v not in known]
    if bad:
        hint = f"; known: {', '.join(known)}" if len(known) <= 12 else ""
        raise AudienceError(f"{field_name}: unknown {', '.join(map(repr, bad))}{hint}")


def _describe_group(group: Group, tz: ZoneInfo) -> str:
    parts = [f"{name}={'|'.join(values)}" for name, values in (
        ("governorate", group.governorates), ("delegation", group.delegations), ("interest", group.interests),
        ("language", group.languages)) if values]
    if group.active_since is not None:
        parts.append(f"since={datetime.fromtimestamp(group.active_since, tz):%Y-%m-%d}")
    return " ".join(parts) or "everyone subscribed"
