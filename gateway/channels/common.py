"""Small pieces every channel's webhooks share."""
from __future__ import annotations

from flask import Response, abort


def required_fields(form, *names: str) -> dict[str, str]:
    """The named fields, or 400 naming the missing ones (never a KeyError and a 500)."""
    missing = [n for n in names if not (form.get(n) or "").strip()]
    if missing:
        abort(400, description=f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    return {n: form[n].strip() for n in names}


def ussd_response(reply, continue_marker: str, end_marker: str) -> Response:
    marker = end_marker if reply.end else continue_marker
    return Response(marker + reply.text, mimetype="text/plain", headers={"Cache-Control": "no-store"})
