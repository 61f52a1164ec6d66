"""Subscribers: find one by number, read their consent history, opt them out when they ask.

The number travels in a POST body, never in a URL (URLs end up in browser history and proxy logs), and is never
logged. Pages that show it are sent with Cache-Control: no-store.
"""
from __future__ import annotations

import logging

from flask import g, request

from flows import directory as dirmod
from gateway import contacts
from gateway.context import dalil
from gateway.console import bp, ui
from messages import subscribers as subs

log = logging.getLogger(__name__)


def _history(db, phone: str) -> list[dict]:
    return list(reversed(subs.consent_history(db, phone)))  # newest first


def _summary(db) -> dict:
    counts = subs.counts(db)
    return {"active": counts.get("status:active", 0), "opted_out": counts.get("status:opted_out", 0)}


def _lookup(raw: str, errors: ui.Errors) -> tuple[str | None, dict | None]:
    raw = (raw or "").strip()
    if not raw:
        errors.add("phone", "console.form.required")
        return None, None
    try:
        e164 = contacts.normalize(raw[:40], dalil().config["sms"]["default_region"])
    except contacts.BadNumber:
        errors.add("phone", "console.form.phone")
        return None, None
    return e164, subs.get(dalil().db(), e164)


def _page(status: int = 200, **context):
    db = dalil().db()
    governorates = {gv["code"]: ui.text_of(gv["name"]) for gv in dirmod.governorates(db)}
    terms = {term["code"]: ui.text_of(term["name"]) for term in dirmod.taxonomy(db)}
    context.setdefault("errors", ui.Errors())
    return ui.render("subscribers.html", status, summary=_summary(db), governorates=governorates, terms=terms,
                     **context)


@bp.get("/subscribers")
@ui.area("subscribers")
def subscribers():
    return _page()


@bp.post("/subscribers")
@ui.area("subscribers")
def subscriber_search():
    errors = ui.Errors()
    e164, found = _lookup(request.form.get("phone", ""), errors)
    if errors:
        return _page(422, errors=errors, phone=request.form.get("phone", ""))
    history = _history(dalil().db(), e164) if found else []
    return _page(searched=True, phone=e164, found=found, history=history)


@bp.post("/subscribers/opt-out")
@ui.area("subscribers")
def subscriber_opt_out():
    errors = ui.Errors()
    e164, found = _lookup(request.form.get("phone", ""), errors)
    if errors or found is None:
        errors.add("phone", "console.subscribers.not_found")
        return _page(422, errors=errors)
    db = dalil().db()
    done = False
    if found["status"] != "opted_out":
        done = subs.opt_out(db, e164, channel="console", via="staff request")
        log.info("console: %s opted out subscriber #%d on their request", g.user["username"], found["id"])
    found = subs.get(db, e164)
    return _page(searched=True, phone=e164, found=found, history=_history(db, e164), opted_out=done)
