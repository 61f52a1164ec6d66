"""Live menu sessions, held in memory (the default) or, sealed, in Valkey (flows/shared_sessions.py).

A session holds the caller's answers on the way to a referral (need, nationality, note), so it must never reach
the database or its WAL. One office process serves all traffic, so memory is enough; a restart forgets live
sessions, and a caller's next hop starts again at the menu (USSD sessions last a few minutes at most). Several
processes on several hosts share them through ``[sessions] url`` instead.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field


class SessionsUnavailable(Exception):
    """The shared session store cannot be reached (Valkey down): the hop cannot read or keep its session."""


@dataclass
class Session:
    lang: str
    contact_key: str
    screen: str = ""
    page: int = 0
    pages: int = 1  # how many pages the screen had when last shown, so "More" knows if there is one
    shown: tuple = ()  # option numbers on the page shown: the only numbers the next input may choose
    stack: list = field(default_factory=list)
    vars: dict = field(default_factory=dict)
    consumed: int = 0  # inputs already read from a cumulative USSD text ("1*2*3")
    resume_point: "Place | None" = None  # where a dropped session was, while "Continue / Main menu" is offered
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


@dataclass(frozen=True)
class Place:
    """Where a caller was: navigation only (screen, page, the way back, the programme and topic looked at)."""
    screen: str
    page: int
    stack: tuple
    vars: tuple  # (name, value) pairs, navigation vars only


class ResumeStore:
    """The last place of each caller's unfinished USSD session, by contact key, for [ussd] resume_seconds.

    A session that ends with an END screen leaves nothing here; one that drops (a timeout, a lost signal) leaves
    its place, offered as "Continue where I was / Main menu" when the same number dials again in time. Memory
    only, like the sessions, and never a referral answer: the engine keeps no place once the session holds one.
    """

    def __init__(self, ttl_seconds: float):
        self.ttl = ttl_seconds
        self._places: dict[str, tuple[float, Place]] = {}
        self._guard = threading.Lock()
        self._kept = 0

    def keep(self, contact_key: str, place: Place | None) -> None:
        if not self.ttl:
            return
        with self._guard:
            if place is None:
                self._places.pop(contact_key, None)
            else:
                self._places[contact_key] = (time.monotonic(), place)
            self._kept += 1
            if self._kept % 500 == 0:  # every 500 hops, not whenever 500 places happen to be held
                cutoff = time.monotonic() - self.ttl
                for key in [k for k, (at, _) in self._places.items() if at < cutoff]:
                    del self._places[key]

    def take(self, contact_key: str) -> Place | None:
        with self._guard:
            at, place = self._places.pop(contact_key, (0.0, None))
        return place if place and time.monotonic() - at <= self.ttl else None
