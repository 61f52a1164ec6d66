"""Periodic jobs of the packages inside `dalil serve` (polls closing, jobs housekeeping): each on its own
APScheduler, started and stopped by the package's runtime module."""
from __future__ import annotations


def every(app, service: str, job_id: str, run, minutes: float) -> None:
    """A package's periodic job in `dalil serve`: ``run(ctx)`` now and every ``minutes``, one at a time, on its own
    APScheduler, kept for stop in the field of ctx.services named ``service`` (gateway.context.Services). A failed
    run is logged and the next one retries; the worker thread's database connection is closed after each run."""
    import logging
    from datetime import datetime, timezone

    from apscheduler.schedulers.background import BackgroundScheduler

    from gateway.store import close_thread_connections
    log = logging.getLogger(run.__module__)

    def guarded(ctx):
        try:
            return run(ctx)
        except Exception:  # a failed run must not kill the scheduler; the next run retries
            log.exception("%s: run failed", job_id)
        finally:
            close_thread_connections()  # the scheduler's worker thread owns this connection

    ctx = app.extensions["dalil"]
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(guarded, "interval", args=[ctx], id=job_id, next_run_time=datetime.now(timezone.utc),
                      minutes=minutes, coalesce=True, max_instances=1)
    scheduler.start()
    setattr(ctx.services, service, scheduler)


def stop(app, service: str) -> None:
    services = app.extensions["dalil"].services
    scheduler = getattr(services, service)
    setattr(services, service, None)
    if scheduler is not None:
        scheduler.shutdown(wait=True)
