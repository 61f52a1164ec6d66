"""What the running gateway knows: its config, where its state lives, its long-lived helpers, and the hooks
through which the features (menus, keywords, campaigns) plug into the delivery path.

This module is part of the core: it imports no feature. The assembly (``gateway.initialize``) fills ``hooks``
and the packages' ``init_app`` fill ``services``; both are plain attributes an editor can follow.
"""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from flask import current_app

from gateway import config as config_module
from gateway import keys, store

if TYPE_CHECKING:  # types only: the features sit above this layer
    from apscheduler.schedulers.background import BackgroundScheduler

    from flows.engine import Engine, Reply
    from flows.sessions import ResumeStore, SessionStore
    from gateway.dispatcher import DispatcherPool
    from gateway.inbound import InboundSMS
    from messages.scheduler import CampaignScheduler

# An inbound SMS keyword handler: the replies, or None to let the next handler (and then the menus) answer.
KeywordHandler = Callable[["Dalil", Any, "InboundSMS"], "list[str] | None"]
# The last look before a claimed message goes: why it must wait (it has moved it back itself), or None.
SendCheck = Callable[["Dalil", Any, int], "str | None"]


def _unset(*args, **kwargs):
    raise RuntimeError("not assembled: create the context with gateway.initialize()")


@dataclass
class Hooks:
    """What the features give the delivery path, set once by ``gateway.initialize``."""
    keywords: tuple[KeywordHandler, ...] = ()  # STOP, JOIN, HELP, erasure words ... in order, before the menus
    conversation: Callable[..., list[str]] = _unset  # (ctx, db, phone, text) -> replies: the SMS menus
    ussd_hop: Callable[..., "Reply"] = _unset  # flows.ussd.hop: one USSD request, one screen
    ussd_end: Callable[..., None] = _unset  # flows.ussd.end: the aggregator says the session is over
    send_checks: tuple[SendCheck, ...] = ()  # blasts only: a subscriber opted out, a campaign paused, quiet hours
    opt_out: Callable[..., bool] = _unset  # (db, e164, channel=, via=): a provider says this number refuses us


@dataclass
class Services:
    """Long-lived helpers, each set by the package named; None until it is."""
    engine: "Engine | None" = None  # flows.runtime: the menu engine
    ussd_sessions: "SessionStore | None" = None  # flows.runtime: live USSD sessions
    ussd_resume: "ResumeStore | None" = None  # flows.runtime: where a dropped USSD caller was
    sms_sessions: "SessionStore | None" = None  # flows.runtime: live SMS conversations
    contacts_secret: bytes | None = None  # flows.runtime: the key of the contacts' HMAC
    dispatcher: "DispatcherPool | None" = None  # gateway.dispatcher, inside `dalil serve`
    campaign_scheduler: "CampaignScheduler | None" = None  # messages.runtime, inside `dalil serve`
    polls_scheduler: "BackgroundScheduler | None" = None  # polls.runtime, inside `dalil serve`
    jobs_scheduler: "BackgroundScheduler | None" = None  # jobs.runtime, inside `dalil serve`
    referrals_scheduler: "BackgroundScheduler | None" = None  # referrals.runtime, inside `dalil serve`
    referrals_signing_key: Any = None  # referrals.keyring: the gateway's Ed25519 key, loaded once
    referrals_checkpoint_at: float | None = None  # referrals.relay: when the log was last checkpointed
    referrals_counts: Counter | None = None  # referrals.notices: the digest's counts held in memory
    referrals_erasure_recent: dict | None = None  # referrals.erasure: recent erasure requests, keyed
    console_jobs: dict = field(default_factory=dict)  # gateway.console.jobs: background imports, by id
    console_jobs_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Dalil:
    """What the running gateway knows: its config and where its state lives."""
    config: dict[str, dict[str, Any]]
    services: Services = field(default_factory=Services)
    hooks: Hooks = field(default_factory=Hooks)
    source: str | None = None  # the config file it was started with, if any

    def config_file(self) -> str:
        """The file to edit to change a key: the one in use, or where Dalil would read one."""
        return self.source or str(config_module.home() / "dalil.toml")

    @property
    def db_path(self) -> str:
        return self.config["gateway"]["database"]

    @property
    def keys_dir(self) -> str:
        return self.config["gateway"]["keys_dir"]

    def db(self):
        return store.connect(self.db_path)

    def secret(self, name: str) -> bytes:
        return keys.secret(self.keys_dir, name)


def dalil() -> Dalil:
    return current_app.extensions["dalil"]
