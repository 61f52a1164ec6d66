"""The dispatcher: takes ready rows from the outbox and hands them to the push channels (Twilio, Africa's Talking).

One cycle: housekeeping (lapsed leases back to the queue, overdue rows expired, the WAL scrubbed after wipes),
routing (which channels are available now), then per channel a claim of a batch (queued -> sending, with a lease)
and the sends, one at a time, each result committed at once. Committing per message keeps the window in which a
crash can repeat a message to the one message on the wire.

Several dispatchers (threads in `dalil serve`, or `dalil dispatch` processes) can share one database: claims are
atomic, and the rate limit is a token bucket kept in SQLite, so together they stay under it.

Outcomes: sent (provider id kept, a sensitive row wiped); transient error -> queued again after an exponential
backoff with jitter, counted against the channel's circuit; permanent error -> failed with the reason at once
(and an opted-out number is reported to the subscribers package). Rows still queued at their expiry expire.
"""
from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
import time

from gateway import channel_state, channels, health, outbox, routing, store
from gateway.holds import held_back, report_opt_out
from gateway.ratelimit import SharedBucket
from gateway.store import transaction

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 5.0
SUCCESS_WRITE_SECONDS = 1.0  # channel_health.last_success is written at most this often per channel
TIMEOUT_MARGIN_SECONDS = 1.0
RECORD_TRIES = 3  # busy_timeout is 10 s a try
SENSITIVE_RETRY_MIN, SENSITIVE_RETRY_SPREAD = 10.0, 60.0


