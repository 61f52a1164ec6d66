"""Quiet hours and pacing: when a blast may go out, in local time ([gateway] timezone, Africa/Tunis).

Every time here is a Unix timestamp; local clock times are only used to find the edges of quiet periods, with
zoneinfo, so a day with a clock change still gets its quiet hours at the right local time.
"""
from __future__ import annotations

import bisect
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class QuietHoursError(ValueError):
    pass


def parse_clock(text: str, where: str) -> time:
    try:
        hours, minutes = str(text).split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise QuietHoursError(f"{where}: expected a time of day as \"HH:MM\", got {text!r}") from None


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise QuietHoursError(f"[gateway] timezone: unknown time zone {name!r}") from None


class QuietHours:
    """Between ``start`` and ``end`` (local) nothing is sent. start > end spans midnight; start == end: never."""

    def __init__(self, start: time, end: time, tz: ZoneInfo):
        self.start, self.end, self.tz = start, end, tz

    @classmethod
    def from_config(cls, config: dict) -> "QuietHours":
        value = config["campaigns"]["quiet_hours"]
        where = "[campaigns] quiet_hours"
        if len(value) != 2:
            raise QuietHoursError(f"{where}: expected [start, end] such as [\"21:00\", \"08:00\"], got {value!r}")
        return cls(parse_clock(value[0], where), parse_clock(value[1], where), zone(config["gateway"]["timezone"]))

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.tz)

    def describe(self) -> str:
        if self.start == self.end:
            return "none"
        return f"{self.start:%H:%M}–{self.end:%H:%M} {self.tz.key}"

    def is_quiet(self, ts: float) -> bool:
        if self.start == self.end:
            return False
        t = self.local(ts).time()
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def _next_at(self, ts: float, clock: time) -> float:
        """The first moment after ts (strictly) when the local clock reads ``clock``."""
        now = self.local(ts)
        day = now.date()
        for _ in range(3):
            candidate = datetime.combine(day, clock, tzinfo=self.tz)
            if candidate > now:
                return candidate.timestamp()
            day += timedelta(days=1)
        raise AssertionError("unreachable: a clock time recurs within a day")

    def next_open(self, ts: float) -> float:
        """ts itself when sending is allowed then, else the end of the quiet period it falls in."""
        return self._next_at(ts, self.end) if self.is_quiet(ts) else ts

    def next_quiet_start(self, ts: float) -> float:
        """When the next quiet period begins after ts (infinity when there are no quiet hours)."""
        return float("inf") if self.start == self.end else self._next_at(ts, self.start)


class Pacer:
    """Send time of the n-th message (from 0) of a run: ``interval`` seconds apart, counting open hours only.

    Used as an SQLite function while queueing, so it is called once per row: open windows are computed once
    and looked up by bisection, not walked from the start each time.
    """

    def __init__(self, quiet: QuietHours, start: float, interval: float):
        self.quiet, self.interval = quiet, interval
        self.starts: list[float] = []
        self.offsets: list[float] = []  # open seconds before each window
        self._ends: list[float] = []
        self._add_window(quiet.next_open(start), 0.0)

    def _add_window(self, begin: float, offset: float) -> None:
        self.starts.append(begin)
        self.offsets.append(offset)
        self._ends.append(self.quiet.next_quiet_start(begin))

    def _extend_to(self, offset: float) -> None:
        while offset >= self.offsets[-1] + (self._ends[-1] - self.starts[-1]):
            end = self._ends[-1]
            self._add_window(self.quiet.next_open(end), self.offsets[-1] + (end - self.starts[-1]))

    def __call__(self, n: int) -> float:
        offset = n * self.interval
        self._extend_to(offset)
        i = bisect.bisect_right(self.offsets, offset) - 1
        return self.starts[i] + (offset - self.offsets[i])
