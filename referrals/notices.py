"""What a referral changes besides its envelope, applied later: caseworker digests and the report's counters.

A notice sent when a referral is made would date it to the second in the outbox, the provider's log and the
caseworker's phone; a counter bumped at that moment would tell anyone reading the file twice which need and
governorate the referral had. So intake only adds to two tallies: the CSO's pending notices (a row per CSO, no
code, no need, no time) and, in this process's memory, the month/need/governorate counts. `dalil serve` flushes
both once per [referrals] notice_window_minutes, at a moment drawn at random within the window, and at a clean
stop: the digests go out ("N new referrals", naming none: the desk shows which are new) and the counts are added
to the counters. A crash loses the counts of at most one window; docs/privacy.md says so.
"""
from __future__ import annotations

import threading
from collections import Counter

from gateway import outbox
from gateway.store import transaction
from messages import i18n
from referrals import store


_lock = threading.Lock()


def count_later(ctx, month: str, need: str, governorate: str) -> None:
    with _lock:
        if ctx.services.referrals_counts is None:
            ctx.services.referrals_counts = Counter()
        ctx.services.referrals_counts[(month, need, governorate)] += 1


def flush(ctx, db) -> int:
    """Add the counts held in memory to the counters, and queue the digests. Returns the digests queued."""
    with _lock:
        held, ctx.services.referrals_counts = ctx.services.referrals_counts or Counter(), None
    with transaction(db):
        for (month, need, governorate), n in sorted(held.items()):
            store.count_referral(db, month, need, governorate, n)
        return send_digests(ctx, db)


def send_digests(ctx, db) -> int:
    """Queue one digest per CSO with pending referrals and a caseworker phone; returns how many."""
    queued = 0
    with transaction(db):
        for cso_id, n in store.take_pending_notices(db):
            cso = store.get_cso(db, cso_id)
            if cso is None or not cso["notify_phone"] or not cso["active"]:
                continue
            text = i18n.t(cso["language"], "referral.sms.digest", count=n)
            outbox.enqueue(db, cso["notify_phone"], text, sensitive=True,
                           max_age_hours=ctx.config["dispatcher"]["max_age_hours"])
            queued += 1
    return queued
