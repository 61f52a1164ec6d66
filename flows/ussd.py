"""USSD transport: one request per hop, from any aggregator, into the engine."""
from __future__ import annotations

import logging

from flows.calls import BadCall, caller, make_call, new_session, queue_outgoing
from flows.engine import Reply
from flows.sessions import SessionsUnavailable
from messages import i18n
from messages.segments import fold

log = logging.getLogger(__name__)

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
    try:
        return _hop(ctx, channel, session_id, e164, contact_key, text, input_mode)
    except SessionsUnavailable as e:  # Valkey down ([sessions] url): a short "try again", never a 500
        log.error("sessions unavailable, a USSD caller was asked to try again: %s", e)
        return try_again(ctx, contact_key)


def try_again(ctx, contact_key: str) -> Reply:
    """The END screen of a hop that could not reach its session, in the caller's language if the line knows it."""
    lang = new_session(ctx, ctx.db(), contact_key).lang
    text = i18n.t(lang, "sessions.try_again")
    return Reply(fold(text) if lang in ctx.config["ussd"]["fold_accents"] else text, end=True)


def _hop(ctx, channel: str, session_id: str, e164: str, contact_key: str, text: str, input_mode: str):
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
    try:
        ctx.services.ussd_sessions.drop(f"{channel}:{session_id}")
    except SessionsUnavailable:  # Valkey down: the session expires there on its own
        log.warning("sessions unavailable: an ended USSD session is left to expire")
