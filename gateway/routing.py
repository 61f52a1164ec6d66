"""Which channel sends to which number.

For each message the candidates, in order, are: the channel the caller asked for; the [dispatcher] routes rules
whose prefix matches; the SMSSync phone for its own prefixes; then every push channel (Twilio, Africa's Talking).
The first candidate that is *available* wins: enabled and configured, its circuit not open after a run of
failures, and for the phone, heard from recently. So when a channel goes down its messages move to the next one,
and when nothing is available they simply wait in the outbox.

The same decision is compiled to one SQL CASE expression, so that a claim picks exactly the rows one channel
should send, inside the statement that leases them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from gateway import health

PUSH_CHANNELS = ("twilio", "africastalking")
PULL_CHANNELS = ("smssync",)
CHANNELS = PUSH_CHANNELS + PULL_CHANNELS


def configured_channels(config: dict) -> list[str]:
    """Enabled channels that have what they need to send."""
    found = []
    for name in CHANNELS:
        section = config.get(f"channels.{name}", {})
        if not section.get("enabled"):
            continue
        if name == "twilio" and not (section["account_sid"] and section["auth_token"] and section["from_number"]):
            continue
        if name == "africastalking" and not (section["username"] and section["api_key"]):
            continue
        if name == "smssync" and not section["secret"]:
            continue  # a phone without a shared secret would hand messages to anyone who asks
        found.append(name)
    return found


def available_channels(config: dict, db, now: float | None = None) -> set[str]:
    now = time.time() if now is None else now
    rows = health.channel_rows(db)
    available = set()
    longest = config["dispatcher"]["circuit_open_seconds"]
    for name in configured_channels(config):
        row = rows.get(name, {})
        # open until a time further ahead than a circuit ever opens for: the clock was set back; it has had its rest
        if row.get("open_until") and now < row["open_until"] <= now + longest:
            continue
        if name in PULL_CHANNELS:
            seen = row.get("last_seen")
            if not seen or now - seen > config[f"channels.{name}"]["offline_after_seconds"]:
                continue
        available.add(name)
    return available


def _rules(config: dict) -> list[tuple[str, str]]:
    rules = []
    for rule in config["dispatcher"]["routes"]:
        if isinstance(rule, (list, tuple)) and len(rule) == 2 and rule[1] in CHANNELS:
            rules.append((str(rule[0]), str(rule[1])))
    if config.get("channels.smssync", {}).get("enabled"):
        rules += [(str(prefix), "smssync") for prefix in config["channels.smssync"]["prefixes"]]
    return rules


@dataclass
class Router:
    rules: list[tuple[str, str]]  # (prefix, channel), in order
    available: set[str]
    fallback: list[str] = field(default_factory=list)  # push channels tried when no rule matches

    def choose(self, to_number: str, requested: str | None = None) -> str | None:
        if requested in self.available:
            return requested
        for prefix, channel in self.rules:
            if channel in self.available and (to_number or "").startswith(prefix):
                return channel
        return next((c for c in self.fallback if c in self.available), None)

    def sql(self) -> tuple[str, list]:
        """The same choice as ``choose`` over the outbox columns, as (expression, parameters)."""
        whens, params = [], []
        available = sorted(self.available)
        if available:
            whens.append(f"WHEN requested_channel IN ({', '.join('?' for _ in available)}) THEN requested_channel")
            params += available
        for prefix, channel in self.rules:
            if channel in self.available:
                whens.append("WHEN to_number LIKE ? ESCAPE '\\' THEN ?")
                params += [_like_prefix(prefix), channel]
        default = next((c for c in self.fallback if c in self.available), None)
        if not whens:
            return "?", [default]
        return f"CASE {' '.join(whens)} ELSE ? END", params + [default]


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def build(config: dict, db, now: float | None = None) -> Router:
    return Router(rules=_rules(config), available=available_channels(config, db, now),
                  fallback=list(PUSH_CHANNELS))
