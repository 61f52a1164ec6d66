"""The actions the "Get help" flow (flows/definitions/help.toml) calls.

The answers (need, area, nationality, status, note) live in the session's vars, in memory. They reach storage
only through referral.submit, sealed, after the consent screen: every other path (No, Back, a dropped USSD
session) leaves nothing behind.
"""
from __future__ import annotations

from flows.actions import Call, action
from referrals import csos, erasure, intake, store
from referrals.keyring import coordinator_key

NEED_VAR, GOV_VAR, DELEG_VAR = "help_need", "help_gov", "help_deleg"
ANSWER_VARS = {"nationality": "help_nationality", "status": "help_status"}
NOTE_VAR = "help_note"
SKIP_NOTE = {"1", "-", "."}  # the note screen says "send 1 to skip"
PRIVATE_VARS = (NOTE_VAR, *ANSWER_VARS.values(), DELEG_VAR, "help_cso")


@action("referral.skip_delegation")
def skip_delegation(call: Call) -> str | None:
    """A person who would not say their governorate is not asked for a delegation."""
    return None if call.vars.get(GOV_VAR) else "help_nationality"


@action("referral.route")
def route(call: Call) -> str | None:
    """Pick the CSO before asking consent, so the consent screen can name it."""
    need = call.vars.get(NEED_VAR)
    if not call.ctx.config["referrals"]["enabled"] or need not in csos.NEEDS:
        return "help_none"
    cso = csos.route(call.db, need, call.vars.get(GOV_VAR) or None, call.vars.get(DELEG_VAR) or None,
                     coordinator_key(call.ctx))
    if cso is None:
        return "help_none"
    call.vars["help_cso"], call.vars["org"] = cso["id"], cso["name"]
    return None


@action("referral.submit")
def submit(call: Call) -> str:
    """Consent given: seal, store, log, queue the reference SMS. A repeated hop does not make a second one."""
    if call.vars.get("code"):
        return "help_done"
    cso = store.get_cso(call.db, call.vars.get("help_cso") or "")
    if cso is None or not cso["active"] or not csos.valid(call.db, cso, coordinator_key(call.ctx)):
        return "help_none"
    note = (call.vars.get(NOTE_VAR) or "").strip()
    submitted = intake.submit(
        call.ctx, call.db, cso, phone=call.phone, lang=call.lang, channel=call.channel,
        need=call.vars[NEED_VAR], governorate=call.vars.get(GOV_VAR) or None,
        delegation=call.vars.get(DELEG_VAR) or None,
        answers={k: call.vars.get(v) or "" for k, v in ANSWER_VARS.items()},
        note="" if note in SKIP_NOTE else note,
    )
    for var in PRIVATE_VARS:  # sealed now: no reason to keep them even in memory
        call.vars.pop(var, None)
    call.vars.update(code=submitted.code, org=submitted.org, contact=submitted.contact)
    call.send_sms(intake.person_sms(call.lang, submitted), kind="reply", sensitive=True)
    return "help_done"


@action("referral.erase")
def erase(call: Call) -> str:
    erasure.request(call.ctx, call.db, call.phone, call.contact_key)
    return "help_erased"
