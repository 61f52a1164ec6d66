"""Building a Call and a fresh Session for a caller, and queuing what a hop asked to send.

Nothing here knows HTTP: a request the transports cannot make a call of raises BadCall, which the app answers
with 400 and the reason (flows.runtime), and which a command line reports as it likes."""
from __future__ import annotations

from flows.actions import Call
from flows.sessions import Session
from gateway import contacts, outbox, routing


class BadCall(ValueError):
    """What a provider sent cannot be a call (not a phone number, a session id too long); the text says why."""


def caller(ctx, phone: str) -> tuple[str, str]:
    """(E.164, contact key) for the number a provider sent; BadCall if it is not a phone number."""
    try:
        e164 = contacts.normalize(phone, ctx.config["sms"]["default_region"])
    except contacts.BadNumber as e:
        raise BadCall(f"phone number: {e}") from None
    return e164, contacts.contact_key(ctx.services.contacts_secret, e164)


def new_session(ctx, db, contact_key: str) -> Session:
    known = contacts.get(db, contact_key)
    lang = known["language"] or ctx.config["gateway"]["default_language"]
    return Session(lang=lang, contact_key=contact_key,
                   vars={"language": known["language"] or "", "governorate": known["governorate"] or ""})


def make_call(ctx, db, e164: str, session: Session, channel: str) -> Call:
    return Call(ctx=ctx, db=db, phone=e164, contact_key=session.contact_key, lang=session.lang, channel=channel,
                vars=session.vars)


def queue_outgoing(ctx, db, call: Call) -> None:
    for text, kind, sensitive in call.outgoing:
        for piece in routing.fit(ctx.config, call.phone, text):  # a route without concatenation gets several
            outbox.enqueue(db, call.phone, piece, kind=kind, sensitive=sensitive,
                           max_age_hours=ctx.config["dispatcher"]["max_age_hours"], config=ctx.config)
    call.outgoing.clear()
