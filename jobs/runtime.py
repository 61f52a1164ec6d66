"""Hooks the gateway calls around `dalil serve`: every [jobs] check_minutes, delete expired profiles and queue
the reminders and follow-ups that are due (jobs.matching.housekeeping)."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)
JOB_ID = "jobs-housekeeping"


def run_now(ctx) -> dict:
    from gateway.store import close_thread_connections
    from jobs import matching
    try:
        return matching.housekeeping(ctx, ctx.db())
    except Exception:  # a failed run must not kill the scheduler; the next run retries
        log.exception("jobs: housekeeping run failed")
        return {}
    finally:
        close_thread_connections()  # the scheduler's worker thread owns this connection


def start_background(app) -> None:
    from datetime import datetime, timezone

    from apscheduler.schedulers.background import BackgroundScheduler
    ctx = app.extensions["dalil"]
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(run_now, "interval", args=[ctx], id=JOB_ID, next_run_time=datetime.now(timezone.utc),
                      minutes=ctx.config["jobs"]["check_minutes"], coalesce=True, max_instances=1)
    scheduler.start()
    ctx.services["jobs.scheduler"] = scheduler


def stop_background(app) -> None:
    scheduler = app.extensions["dalil"].services.pop("jobs.scheduler", None)
    if scheduler is not None:
        scheduler.shutdown(wait=True)
