"""Hooks the gateway calls around `dalil serve`: the job that closes polls whose last day has passed and, while
a poll is open, truncates the WAL (polls.lifecycle.housekeeping)."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)
JOB_ID = "polls-close"


def close_due_now(ctx) -> list[int]:
    from gateway.store import close_thread_connections
    from polls import lifecycle
    try:
        return lifecycle.housekeeping(ctx, ctx.db())
    except Exception:  # a failed run must not kill the scheduler; the next run retries
        log.exception("polls: closing run failed")
        return []
    finally:
        close_thread_connections()  # the scheduler's worker thread owns this connection


def start_background(app) -> None:
    from datetime import datetime, timezone

    from apscheduler.schedulers.background import BackgroundScheduler
    ctx = app.extensions["dalil"]
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(close_due_now, "interval", args=[ctx], id=JOB_ID, next_run_time=datetime.now(timezone.utc),
                      minutes=ctx.config["polls"]["close_check_minutes"], coalesce=True, max_instances=1)
    scheduler.start()
    ctx.services["polls.scheduler"] = scheduler


def stop_background(app) -> None:
    scheduler = app.extensions["dalil"].services.pop("polls.scheduler", None)
    if scheduler is not None:
        scheduler.shutdown(wait=True)
