"""Hooks the gateway calls around `dalil serve`: every [jobs] check_minutes, delete expired profiles and queue
the reminders and follow-ups that are due (jobs.matching.housekeeping)."""
from __future__ import annotations

SERVICE = "jobs_scheduler"  # the field of gateway.context.Services


def run_now(ctx) -> dict:
    from jobs import matching
    return matching.housekeeping(ctx, ctx.db())


def start_background(app) -> None:
    from gateway import periodic
    periodic.every(app, SERVICE, "jobs-housekeeping", run_now, app.extensions["dalil"].config["jobs"]["check_minutes"])


def stop_background(app) -> None:
    from gateway import periodic
    periodic.stop(app, SERVICE)
