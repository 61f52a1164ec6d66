"""Flow actions of the messages package: subscribing and unsubscribing from a menu (USSD or SMS)."""
from __future__ import annotations

from flows.actions import Call, action
from messages import subscribers


@action("subscribe")
def subscribe_from_menu(call: Call) -> str | None:
    subscribers.subscribe(call.db, call.phone, language=call.lang, governorate=call.vars.get("governorate") or None,
                          interests=call.vars.get("topic") or "all", channel=call.channel, via="menu",
                          contact_key=call.contact_key)
    return None


@action("subscription.check")
def offer_only_what_applies(call: Call) -> str | None:
    """The subscription screen only for a subscriber; anyone else is offered to subscribe."""
    known = subscribers.get(call.db, call.phone)
    return None if known and known["status"] == "active" else "subs_none"


@action("unsubscribe")
def unsubscribe_from_menu(call: Call) -> str | None:
    subscribers.opt_out(call.db, call.phone, channel=call.channel, via="menu", contact_key=call.contact_key)
    return None
