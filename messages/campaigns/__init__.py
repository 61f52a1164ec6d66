"""Campaigns: information blasts to opted-in subscribers by area, interest and language, on a schedule.

Life of a campaign (``campaigns.status``)::

    draft --send--> active      (schedule "now": queued at once)
          --send--> scheduled   (a time, or a recurrence: messages/schedule.py runs it)
    active | scheduled --pause--> paused --resume--> back where it was
    any --cancel--> cancelled;  a one-off whose time passed while the gateway was down --> missed

A run queues one outbox row per matching subscriber with a single INSERT ... SELECT per batch of subscriber
ids: the audience is never loaded into Python (bench/blast.py measures it), and the whole run is one
transaction, so nothing is half-queued. Each row's text is its subscriber's language or the fallback; its
``not_before`` is the end of quiet hours if they are on, and with a rate the rows are spread over the open
hours (messages/quiet.py). Pausing parks queued rows at a far-future ``not_before``; cancelling expires them.
Results are counted from the outbox, so delivery receipts show up as they arrive.

The package, by job: ``model`` (a campaign, its checks, reading and creating), ``preview`` (what it would do),
``runs`` (queueing runs, the test send), ``control`` (pause, resume, cancel, quiet hours, results); its SQL is in
``store`` and the outbox's rows are written by gateway.blasts. Everything callers use is named here.
"""
from __future__ import annotations

from messages.campaigns.control import (
    RESULT_KEYS, cancel, defer_for_quiet_hours, pause, reschedule_queued, results, resume,
)
from messages.campaigns.model import (
    CANCELLED, MAX_NAME, PAUSED_UNTIL, STATUSES, Campaign, CampaignError, check_texts, create, listing, load, outgoing,
    quiet_hours, shown_status,
)
from messages.campaigns.preview import gsm7_lookalike, preview, recipients_by_language, route_problems, text_report
from messages.campaigns.runs import queue_run, run_due, run_scheduled, send, test_send

__all__ = ["CANCELLED", "MAX_NAME", "PAUSED_UNTIL", "RESULT_KEYS", "STATUSES", "Campaign", "CampaignError", "cancel",
           "check_texts", "create", "defer_for_quiet_hours", "gsm7_lookalike", "listing", "load", "outgoing", "pause",
           "preview", "queue_run", "quiet_hours", "recipients_by_language", "reschedule_queued", "results", "resume",
           "route_problems", "run_due", "run_scheduled", "send", "shown_status", "test_send", "text_report"]
