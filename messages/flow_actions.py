"""Flow actions of the messages package: subscribing from a menu."""
from __future__ import annotations

from flows.actions import Call, action
from messages import subscribers


@action("subscribe")
def subscribe_from_menu(call: Call) -> str | None:
    subscribers.subscribe(call.db, call.phone, language=call.lang, governorate=call.vars.get("governorate") or None,
                          interests=call.vars.get("topic") or "all", channel=call.channel, via="menu")
    return None
