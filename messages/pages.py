"""The headers every page Dalil serves to a browser carries: the staff console's and the CSO desk's."""
from __future__ import annotations

# nothing from another origin, no inline script or style: the pages work offline and resist injected markup
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def secure(response, *, static: bool, referrer: str = "same-origin"):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", referrer)
    response.headers.setdefault("X-Frame-Options", "DENY")
    if not static:
        response.headers.setdefault("Cache-Control", "no-store")  # a page may show a phone number or a note
    return response
