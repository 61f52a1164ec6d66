"""Background work that runs inside `dalil serve`: the dispatcher and each package's scheduled jobs."""
from __future__ import annotations


def _packages():
    from gateway import dispatcher
    from jobs import runtime as jobs_runtime
    from messages import runtime as messages_runtime
    from polls import runtime as polls_runtime
    from referrals import runtime as referrals_runtime
    return (dispatcher, messages_runtime, referrals_runtime, polls_runtime, jobs_runtime)


def start_background(app) -> None:
    for package in _packages():
        package.start_background(app)


def stop_background(app) -> None:
    for package in _packages():
        package.stop_background(app)


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
