"""The campaign scheduler: APScheduler in a background thread of `dalil serve`, one date job per scheduled
campaign at its ``next_run_at`` (why the schedule is kept as data, not in APScheduler: messages/schedule.py),
and a job at the start of quiet hours that makes queued blasts wait for their end."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from messages import campaigns
from messages.campaigns import store
from messages.campaigns.model import quiet_hours
from messages.quiet import zone

log = logging.getLogger(__name__)


class CampaignScheduler:
    """APScheduler in a background thread of `dalil serve`; see messages/schedule.py for what it keeps."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.tz_name = ctx.config["gateway"]["timezone"]
        self.quiet = quiet_hours(ctx.config)
        # one worker: two runs queueing at once would only wait on each other for SQLite's write lock
        self.scheduler = BackgroundScheduler(timezone=zone(self.tz_name),
                                             executors={"default": ThreadPoolExecutor(1)},
                                             job_defaults={"coalesce": True, "max_instances": 1})
        # APScheduler's shutdown(wait=True) waits for a running job while holding its job-store lock, which sync()
        # needs (get_jobs, add_job): a stop during a sync hung for ever. stop() waits on this lock instead, and a
        # job that starts after it returns at once.
        self._busy = threading.RLock()
        self._stopping = False

    def start(self) -> "CampaignScheduler":
        self.scheduler.start()
        settings = self.ctx.config["campaigns"]
        self.scheduler.add_job(self.sync, "interval", seconds=settings["check_seconds"], id="campaigns:sync",
                               next_run_time=datetime.now(zone(self.tz_name)))
        if self.quiet.start != self.quiet.end:
            self.scheduler.add_job(self.quiet_hours_began, CronTrigger(
                hour=self.quiet.start.hour, minute=self.quiet.start.minute, timezone=zone(self.tz_name)),
                id="campaigns:quiet", misfire_grace_time=None)
            # started at night: blasts left from the day must wait too
            self.scheduler.add_job(self.quiet_hours_began, id="campaigns:quiet-at-start")
        log.info("campaign scheduler started")
        return self

    def stop(self) -> None:
        with self._busy:  # a running job finishes first; later ones see _stopping
            self._stopping = True
        self.scheduler.shutdown(wait=True)
        log.info("campaign scheduler stopped")

    def job_times(self) -> dict[str, float]:
        return {job.id: job.next_run_time.timestamp() for job in self.scheduler.get_jobs()
                if job.id.startswith("campaign:") and job.next_run_time}

    def sync(self) -> None:
        """One date job per scheduled campaign, at its next_run_at; stale jobs removed."""
        with self._busy:
            if not self._stopping:
                self._sync()

    def _sync(self) -> None:
        try:
            wanted = {f"campaign:{cid}": (cid, due) for cid, due in store.scheduled_times(self.ctx.db())}
            for job in self.scheduler.get_jobs():
                if job.id.startswith("campaign:") and (job.id not in wanted or
                                                        abs(job.next_run_time.timestamp() - wanted[job.id][1]) > 0.001):
                    job.remove()
            registered = {job.id for job in self.scheduler.get_jobs()}
            for job_id, (cid, due) in wanted.items():
                if job_id not in registered:
                    # no APScheduler grace: a late run reaches run_scheduled, which applies ours and logs
                    run_date = datetime.fromtimestamp(due, zone(self.tz_name))
                    self.scheduler.add_job(self.fire, "date", run_date=run_date, args=[cid], id=job_id,
                                           misfire_grace_time=None)
        except Exception:
            log.exception("campaign scheduler: sync failed; next try in %ss",
                          self.ctx.config["campaigns"]["check_seconds"])

    def fire(self, campaign_id: int) -> None:
        with self._busy:
            if not self._stopping:
                self._fire(campaign_id)

    def _fire(self, campaign_id: int) -> None:
        try:
            campaigns.run_scheduled(self.ctx, self.ctx.db(), campaign_id, time.time())
        except Exception:
            log.exception("campaign %s: scheduled run failed", campaign_id)
        self.sync()

    def quiet_hours_began(self) -> None:
        with self._busy:
            if not self._stopping:
                self._quiet_hours_began()

    def _quiet_hours_began(self) -> None:
        try:
            moved = campaigns.defer_for_quiet_hours(self.ctx, self.ctx.db(), time.time())
            if moved:
                log.info("quiet hours: %d queued blast message(s) wait until they end", moved)
        except Exception:
            log.exception("quiet hours: deferring queued blasts failed")
