"""One path for every inbound SMS, whatever channel carried it.

Providers re-send (Africa's Talking for up to 12 hours until it gets a 200), so each message is recorded by a
hash of its provider id in the same transaction that queues its reply: a re-send finds the hash and does
nothing, a crash before commit leaves neither, and the provider's next try is processed afresh.

Who answers is the features' business: the keyword handlers, then the menus, as the assembly hooked them in
(``ctx.hooks``); this module imports none of them.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from gateway import channel_state, outbox, routing
from gateway.store import transaction


@dataclass(frozen=True)
class InboundSMS:
    channel: str
    phone: str  # E.164
    text: str
    provider_id: str


def dedupe_key(channel: str, provider_id: str) -> str:
    return hashlib.sha256(f"{channel}:{provider_id}".encode()).hexdigest()


def receive_sms(ctx, sms: InboundSMS) -> bool:
    """Handle one inbound SMS exactly once; returns False when it was a re-send already handled."""
    db = ctx.db()
    key = dedupe_key(sms.channel, sms.provider_id)
    with transaction(db):
        # the hour, not the moment: the dashboard counts per hour, and a precise time would date the message
        if not channel_state.first_sight(db, key, float(int(time.time() // 3600) * 3600)):
            return False
        channel_state.record_inbound(db, sms.channel)
        replies = None
        for handler in ctx.hooks.keywords:  # JOIN, STOP, HELP, the erasure words ... (gateway.initialize)
            replies = handler(ctx, db, sms)
            if replies is not None:
                break
        if replies is None:
            replies = ctx.hooks.conversation(ctx, db, sms.phone, sms.text)
        for i, body in enumerate(replies):
            for j, piece in enumerate(routing.fit(ctx.config, sms.phone, body)):  # a one-segment route: several
                outbox.enqueue(db, sms.phone, piece, kind="reply", idempotency_key=f"reply:{key}:{i}" + (
                    f":{j}" if j else ""), sensitive=True, max_age_hours=ctx.config["dispatcher"]["max_age_hours"],
                    config=ctx.config)
    return True
