"""The same flows over SMS: numbered replies, a menu keyword in each language, an idle timeout."""
from __future__ import annotations

from flows.calls import caller, make_call, new_session, queue_outgoing
from messages import i18n


def is_menu_keyword(text: str) -> bool:
    word = text.strip().casefold()
    return any(word == i18n.t(lang, "kw.menu").casefold() for lang in i18n.LANGUAGES)


def handle(ctx, db, phone: str, text: str) -> list[str]:
    """Replies to one inbound SMS (the caller's transaction is open; gateway.inbound commits it)."""
    e164, contact_key = caller(ctx, phone)
    store, engine = ctx.services["sms_sessions"], ctx.services["engine"]
    key = f"sms:{contact_key}"
    with store.lock(key):
        session = store.get(key)
        if session is None or is_menu_keyword(text):
            session = new_session(ctx, db, contact_key)
            call = make_call(ctx, db, e164, session, "sms")
            reply = engine.start(call, session)
        else:
            call = make_call(ctx, db, e164, session, "sms")
            reply = engine.step(call, session, text)
        queue_outgoing(ctx, db, call)
        if reply.end:
            store.drop(key)
        else:
            store.put(key, session)
    return [reply.text]


def start_at(ctx, db, phone: str, screen_id: str, values: dict, then: str = "", lang: str | None = None) -> list[str]:
    """A keyword that opens a flow at a screen (a poll's keyword): a fresh conversation there, with ``values``
    in its vars, and ``then`` (the rest of the message, "WATER 2") taken as the first reply. ``lang``: the
    language to use when the number has not chosen one on the line (a subscriber's)."""
    e164, contact_key = caller(ctx, phone)
    store, engine = ctx.services["sms_sessions"], ctx.services["engine"]
    key = f"sms:{contact_key}"
    with store.lock(key):
        session = new_session(ctx, db, contact_key)
        session.vars.update(values)
        if lang and not session.vars.get("language"):
            session.lang = lang
        call = make_call(ctx, db, e164, session, "sms")
        reply = engine.start(call, session, screen_id)
        if then and not reply.end:
            reply = engine.step(call, session, then)
        queue_outgoing(ctx, db, call)
        if reply.end:
            store.drop(key)
        else:
            store.put(key, session)
    return [reply.text]
