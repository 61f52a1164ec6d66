"""Flow actions of the messages package: subscribing and unsubscribing from a menu (USSD or SMS)."""
from __future__ import annotations

from flows.actions import Call, action
from messages import i18n, subscribers


@action("subscribe")
def subscribe_from_menu(call: Call) -> str | None:
    subscribers.subscribe(call.db, call.phone, language=call.lang, governorate=call.vars.get("governorate") or None,
                          interests=call.vars.get("topic") or "all", channel=call.channel, via="menu",
                          contact_key=call.contact_key)
    return None


@action("subscription.check")
def offer_only_what_applies(call: Call) -> str | None:
    """The subscription screen only for a subscriber, naming their topics; anyone else is offered to subscribe."""
    known = subscribers.get(call.db, call.phone)
    if not (known and known["status"] == "active"):
        return "subs_none"
    call.vars["topics"] = _topics_text(call.lang, known["interests"])
    return None


def _topics_text(lang: str, interests: set[str]) -> str:
    topics = [t for t in subscribers.INTERESTS if t in interests]
    if len(topics) == len(subscribers.INTERESTS):
        return i18n.t(lang, "sub.all")
    return i18n.t(lang, "sub.list.separator").join(i18n.t(lang, f"sub.{t}") for t in topics)


@action("unsubscribe.topic")
def drop_one_topic(call: Call) -> str | None:
    left = subscribers.drop_interest(call.db, call.phone, call.vars.get("topic") or "", channel=call.channel,
                                     via="menu", contact_key=call.contact_key)
    call.vars["topics"] = _topics_text(call.lang, left)
    return None if left else "subs_stopped"


@action("unsubscribe")
def unsubscribe_from_menu(call: Call) -> str | None:
    subscribers.opt_out(call.db, call.phone, channel=call.channel, via="menu", contact_key=call.contact_key)
    return None
