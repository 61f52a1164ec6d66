"""Live sessions in Valkey (or Redis), sealed, for several `dalil serve` processes on several hosts.

With ``[sessions] url`` set, the live USSD sessions, the SMS conversations and the resume places are kept in one
Valkey server that every gateway process reaches, instead of each process's memory; the default (no url) keeps
flows/sessions.py's memory stores. What Valkey holds is ciphertext only:

- a session carries a caller's answers on the way to a referral (need, nationality, a note), so each value is
  sealed with libsodium's SecretBox under ``[sessions] key``, a key every gateway host shares and Dalil never
  writes to a file, padded to a multiple of 512 bytes so a long note and a short one look alike, with its own
  name inside the seal (a value copied under another name does not open);
- the names are keyed hashes (BLAKE2b under a key derived from the same key) of the session id or contact key:
  no number, no session id a provider or a log would also hold;
- expiry is Valkey's own (SET PX): a session lasts ``[ussd] session_seconds`` (``[sms] session_idle_minutes``)
  after its last hop, a resume place ``[ussd] resume_seconds``;
- the hops of one session are serialised across processes by a lock in Valkey (SET NX PX with a random token,
  released by a script that deletes it only if the token is still ours): bounded, so a process that dies holding
  it delays that one session by LOCK_SECONDS at most. The lock is taken with the session's read, and the hop's
  writes go with its release: two round trips a hop (three when a new session looks for a resume place).

The server must keep nothing on disk (no RDB snapshot, no AOF): ``connect`` checks ``save`` and ``appendonly``
and refuses to start otherwise (docs/operations.md, "Shared sessions in Valkey"). Valkey unreachable while
serving raises SessionsUnavailable: a USSD hop answers a short "try again" END screen, an SMS webhook 503.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import secrets
import threading
import time
import urllib.parse
from contextlib import contextmanager

import redis
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from flows.sessions import Place, Session, SessionsUnavailable
from gateway.config import ConfigError

log = logging.getLogger(__name__)

PAD = 512  # sealed values are padded to a multiple of this many bytes
LOCK_SECONDS = 10.0  # a lock not released (its process died) frees itself after this
LOCK_WAIT_SECONDS = 5.0  # a hop waits this long for another hop of its session, then asks the caller to retry
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def shown_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


def parse_key(value: str, where: str) -> bytes:
    """32 bytes from 64 hex digits or base64; ConfigError naming the key otherwise (never showing the value)."""
    text = value.strip()
    raw = None
    if len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        raise ConfigError(f"{where}: expected a 32-byte key as 64 hex digits or base64 (make one with "
                          "`python3 -c \"import secrets; print(secrets.token_hex(32))\"` and keep it in the "
                          "environment of every gateway host), got a value that is not")
    return raw


class Shared:
    """One Valkey connection pool, the sealing box and the naming key, shared by the three stores."""

    def __init__(self, url: str, key: bytes, timeout: float):
        self.client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=redis.retry.Retry(redis.backoff.NoBackoff(), 1))  # once: a connection Valkey's restart broke
        self.box = SecretBox(hashlib.blake2b(b"seal", key=key, digest_size=32).digest())
        self._names = hashlib.blake2b(b"names", key=key, digest_size=32).digest()
        self._local = threading.local()  # per waitress thread: the hop's writes held until its lock is released

    def name(self, kind: str, key: str) -> str:
        digest = hashlib.blake2b(f"{kind}\0{key}".encode(), key=self._names, digest_size=20).digest()
        return f"dalil:{kind}:" + base64.b32encode(digest).decode().lower()

    def seal(self, name: str, value) -> bytes:
        data = name.encode() + b"\n" + json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\x80"
        return bytes(self.box.encrypt(data + b"\x00" * (-len(data) % PAD)))

    def unseal(self, name: str, sealed: bytes | None):
        if sealed is None:
            return None
        try:
            data = self.box.decrypt(sealed).rstrip(b"\x00")[:-1]
        except CryptoError:  # sealed under another key (rotated) or not ours: as if absent
            log.warning("a sealed session in Valkey did not open (sealed under another [sessions] key?): ignored")
            return None
        stored_name, _, payload = data.partition(b"\n")
        if stored_name != name.encode():
            log.warning("a sealed session in Valkey was found under another name: ignored")
            return None
        return json.loads(payload)

    def call(self, method: str, *args, **kwargs):
        """A Valkey command; SessionsUnavailable when the server cannot be reached or answers an error."""
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except redis.RedisError as e:
            raise SessionsUnavailable(f"Valkey: {type(e).__name__}") from e

    def write(self, method: str, *args, **kwargs) -> None:
        """A write: sent with the lock's release when this thread holds a session's lock (one round trip for the
        hop's writes), at once otherwise."""
        pending = getattr(self._local, "pending", None)
        if pending is None:
            self.call(method, *args, **kwargs)
        else:
            pending.append((method, args, kwargs))

    def fetched(self, name: str):
        """(True, value) when the lock just taken read ``name`` along with it, else (False, None)."""
        fetched = getattr(self._local, "fetched", {})
        return (True, fetched.pop(name)) if name in fetched else (False, None)

    @contextmanager
    def lock(self, name: str, prefetch: str | None = None):
        """Hold the lock ``name``; ``prefetch``: a key read in the same round trip as the lock is taken."""
        token = secrets.token_hex(16)
        deadline, pause = time.monotonic() + LOCK_WAIT_SECONDS, 0.002
        while True:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(name, token, nx=True, px=int(LOCK_SECONDS * 1000))
            if prefetch:
                pipe.get(prefetch)
            got = self._execute(pipe)
            if got[0]:
                break
            if time.monotonic() > deadline:
                raise SessionsUnavailable("another hop of this session holds its lock")
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        saved = getattr(self._local, "pending", None), getattr(self._local, "fetched", {})
        self._local.pending, self._local.fetched = [], ({prefetch: got[1]} if prefetch else {})
        try:
            yield
        except BaseException:
            self._local.pending, self._local.fetched = saved
            self._finish(name, token, [], strict=False)
            raise
        pending = self._local.pending
        self._local.pending, self._local.fetched = saved
        self._finish(name, token, pending, strict=True)

    def _finish(self, name: str, token: str, pending: list, strict: bool) -> None:
        """The hop's writes and the lock's release, in one round trip. A release that fails is left to expire."""
        pipe = self.client.pipeline(transaction=False)
        for method, args, kwargs in pending:
            getattr(pipe, method)(*args, **kwargs)
        pipe.eval(RELEASE, 1, name, token)
        try:
            self._execute(pipe)
        except SessionsUnavailable:
            if strict and pending:
                raise
            log.warning("a session lock could not be released (Valkey unreachable); it expires by itself")

    def _execute(self, pipe) -> list:
        try:
            return pipe.execute()
        except redis.RedisError as e:
            raise SessionsUnavailable(f"Valkey: {type(e).__name__}") from e


def _pack(session: Session) -> dict:
    resume = session.resume_point
    return {"lang": session.lang, "contact": session.contact_key, "screen": session.screen, "page": session.page,
            "pages": session.pages, "shown": list(session.shown), "stack": list(session.stack),
            "vars": session.vars, "consumed": session.consumed,
            "resume": _pack_place(resume) if resume else None, "at": time.time()}


def _unpack(data: dict) -> Session:
    resume = data.get("resume")
    return Session(lang=data["lang"], contact_key=data["contact"], screen=data["screen"], page=data["page"],
                   pages=data["pages"], shown=tuple(data["shown"]), stack=list(data["stack"]), vars=data["vars"],
                   consumed=data["consumed"], resume_point=_unpack_place(resume) if resume else None)


def _pack_place(place: Place) -> list:
    return [place.screen, place.page, list(place.stack), [list(pair) for pair in place.vars]]


def _unpack_place(data: list) -> Place:
    screen, page, stack, pairs = data
    return Place(screen, page, tuple(stack), tuple(tuple(pair) for pair in pairs))


class SharedSessionStore:
    """flows.sessions.SessionStore's interface, in Valkey. ``kind`` keeps USSD and SMS sessions apart."""

    def __init__(self, shared: Shared, kind: str, ttl_seconds: float):
        self.shared, self.kind, self.ttl = shared, kind, ttl_seconds

    @contextmanager
    def lock(self, key: str):
        """The session's lock, its value read in the same round trip (the hop's ``get`` comes next)."""
        with self.shared.lock(self.shared.name(self.kind + "-lock", key), prefetch=self.shared.name(self.kind, key)):
            yield

    def get(self, key: str) -> Session | None:
        name = self.shared.name(self.kind, key)
        found, sealed = self.shared.fetched(name)
        data = self.shared.unseal(name, sealed if found else self.shared.call("get", name))
        return _unpack(data) if _fresh(data, self.ttl) else None

    def put(self, key: str, session: Session) -> None:
        name = self.shared.name(self.kind, key)
        self.shared.write("set", name, self.shared.seal(name, _pack(session)), px=max(1, int(self.ttl * 1000)))

    def drop(self, key: str) -> None:
        self.shared.write("delete", self.shared.name(self.kind, key))


class SharedResumeStore:
    """flows.sessions.ResumeStore's interface, in Valkey: navigation only, by contact key."""

    def __init__(self, shared: Shared, ttl_seconds: float):
        self.shared, self.ttl = shared, ttl_seconds

    def keep(self, contact_key: str, place: Place | None) -> None:
        if not self.ttl:
            return
        name = self.shared.name("resume", contact_key)
        if place is None:
            self.shared.write("delete", name)
        else:
            value = {"place": _pack_place(place), "at": time.time()}
            self.shared.write("set", name, self.shared.seal(name, value), px=max(1, int(self.ttl * 1000)))

    def take(self, contact_key: str) -> Place | None:
        if not self.ttl:
            return None
        name = self.shared.name("resume", contact_key)
        data = self.shared.unseal(name, self.shared.call("getdel", name))
        return _unpack_place(data["place"]) if _fresh(data, self.ttl) else None


def _fresh(data: dict | None, ttl: float) -> bool:
    """Found, and not older than the store's lifetime now: Valkey's own expiry (PX) removes a value at the
    lifetime it was written with; this reads it with the lifetime in force, as the memory stores do."""
    return data is not None and time.time() - data.get("at", 0.0) <= ttl


def connect(config: dict, source: str) -> Shared:
    """The shared sessions' connection, checked: the key well formed, the server reachable and keeping nothing on
    disk. ConfigError naming the key (and the URL, its password hidden) otherwise."""
    cfg = config["sessions"]
    url = cfg["url"]
    if not cfg["key"]:
        raise ConfigError(f"{source}: [sessions] key: missing; with [sessions] url set, give the 32-byte key that "
                          "seals sessions in Valkey, the same on every gateway host (use env:NAME)")
    key = parse_key(cfg["key"], f"{source}: [sessions] key")
    try:
        shared = Shared(url, key, cfg["timeout_seconds"])
    except ValueError as e:
        raise ConfigError(f"{source}: [sessions] url: not a redis:// URL ({e})") from None
    where = f"{source}: [sessions] url {shown_url(url)}"
    try:
        shared.client.ping()
    except redis.RedisError as e:
        raise ConfigError(f"{where}: cannot reach the server ({e})") from None
    _check_nothing_on_disk(shared.client, where)
    return shared


def _check_nothing_on_disk(client, where: str) -> None:
    """Refuse a server that snapshots (save) or logs (appendonly) to disk; warn if CONFIG is not allowed."""
    try:
        save = client.config_get("save").get("save", "")
        appendonly = client.config_get("appendonly").get("appendonly", "no")
    except redis.ResponseError as e:  # CONFIG renamed away or denied by an ACL: say what to check by hand
        log.warning("%s: cannot read the server's persistence settings (%s); make sure it runs with save \"\" and "
                    "appendonly no, so that no session reaches its disk", where, e)
        return
    except redis.RedisError as e:
        raise ConfigError(f"{where}: cannot reach the server ({e})") from None
    if save.strip():
        raise ConfigError(f"{where}: the server writes snapshots to disk (save \"{save}\"); sessions must never reach "
                          "a disk: run it with save \"\" (and appendonly no), see docs/operations.md")
    if appendonly.strip().lower() != "no":
        raise ConfigError(f"{where}: the server logs every write to disk (appendonly {appendonly}); sessions must "
                          "never reach a disk: run it with appendonly no (and save \"\"), see docs/operations.md")
