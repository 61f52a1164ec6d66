"""Hooks the gateway calls around `dalil serve`: the job that closes polls whose last day has passed and, while
a poll is open, truncates the WAL (polls.lifecycle.housekeeping)."""
from __future__ import annotations

JOB_ID = "polls-close"
SERVICE = "polls_scheduler"  # the field of gateway.context.Services


def close_due_now(ctx) -> list[int]:
    from polls import lifecycle
    return lifecycle.housekeeping(ctx, ctx.db())


def start_background(app) -> None:
    from gateway import periodic
    periodic.every(app, SERVICE, JOB_ID, close_due_now, app.extensions["dalil"].config["polls"]["close_check_minutes"])


def stop_background(app) -> None:
    from gateway import periodic
    periodic.stop(app, SERVICE)
