"""Hooks the gateway calls: at app creation, and around `dalil serve` (the expiry job)."""
from __future__ import annotations

import logging

from referrals import notices, relay, witness

from referrals.protocol import note
from referrals.keyring import coordinator_key, gateway_key

log = logging.getLogger(__name__)
JOB_ID = "referrals-expiry"
CHECKPOINT_JOB_ID = "referrals-checkpoint"
NOTICE_JOB_ID = "referrals-notices"


def init_app(app) -> None:
    ctx = app.extensions["dalil"]
    gateway_key(ctx)  # load (or create) the signing key once, before the first request
    coordinator_key(ctx)  # a malformed [referrals] coordinator_key stops the start, naming the key
    note.check_name(ctx.config["referrals"]["log_origin"])
    cfg = ctx.config["referrals"]
    if cfg["ask_optional_questions"] and not cfg["sms_held_by_csos"]:
        log.warning("[referrals] ask_optional_questions is on without sms_held_by_csos: the USSD aggregator and the "
                    "SMS provider's account holder will see every nationality, situation and note")


def checkpoint_now(ctx) -> None:
    """The scheduled checkpoint: signed only when the log grew, so its cadence, not each event, is public."""
    from gateway.store import close_thread_connections
    try:
        relay.checkpoint_due(ctx, ctx.db(), force=True)
    except Exception:  # a failed run must not kill the scheduler; the next run retries
        log.exception("referrals: checkpoint signing failed")
    finally:
        close_thread_connections()


def status_section(ctx) -> tuple[str, dict, list[str]]:
    """`dalil status`: the log's checkpoint and how many desks cosigned which size."""
    data = witness.status(ctx.db(), coordinator_key(ctx))
    cosigned = "; ".join(f"{c['desks']} desk(s) cosigned size {c['size']}" for c in data["cosigned"])
    return "referral_log", data, [f"Referral log: {data['log_size']} entries, checkpoint at size "
                                  f"{data['checkpoint_size']}; " + (cosigned or "no desk has cosigned yet")]


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


def flush_now(ctx) -> int:
    from gateway.store import close_thread_connections
    try:
        return notices.flush(ctx, ctx.db())
    except Exception:  # the counts stay in memory only if the write failed before the pop; the next run retries
        log.exception("referrals: digest run failed")
        return 0
    finally:
        close_thread_connections()


def start_background(app) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler
    ctx = app.extensions["dalil"]
    scheduler = BackgroundScheduler(timezone="UTC")
    # runs once at start (a gateway that was off for days catches up), then every expiry_check_minutes
    scheduler.add_job(expire_now, "interval", args=[ctx], id=JOB_ID, next_run_time=_soon(),
                      minutes=ctx.config["referrals"]["expiry_check_minutes"], coalesce=True, max_instances=1)
    scheduler.add_job(checkpoint_now, "interval", args=[ctx], id=CHECKPOINT_JOB_ID, next_run_time=_soon(),
                      minutes=max(ctx.config["referrals"]["checkpoint_minutes"], 1.0),  # 0: each desk sync signs
                      coalesce=True, max_instances=1)
    window = ctx.config["referrals"]["notice_window_minutes"] * 60
    # once per window on average, each run moved by up to half a window either way: a random moment in it
    scheduler.add_job(flush_now, "interval", args=[ctx], id=NOTICE_JOB_ID, seconds=window, jitter=window // 2,
                      coalesce=True, max_instances=1)
    scheduler.start()
    ctx.services.referrals_scheduler = scheduler


def stop_background(app) -> None:
    services = app.extensions["dalil"].services
    scheduler, services.referrals_scheduler = services.referrals_scheduler, None
    if scheduler is not None:
        scheduler.shutdown(wait=True)
        flush_now(app.extensions["dalil"])  # the counts held in memory go to the counters before the process ends


def _soon():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc)
