"""Small pieces every channel's webhooks share."""
from __future__ import annotations

import json

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


def storable(data) -> bool:
    """False for parsed JSON holding a lone surrogate (a "\\ud800" escape is valid JSON): no UTF-8 database,
    log or reply can hold it, so such a body is treated as malformed rather than failing later with a 500."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return False
    return True
