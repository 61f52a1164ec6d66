"""USSD transport: one request per hop, from any aggregator, into the engine."""
from __future__ import annotations

from flows.calls import BadCall, caller, make_call, new_session, queue_outgoing

MAX_SESSION_ID = 200


def _new_input(session, text: str, input_mode: str) -> str | None:
    """The caller's latest answer. With cumulative input ("1*2*3") the new part is what follows the parts
    already read; if the caller typed a '*' themselves it arrives as more than one part, joined back here."""
    if input_mode == "last":
        return text
    parts = text.split("*") if text else []
    new = parts[session.consumed:]
    session.consumed = len(parts)
    return "*".join(new) if new else None


def hop(ctx, *, channel: str, session_id: str, phone: str, text: str, input_mode: str):
    if len(session_id) > MAX_SESSION_ID:
        raise BadCall(f"sessionId longer than {MAX_SESSION_ID} characters")
    e164, contact_key = caller(ctx, phone)
    store, engine, db = ctx.services.ussd_sessions, ctx.services.engine, ctx.db()
    places = ctx.services.ussd_resume
    key = f"{channel}:{session_id}"
    with store.lock(key):
        session = store.get(key)
        if session is not None and session.contact_key != contact_key:
            session = None  # another number reusing a session id gets its own session, never this one's answers
        # No transaction around the hop: most hops only read, and the few writes (language, a subscription,
        # a referral) are each atomic on their own; holding SQLite's write lock here would serialize callers.
        if session is None:
            # a first hop, or a session we never saw or forgot (restart): begin at the start screen
            session = new_session(ctx, db, contact_key)
            session.consumed = len(text.split("*")) if text and input_mode == "whole" else 0
            call = make_call(ctx, db, e164, session, "ussd")
            reply = engine.start(call, session, resume=places.take(contact_key))
        else:
            answer = _new_input(session, text, input_mode)
            call = make_call(ctx, db, e164, session, "ussd")
            reply = engine.render(call, session) if answer is None else engine.step(call, session, answer)
        queue_outgoing(ctx, db, call)
        if reply.end:
            store.drop(key)
        else:
            store.put(key, session)
        places.keep(contact_key, None if reply.end else engine.place(session))
    return reply


def end(ctx, *, channel: str, session_id: str) -> None:
    ctx.services.ussd_sessions.drop(f"{channel}:{session_id}")
