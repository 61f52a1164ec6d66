"""The staff console: server-rendered pages for administrators, campaign staff and the municipality.

Everything it serves comes from Dalil itself (CSS, a little vanilla JavaScript, charts drawn as inline SVG on
the server, system fonts): it works on an office network without internet. One module per area; ``ui`` holds
the roles and areas, ``auth`` sessions, CSRF and error pages, ``users`` the accounts and the login rate limit.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static")

# each module adds its routes to bp
from gateway.console import (  # noqa: E402,F401
    accounts, auth, campaigns, dashboard, directory, flows, jobs, reports, simulator, subscribers,
)

# Other packages' console pages: blueprints nested under this one, so they share its sign-in, CSRF check,
# headers and error pages.
from jobs import console as jobs_console  # noqa: E402
from polls import console as polls_console  # noqa: E402

bp.register_blueprint(polls_console.bp)
bp.register_blueprint(jobs_console.bp)

__all__ = ["bp"]
