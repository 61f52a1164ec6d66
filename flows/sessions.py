"""Live menu sessions, held in memory only.

A session holds the caller's answers on the way to a referral (need, nationality, note), so it must never reach
the database or its WAL. One office process serves all traffic, so memory is enough; a restart forgets live
sessions, and a caller's next hop starts again at the menu (USSD sessions last a few minutes at most).
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Session:
    lang: str
    contact_key: str
    screen: str = ""
    page: int = 0
    pages: int = 1  # how many pages the screen had when last shown, so "More" knows if there is one
    stack: list = field(default_factory=list)
    vars: dict = field(default_factory=dict)
    consumed: int = 0  # inputs already read from a cumulative USSD text ("1*2*3")
    touched: float = field(default_factory=time.monotonic)


class SessionStore:
    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._hops = 0

    @contextmanager
    def lock(self, key: str):
        """Serialize the hops of one session (a provider may retry while we still answer)."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def get(self, key: str) -> Session | None:
        with self._guard:
            self._hops += 1
            if self._hops % 500 == 0:
                self._sweep()
            session = self._sessions.get(key)
            if session and time.monotonic() - session.touched > self.ttl:
                self._drop(key)
                return None
            return session

    def put(self, key: str, session: Session) -> None:
        session.touched = time.monotonic()
        with self._guard:
            self._sessions[key] = session

    def drop(self, key: str) -> None:
        with self._guard:
            self._drop(key)

    def __len__(self) -> int:
        return len(self._sessions)

    def _drop(self, key: str) -> None:
        self._sessions.pop(key, None)
        self._locks.pop(key, None)

    def _sweep(self) -> None:
        cutoff = time.monotonic() - self.ttl
        for key in [k for k, s in self._sessions.items() if s.touched < cutoff]:
            self._drop(key)