def backoff(attempts: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Exponential in the attempts so far, capped, with jitter so that dispatchers do not retry in step."""
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    delay = random.uniform(delay / 2, delay)  # noqa: S311 (jitter, not a secret)
    return max(delay, retry_after or 0.0)


class Dispatcher:
    def __init__(self, ctx, owner: str | None = None, stop_event: threading.Event | None = None):
        self.ctx = ctx
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stop_event = stop_event or threading.Event()
        self._senders: dict[str, object] = {}
        self._buckets: dict[str, SharedBucket] = {}
        self._last_housekeeping = float("-inf")  # time.monotonic(): intervals must not follow clock steps
        self._last_link_check = float("-inf")
        self._last_scrub = time.monotonic()
        self._needs_scrub = False
        self._success_written: dict[str, float] = {}
        self._failing: set[str] = set()  # channels whose failures this process has not cleared yet

    @property
    def settings(self) -> dict:
        return self.ctx.config["dispatcher"]

    # -- the loop --------------------------------------------------------------------------------------------

    def run_forever(self, until_empty: bool = False) -> None:
        """Until stopped; with ``until_empty``, also until nothing is queued or being sent."""
        log.info("dispatcher %s started", self.owner)
        try:
            while not self.stop_event.is_set():
                handled = self._run_once_safely()
                if handled < self.settings["batch"]:
                    if until_empty and not handled and outbox.is_empty(self.ctx.db()):
                        break
                    self._idle(handled)
            self._scrub_if_needed(self.ctx.db(), force=True)
        finally:
            store.close_thread_connections()
            log.info("dispatcher stopped")

    def stop(self) -> None:
        self.stop_event.set()

    def _idle(self, handled: int) -> None:
        """Wait for work: after an empty cycle on PostgreSQL, until a NOTIFY says a message was queued (or
        listen_seconds pass); otherwise, and on SQLite, which has no such signal, poll_seconds."""
        db = self.ctx.db()
        if handled or store.dialect(db) != "postgresql" or self.stop_event.is_set():
            self.stop_event.wait(self.settings["poll_seconds"])
            return
        try:
            db.wait_for(outbox.QUEUED_CHANNEL, self.settings["listen_seconds"], self.stop_event)
        except store.OperationalError as e:
            log.warning("dispatcher: cannot listen for new messages (%s); polling", e)
            self.stop_event.wait(self.settings["poll_seconds"])

    def _run_once_safely(self) -> int:
        try:
            return self.run_once()
        except store.OperationalError as e:
            log.warning("dispatcher: storage unavailable (%s); retrying", e)
        except Exception:
            log.exception("dispatcher cycle failed; retrying")
        return 0

    def run_once(self) -> int:
        """One cycle; returns how many messages were handled."""
        db = self.ctx.db()
        now = time.time()
        self._housekeeping(db, now)
        self._poll_devices()
        router = routing.build(self.ctx.config, db, now)
        handled = 0
        for channel in routing.push_channels():
            if channel in router.available and not self.stop_event.is_set():
                handled += self._run_channel(db, router, channel)
        return handled

    def _lease_for(self, channel: str) -> float:
        """The configured lease, but never so short that one send's timeout could outlast it."""
        timeout = self.ctx.config[f"channels.{channel}"]["timeout_seconds"]
        return max(self.settings["lease_seconds"], 2 * (timeout + TIMEOUT_MARGIN_SECONDS))

    def _run_channel(self, db, router, channel: str) -> int:
        lease = self._lease_for(channel)
        now = time.time()
        with transaction(db):
            batch = outbox.claim(db, self.owner, router.sql(), [channel], self._claim_size(channel), lease, now)
        if batch:
            self._send_all(db, batch, now + lease)
        return len(batch)

    def _claim_size(self, channel: str) -> int:
        """No more than the rate limit lets out within half a lease: the rest would wait holding a lease."""
        batch = self.settings["batch"]
        rate = self._rate(channel)
        return batch if not rate else max(1, min(batch, int(rate * self._lease_for(channel) / 2)))

    def _send_all(self, db, batch: list[outbox.Outgoing], lease_until: float) -> None:
        for i, msg in enumerate(batch):
            if self.stop_event.is_set() or not self._can_finish(msg, lease_until) \
                    or not self._wait_for_rate(msg, lease_until):
                return self._give_back(db, batch[i:])
            if held_back(self.ctx, db, msg):
                continue
            if self._send_one(db, msg):  # the circuit opened: the rest go back to be routed elsewhere
                return self._give_back(db, batch[i + 1:])

    def _give_back(self, db, rest: list[outbox.Outgoing]) -> None:
        if rest:
            with transaction(db):
                outbox.release(db, [m.id for m in rest], self.owner)

    def _can_finish(self, msg: outbox.Outgoing, lease_until: float) -> bool:
        timeout = self.ctx.config[f"channels.{msg.channel}"]["timeout_seconds"]
        return time.time() + timeout + TIMEOUT_MARGIN_SECONDS < lease_until

    def _rate(self, channel: str) -> float | None:
        """The tighter of the channel's segments/s and its link's messages/s (as segments, at one a message)."""
        rates = [float(r) for r in (self.settings["rate_segments_per_second"].get(channel),
                                    self._message_rate(channel)) if r]
        return min(rates) if rates else None

    def _message_rate(self, channel: str) -> float | None:
        rate = self.ctx.config[f"channels.{channel}"].get("messages_per_second")
        return float(rate) if rate else None

    def _bucket(self, name: str, rate: float) -> SharedBucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = SharedBucket(self.ctx, name, rate)
        return bucket

    def _wait_for_rate(self, msg: outbox.Outgoing, lease_until: float) -> bool:
        timeout = self.ctx.config[f"channels.{msg.channel}"]["timeout_seconds"]
        deadline = lease_until - timeout - TIMEOUT_MARGIN_SECONDS
        segment_rate = self.settings["rate_segments_per_second"].get(msg.channel)
        if segment_rate and not self._bucket(msg.channel, float(segment_rate)).take(msg.segments, self.stop_event,
                                                                                    deadline):
            return False
        message_rate = self._message_rate(msg.channel)  # per link: an SMPP bind's or a modem's throughput
        return not message_rate or self._bucket(f"{msg.channel}:messages", message_rate).take(
            1, self.stop_event, deadline)

    # -- one message -----------------------------------------------------------------------------------------

    def _sender(self, channel: str):
        sender = self._senders.get(channel)
        if sender is None:
            sender = self._senders[channel] = channels.get(channel).sender(self.ctx)
        return sender

    def _send_one(self, db, msg: outbox.Outgoing) -> bool:
        """Send and record the outcome. Returns True when this failure opened the channel's circuit."""
        try:
            provider_id = self._sender(msg.channel).send(msg)
        except outbox.Permanent as e:
            self._failed(db, msg, e)
            return False
        except outbox.Transient as e:
            return self._retry_later(db, msg, e)
        except Exception as e:  # a bug or a surprise in a channel must not lose the message
            log.exception("channel %s raised on message %s; will retry", msg.channel, msg.id)
            return self._retry_later(db, msg, outbox.Transient(f"{msg.channel}: unexpected {type(e).__name__}"))
        self._sent(db, msg, provider_id)
        return False

    def _sent(self, db, msg: outbox.Outgoing, provider_id: str) -> None:
        """Record the send, trying harder than usual: the provider has the message, and a lost write would send it
        again once the lease lapses."""
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                return self._record_sent(db, msg, provider_id)
            except store.OperationalError:
                if attempt == RECORD_TRIES:
                    raise
                log.warning("message %s sent but the database is busy; recording it again", msg.id)
                time.sleep(0.2 * attempt)

    def _record_sent(self, db, msg: outbox.Outgoing, provider_id: str) -> None:
        now = time.time()
        if msg.channel not in self._failing and time.monotonic() - self._success_written.get(msg.channel, -1e9) < \
                SUCCESS_WRITE_SECONDS:
            self._needs_scrub |= outbox.mark_sent(db, msg.id, provider_id, now)  # one statement: its own commit
            return
        with transaction(db):
            self._needs_scrub |= outbox.mark_sent(db, msg.id, provider_id, now)
            channel_state.record_success(db, msg.channel, now)
        self._success_written[msg.channel] = time.monotonic()
        self._failing.discard(msg.channel)

    def _retry_later(self, db, msg: outbox.Outgoing, error: outbox.SendError) -> bool:
        s = self.settings
        now = time.time()
        delay = backoff(msg.attempts, s["backoff_base_seconds"], s["backoff_max_seconds"], error.retry_after)
        if msg.sensitive:  # its next try must not give the time of the hop that queued it
            delay = max(delay, SENSITIVE_RETRY_MIN) + random.uniform(0, SENSITIVE_RETRY_SPREAD)  # noqa: S311 (jitter)
        with transaction(db):
            outbox.mark_retry(db, msg.id, self.owner, error.reason, now + delay, now)
            opened = channel_state.record_failure(db, msg.channel, error.reason, s["circuit_failures"],
                                           s["circuit_open_seconds"], now)
        self._failing.add(msg.channel)
        log.warning("message %s on %s: %s; next try in %.1fs", msg.id, msg.channel, error.reason, delay)
        if opened:
            log.warning("channel %s is failing: left out of routing for %.0fs", msg.channel,
                        s["circuit_open_seconds"])
        return opened

    def _failed(self, db, msg: outbox.Outgoing, error: outbox.SendError) -> None:
        with transaction(db):
            self._needs_scrub |= outbox.mark_failed(db, msg.id, error.reason)
        log.info("message %s on %s failed for good: %s", msg.id, msg.channel, error.reason)
        if error.opt_out and msg.to:
            report_opt_out(self.ctx, db, msg.to, error.reason, msg.channel)

    # -- housekeeping ----------------------------------------------------------------------------------------

    def _poll_devices(self) -> None:
        """Read the device side of the channels that have one (gammu-smsd: received messages, results, heartbeat)."""
        for channel in channels.ALL:
            if channel.poll is not None and channel.ready(self.ctx.config):
                channel.poll(self.ctx)

    def _check_links(self, db, now: float) -> None:
        if time.monotonic() - self._last_link_check < self.ctx.config["links"]["check_seconds"]:
            return
        self._last_link_check = time.monotonic()
        health.check_links(self.ctx, db, now)

    def _housekeeping(self, db, now: float) -> None:
        self._check_links(db, now)
        if time.monotonic() - self._last_housekeeping < min(HOUSEKEEPING_SECONDS, self.settings["lease_seconds"] / 2):
            return
        self._last_housekeeping = time.monotonic()
        with transaction(db):
            returned = outbox.reclaim_expired_leases(db, now)
            dropped = outbox.drop_orphans(db)
            expired, wiped = outbox.expire_overdue(db, now)
            outbox.release_stranded_retries(db, 2 * self.settings["backoff_max_seconds"], now)
        self._needs_scrub |= wiped or bool(dropped)
        if dropped:
            log.warning("%d sealed message(s) dropped: the process holding their key stopped before sending them",
                        dropped)
        if returned:
            log.warning("%d message(s) back in the queue after a lapsed lease (a dispatcher stopped mid-send)",
                        returned)
        if expired:
            log.warning("%d message(s) expired unsent", expired)
        self._scrub_if_needed(db)

    def _scrub_if_needed(self, db, force: bool = False) -> None:
        """Wiped numbers and texts must not live on in the WAL's old page images."""
        if not self._needs_scrub:
            return
        if force or time.monotonic() - self._last_scrub >= self.settings["scrub_seconds"]:
            store.scrub_wal(db)
            self._needs_scrub = False
            self._last_scrub = time.monotonic()


class DispatcherPool:
    """[dispatcher] workers dispatchers in threads of this process, sharing one stop switch. Each is a full
    dispatcher (claims are atomic, the bucket is shared), so while one waits on a provider another sends: a
    crash can then repeat up to one message per worker."""

    def __init__(self, ctx, workers: int | None = None):
        self.stop_event = threading.Event()
        count = max(1, workers or ctx.config["dispatcher"]["workers"])
        self.dispatchers = [Dispatcher(ctx, stop_event=self.stop_event) for _ in range(count)]
        self.threads: list[threading.Thread] = []

    def start(self, until_empty: bool = False) -> "DispatcherPool":
        for i, dispatcher in enumerate(self.dispatchers):
            thread = threading.Thread(target=dispatcher.run_forever, args=(until_empty,),
                                      name=f"dalil-dispatcher-{i}", daemon=True)
            self.threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self.threads:
            while thread.is_alive():  # short waits, so that signal handlers run in the main thread
                thread.join(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
                if deadline is not None and time.monotonic() >= deadline:
                    return


# -- inside `dalil serve` ----------------------------------------------------------------------------------------

def start_background(app) -> None:
    ctx = app.extensions["dalil"]
    if not ctx.config["dispatcher"]["enabled"] or ctx.services.dispatcher is not None:
        return
    ctx.services.dispatcher = DispatcherPool(ctx).start()


def stop_background(app, timeout: float = 20.0) -> None:
    services = app.extensions["dalil"].services
    pool, services.dispatcher = services.dispatcher, None
    if pool is not None:
        pool.stop()
        pool.join(timeout)
