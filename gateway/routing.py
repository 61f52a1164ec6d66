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

from gateway import channel_state
from messages.segments import count


class RouteLimit(ValueError):
    """A message longer than its route carries: refused before it is queued, never cut."""


def max_segments(config: dict, channel: str | None) -> int:
    """The route's [channels.<name>] max_segments; 0: no limit."""
    return int(config.get(f"channels.{channel}", {}).get("max_segments") or 0) if channel else 0


def _channels():
    """The channel registry. Imported when first asked for: the channels' modules use the outbox, which asks
    routing where a message goes, so routing cannot load them while it is itself being loaded."""
    from gateway import channels
    return channels


def channel_names() -> tuple[str, ...]:
    """Every channel that sends, in fallback order."""
    return _channels().names()


def push_channels() -> tuple[str, ...]:
    """The channels the dispatcher sends through (the SMSSync phone pulls its own)."""
    return _channels().names(push=True)


def polled_channels() -> tuple[str, ...]:
    """Channels behind a device that must be heard from (the phone polls, gammu-smsd updates its modem's row)."""
    return _channels().names(polled=True)


def configured_channels(config: dict) -> list[str]:
    """Enabled channels that have what they need to send."""
    return [c.name for c in _channels().ROUTED if c.ready(config)]


def available_channels(config: dict, db, now: float | None = None) -> set[str]:
    now = time.time() if now is None else now
    rows = channel_state.channel_rows(db)
    available = set()
    longest = config["dispatcher"]["circuit_open_seconds"]
    for name in configured_channels(config):
        row = rows.get(name, {})
        # open until a time further ahead than a circuit ever opens for: the clock was set back; it has had its rest
        if row.get("open_until") and now < row["open_until"] <= now + longest:
            continue
        if name in polled_channels():
            seen = row.get("last_seen")
            if not seen or now - seen > config[f"channels.{name}"]["offline_after_seconds"]:
                continue
        available.add(name)
    return available


def _rules(config: dict) -> list[tuple[str, str]]:
    rules = []
    for rule in config["dispatcher"]["routes"]:
        if isinstance(rule, (list, tuple)) and len(rule) == 2 and rule[1] in channel_names():
            rules.append((str(rule[0]), str(rule[1])))
    if config.get("channels.smssync", {}).get("enabled"):
        rules += [(str(prefix), "smssync") for prefix in config["channels.smssync"]["prefixes"]]
    return rules


@dataclass
class Router:
    rules: list[tuple[str, str]]  # (prefix, channel), in order
    available: set[str]
    fallback: list[str] = field(default_factory=list)  # push channels tried when no rule matches
    limits: dict[str, int] = field(default_factory=dict)  # channel -> max segments; a longer message skips it

    def _fits(self, channel: str, segments: int) -> bool:
        return not self.limits.get(channel) or segments <= self.limits[channel]

    def choose(self, to_number: str, requested: str | None = None, segments: int = 1) -> str | None:
        if requested in self.available and self._fits(requested, segments):
            return requested
        for prefix, channel in self.rules:
            if channel in self.available and (to_number or "").startswith(prefix) and self._fits(channel, segments):
                return channel
        return next((c for c in self.fallback if c in self.available and self._fits(c, segments)), None)

    def sql(self, number: str = "to_number", requested: str = "requested_channel",
            segments: str = "segments") -> tuple[str, list]:
        """The same choice as ``choose`` over the outbox columns (or others named), as (expression, parameters)."""
        whens, params = [], []
        for channel in sorted(self.available):
            whens.append(f"WHEN {requested} = ?{self._fits_sql(channel, segments)} THEN ?")
            params += [channel, channel]
        for prefix, channel in self.rules:
            if channel in self.available:  # a sealed number matched its rules when it was queued: route_hint
                hinted = " OR instr(route_hint, ?) > 0" if number == "to_number" else ""
                whens.append(f"WHEN ({number} LIKE ? ESCAPE '\\'{hinted}){self._fits_sql(channel, segments)} THEN ?")
                params += [_like_prefix(prefix), *([f",{channel},"] if hinted else []), channel]
        for channel in self.fallback:
            if channel in self.available:
                whens.append(f"WHEN 1 = 1{self._fits_sql(channel, segments)} THEN ?")
                params.append(channel)
        if not whens:
            return "NULL", []
        return f"CASE {' '.join(whens)} ELSE NULL END", params

    def _fits_sql(self, channel: str, segments: str) -> str:
        limit = self.limits.get(channel)
        return f" AND coalesce({segments}, 1) <= {int(limit)}" if limit else ""


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _limits(config: dict) -> dict[str, int]:
    return {name: max_segments(config, name) for name in channel_names() if max_segments(config, name)}


_installed_rules: list[tuple[str, str]] = []


def install(config: dict) -> None:
    """Remember this process's prefix rules, for ``hint`` (the gateway calls it once the config is loaded)."""
    _installed_rules[:] = _rules(config)


def hint(to_number: str) -> str:
    """The channels whose prefix rules match ``to_number``, for a row whose number is sealed (",smssync,")."""
    return "," + ",".join(dict.fromkeys(c for prefix, c in _installed_rules if to_number.startswith(prefix))) + ","


def build(config: dict, db, now: float | None = None) -> Router:
    return Router(rules=_rules(config), available=available_channels(config, db, now),
                  fallback=list(push_channels()), limits=_limits(config))


def planned(config: dict) -> Router:
    """The routes as configured, whatever is up now: where a number's messages are meant to go. Limits are left
    out so that ``choose`` names the route a long message would be refused by, not one it would slip through."""
    return Router(rules=_rules(config), available=set(configured_channels(config)), fallback=list(push_channels()))


def check_length(config: dict, to_number: str, segments: int, requested: str | None = None) -> None:
    """Refuse a message longer than its planned route carries, naming the route and the limit."""
    route = planned(config).choose(to_number, requested)
    limit = max_segments(config, route)
    if limit and segments > limit:
        raise RouteLimit(f"{segments} segments: route {route} carries at most {limit} "
                         f"([channels.{route}] max_segments); shorten the text")


def fit(config: dict, to_number: str, body: str, requested: str | None = None) -> list[str]:
    """A reply as messages its planned route carries: whole if it fits, else several, split between lines (or
    words, for a line longer than the route). Nothing is cut off: every piece is sent."""
    limit = max_segments(config, planned(config).choose(to_number, requested))
    if not limit or count(body).segments <= limit:
        return [body]
    pieces, current = [], ""
    for line in body.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if count(candidate).segments <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        current = line
        while count(current).segments > limit:
            head, current = _head_that_fits(current, limit)
            pieces.append(head)
    if current:
        pieces.append(current)
    return pieces


def _head_that_fits(text: str, limit: int) -> tuple[str, str]:
    words = text.split(" ")
    head = ""
    for i, word in enumerate(words):
        candidate = f"{head} {word}" if head else word
        if count(candidate).segments > limit:
            if head:
                return head, " ".join(words[i:])
            break
        head = candidate
    else:
        return head, ""
    n = len(text)  # a single word longer than the route: cut within it, the rest follows in the next message
    while n > 1 and count(text[:n]).segments > limit:
        n -= 1
    return text[:n], text[n:]
