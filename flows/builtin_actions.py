"""Actions every flow can use: routing a first contact, and sending a service's detail by SMS."""
from __future__ import annotations

from flows.actions import Call, action


@action("contact.route")
def route_first_contact(call: Call) -> str:
    """Language first, then home governorate (to filter lists), then the main menu."""
    if not call.vars.get("language"):
        return "language"
    if not call.vars.get("governorate"):
        return "home_area"
    return "main"


@action("session.resume")
def resume_where_the_caller_was(call: Call) -> None:
    """Marks the option; the engine itself puts the session back where it was (it holds the place)."""
    return None


@action("service.sms")
def send_service_by_sms(call: Call) -> str | None:
    from flows.engine import service_text
    text = service_text(call.db, call.vars.get("service"), call.lang, call.vars.get("governorate") or None)
    if text is None:
        return "main"
    call.send_sms(text)
    return None
