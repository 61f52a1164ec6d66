"""Where sending meets the features, through the hooks the assembly set (``ctx.hooks``): the last look at a
claimed message before it goes, and a provider's word that a number refuses our messages."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def held_back(ctx, db, msg) -> str | None:
    """Why a claimed message must not go now, or None. A check that fails holds the message too (its lease runs
    out and a later pass tries again): texting someone who said STOP is worse than a late message. Only blasts are
    looked at (an opt-out, a paused campaign, quiet hours): a reply, a notice or a referral message goes as it is,
    without a lookup."""
    if msg.kind != "blast":
        return None
    for check in ctx.hooks.send_checks:
        try:
            reason = check(ctx, db, msg.id)
        except Exception:
            log.exception("send check %s failed on message %s; holding it", check.__module__, msg.id)
            return "send check failed"
        if reason:
            return reason
    return None


def report_opt_out(ctx, db, e164: str, reason: str, channel: str) -> bool:
    """A provider says this number refuses our messages (Twilio 21610, AT blacklist): opt it out everywhere."""
    try:
        return ctx.hooks.opt_out(db, e164, channel=channel, via=reason)
    except Exception:
        log.exception("opt-out failed (reason: %s, channel: %s)", reason, channel)
        return False
