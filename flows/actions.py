"""Actions: the few places where a flow (data) calls code.

A flow names an action as ``on_enter = "name"`` on a screen or ``action = "name"`` on an option. The function
gets a Call and returns the id of a screen to go to instead, or None to carry on. `dalil flows check` fails on
a flow naming an action that no module registers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

ACTIONS: dict[str, Callable[["Call"], str | None]] = {}


def action(name: str):
    def register(fn):
        ACTIONS[name] = fn
        return fn
    return register


@dataclass
class Call:
    """One caller's hop, as an action sees it. ``vars`` live in memory for the session only, never on disk."""
    ctx: Any                  # gateway.Dalil: .config, .db(), .secret(name), .keys_dir
    db: Any                   # sqlite_utils.Database for this thread
    phone: str                # E.164
    contact_key: str          # HMAC of the number (gateway.contacts)
    lang: str                 # ar | fr | en
    channel: str              # "ussd" | "sms"
    vars: dict = field(default_factory=dict)
    outgoing: list = field(default_factory=list)  # (text, kind, sensitive) queued after the hop commits

    def send_sms(self, text: str, kind: str = "reply", sensitive: bool = True) -> None:
        self.outgoing.append((text, kind, sensitive))


def load_actions() -> dict:
    """Every action a flow may name. Importing a module runs its @action lines: these are the modules that have
    them (a new one is added here, so `dalil flows check` and the engine both see it)."""
    from flows import builtin_actions  # noqa: F401
    from jobs import flow_actions as jobs_actions  # noqa: F401
    from messages import flow_actions as messages_actions  # noqa: F401
    from polls import flow_actions as polls_actions  # noqa: F401
    from referrals import flow_actions as referrals_actions  # noqa: F401
    return ACTIONS
