"""Rate limits shared by every dispatcher on the database: a token bucket per channel (or per link) whose level is a
row of ``rate_buckets``, so threads of `dalil serve`, `dalil dispatch` processes and the SMSSync phone's polls
draw from the same bucket."""
from __future__ import annotations

import threading
import time

from gateway.store import serialize, transaction


class SharedBucket:
    """A token bucket in segments per second whose level is a row of rate_buckets: every dispatcher on the
    database draws from the same bucket. It holds one second's worth; a message longer than that goes when the
    bucket is full and leaves it in debt."""

    def __init__(self, ctx, channel: str, rate: float):
        self.ctx, self.channel, self.rate = ctx, channel, rate
        self.capacity = max(rate, 1.0)

    def _read(self, db, now: float) -> tuple[float, bool]:
        """(tokens now, whether the stored stamp is in the future: the clock was set back since)."""
        row = db.execute("SELECT tokens, updated_at FROM rate_buckets WHERE channel = ?", [self.channel]).fetchone()
        if row is None:
            return self.capacity, False
        return min(self.capacity, row[0] + max(0.0, now - row[1]) * self.rate), row[1] > now

    def _level(self, db, now: float) -> float:
        return self._read(db, now)[0]

    def _store(self, db, tokens: float, now: float) -> None:
        db.execute("INSERT INTO rate_buckets (channel, tokens, updated_at) VALUES (?, ?, ?) "
                   "ON CONFLICT(channel) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
                   [self.channel, tokens, now])

    def try_take(self, n: float) -> float:
        """Take n tokens and return 0, or take none and return how long to wait."""
        db, now = self.ctx.db(), time.time()
        need = min(n, self.capacity)
        with transaction(db):
            serialize(db, f"rate:{self.channel}")
            level, stamped_ahead = self._read(db, now)
            if level >= need:
                self._store(db, level - n, now)
                return 0.0
            if stamped_ahead:  # re-anchor, or the bucket would not refill until the clock caught up again
                self._store(db, level, now)
        return (need - level) / self.rate

    def take(self, n: float, stop: threading.Event, deadline: float) -> bool:
        """Wait for n tokens; False if stopped, or if they would come after ``deadline`` (time.time())."""
        while not stop.is_set():
            wait = self.try_take(n)
            if wait == 0.0:
                return True
            if time.time() + wait > deadline:
                return False
            stop.wait(wait)
        return False

    def available(self) -> float:
        return self._level(self.ctx.db(), time.time())

    def take_now(self, n: float) -> None:
        """Take without waiting (the SMSSync phone already has the messages)."""
        db, now = self.ctx.db(), time.time()
        with transaction(db):
            serialize(db, f"rate:{self.channel}")
            self._store(db, self._level(db, now) - n, now)
