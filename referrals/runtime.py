"""Hooks the gateway calls: at app creation, and around `dalil serve` (the expiry job)."""
from __future__ import annotations

import logging

from referrals import relay
from referrals.keyring import gateway_key

log = logging.getLogger(__name__)
JOB_ID = "referrals-expiry"


def init_app(app) -> None:
    gateway_key(app.extensions["dalil"])  # load (or create) the signing key once, before the first request


def expire_now(ctx) -> int:
    from gateway.store import close_thread_connections
    try:
        n = relay.expire(ctx, ctx.db())
        if n:
            log.info("referrals: %d envelope(s) expired unfetched", n)
        return n
    except Exception:  # a failed run must not kill the scheduler; the next run retries
        log.exception("referrals: expiry run failed")
        return 0
    finally:
        close_thread_connections()  # the scheduler's worker thread owns this connection


def start_background(app) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler
    ctx = app.extensions["dalil"]
    scheduler = BackgroundScheduler(timezone="UTC")
    # runs once at start (a gateway that was off for days catches up), then every expiry_check_minutes
    scheduler.add_job(expire_now, "interval", args=[ctx], id=JOB_ID, next_run_time=_soon(),
                      minutes=ctx.config["referrals"]["expiry_check_minutes"], coalesce=True, max_instances=1)
    scheduler.start()
    ctx.services["referrals.scheduler"] = scheduler


def stop_background(app) -> None:
    scheduler = app.extensions["dalil"].services.pop("referrals.scheduler", None)
    if scheduler is not None:
        scheduler.shutdown(wait=True)


def _soon():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)
