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
PRIVATE_VARS = (NOTE_VAR, *ANSWER_VARS.values(), DELEG_VAR, "help_cso", "home")


@action("referral.offer_home")
def offer_home(call: Call) -> str | None:
    """Offer the caller's home governorate first; a caller who never gave one goes to the list."""
    home = call.vars.get("governorate")
    if not home:
        return "help_gov"
    from flows import directory
    call.vars["home"] = (directory.area_name(call.db, home) or {}).get(call.lang, home)
    return None


@action("referral.home_place")
def home_place(call: Call) -> None:
    call.vars[GOV_VAR] = call.vars.get("governorate") or ""


@action("referral.check_served")
def check_served(call: Call) -> str | None:
    """Whether an organisation serves this need there, said at once; then only what the settings turn on."""
    if route(call) == "help_none":
        return "help_none"
    return None if call.ctx.config["referrals"]["ask_optional_questions"] else "help_consent"


@action("referral.route")
def route(call: Call) -> str | None:
    """Pick the CSO before asking consent, so the consent screen can name it."""
    if call.vars.get("help_cso") and call.vars.get("org"):
        return None  # picked when the place was given (check_served)
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
    """Consent given: seal, store, log, queue the reference SMS (intake). A repeated hop does not make a second."""
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
    return "help_done"


@action("referral.erase")
def erase(call: Call) -> str:
    erasure.request(call.ctx, call.db, call.phone, call.contact_key)
    return "help_erased"
