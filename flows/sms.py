"""The same flows over SMS: numbered replies, a menu keyword in each language, an idle timeout."""
from __future__ import annotations

from flows.calls import caller, make_call, new_session, queue_outgoing
from messages import i18n


def is_menu_keyword(text: str) -> bool:
    word = text.strip().casefold()
    return any(word == i18n.t(lang, "kw.menu").casefold() for lang in i18n.LANGUAGES)


def handle(ctx, db, phone: str, text: str) -> list[str]:
    """Replies to one inbound SMS (the caller's transaction is open; gateway.inbound commits it)."""
    def advance(engine, session, fresh, call_of):
        if session is None or is_menu_keyword(text):
            session = fresh()
            call = call_of(session)
            return session, call, engine.start(call, session)
        call = call_of(session)
        return session, call, engine.step(call, session, text)
    return _converse(ctx, db, phone, advance)


def start_at(ctx, db, phone: str, screen_id: str, values: dict, then: str = "", lang: str | None = None) -> list[str]:
    """A keyword that opens a flow at a screen (a poll's keyword): a fresh conversation there, with ``values``
    in its vars, and ``then`` (the rest of the message, "WATER 2") taken as the first reply. ``lang``: the
    language to use when the number has not chosen one on the line (a subscriber's)."""
    def advance(engine, _, fresh, call_of):
        session = fresh()
        session.vars.update(values)
        if lang and not session.vars.get("language"):
            session.lang = lang
        call = call_of(session)
        reply = engine.start(call, session, screen_id)
        if then and not reply.end:
            reply = engine.step(call, session, then)
        return session, call, reply
    return _converse(ctx, db, phone, advance)


def _converse(ctx, db, phone: str, advance) -> list[str]:
    """One hop of the number's conversation, its session locked; ``advance`` moves it and returns
    (session, call, reply)."""
    e164, contact_key = caller(ctx, phone)
    store, engine = ctx.services.sms_sessions, ctx.services.engine
    key = f"sms:{contact_key}"
    with store.lock(key):
        session, call, reply = advance(engine, store.get(key), lambda: new_session(ctx, db, contact_key),
                                       lambda s: make_call(ctx, db, e164, s, "sms"))
        queue_outgoing(ctx, db, call)
        if reply.end:
            store.drop(key)
        else:
            store.put(key, session)
    return [reply.text]
