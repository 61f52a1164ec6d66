"""Long work started from the console (an import, a campaign being queued), run in a thread with its progress.

A job reports ``progress(done, total, step_key)``; its page polls ``/console/jobs/<id>/progress`` (and refreshes
itself when JavaScript is off). Jobs live in memory: a restart forgets them, not the work they did. A job's page
is for the user who started it (and administrators).
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import abort, current_app, g, jsonify, url_for

from gateway.context import dalil
from gateway.console import bp, ui
from gateway.store import close_thread_connections

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600
MAX_JOBS = 200


@dataclass
class Job:
    id: str
    kind: str            # catalog key suffix: console.jobs.kind.<kind>
    owner: int
    started: float = field(default_factory=time.time)
    state: str = "running"   # running | done | failed
    done: int = 0
    total: int = 1
    step: str = "console.jobs.step.start"
    step_values: dict = field(default_factory=dict)
    result: Any = None
    error_key: str | None = None
    error_detail: str | None = None
    next_url: str | None = None

    def progress(self, done: int, total: int, step: str, /, **values) -> None:
        self.done, self.total, self.step, self.step_values = done, max(total, 1), step, values

    def percent(self) -> int:
        return 100 if self.state == "done" else int(100 * min(self.done, self.total) / self.total)


class JobFailed(Exception):
    """Raised by a job's work: a clear reason (catalog key) and, optionally, a technical detail to show.
    A job runs outside any request: it reports keys and raw values, the page translates and formats them."""

    def __init__(self, key: str, detail: str | None = None):
        super().__init__(key)
        self.key, self.detail = key, detail


def _registry() -> dict[str, Job]:
    return dalil().services.console_jobs


def start(kind: str, work: Callable[[Job], Any], next_endpoint: str | None = None,
          next_url: str | None = None) -> Job:
    """Run work(job) in a thread inside the app context; returns at once. The job page links to next_url
    (or next_endpoint) when the work is over."""
    jobs = _registry()
    lock = dalil().services.console_jobs_lock
    job = Job(id=secrets.token_urlsafe(12), kind=kind, owner=g.user["id"])
    job.next_url = next_url or (url_for(next_endpoint) if next_endpoint else None)
    with lock:
        cutoff = time.time() - KEEP_SECONDS
        for old in [j for j in jobs.values() if j.state != "running" and j.started < cutoff]:
            jobs.pop(old.id, None)
        if len(jobs) >= MAX_JOBS:
            for old in sorted((j for j in jobs.values() if j.state != "running"), key=lambda j: j.started):
                jobs.pop(old.id, None)
                if len(jobs) < MAX_JOBS:
                    break
        jobs[job.id] = job
    app = current_app._get_current_object()

    def run():
        with app.app_context():
            try:
                job.result = work(job)
                job.state = "done"
            except JobFailed as e:
                job.state, job.error_key, job.error_detail = "failed", e.key, e.detail
            except Exception:
                log.exception("console: job %s (%s) failed", job.id, job.kind)
                job.state, job.error_key = "failed", "console.jobs.failed_unexpected"
            finally:
                close_thread_connections()

    threading.Thread(target=run, name=f"console-job-{kind}", daemon=True).start()
    return job


def get(job_id: str) -> Job:
    job = _registry().get(job_id)
    if job is None:
        abort(404)
    if job.owner != g.user["id"] and g.user["role"] != "admin":
        abort(403)
    return job


def as_dict(job: Job) -> dict:
    return {"state": job.state, "percent": job.percent(), "done": job.done, "total": job.total,
            "step": ui.t(job.step, **{k: ui.number(v) if isinstance(v, (int, float)) else v
                                      for k, v in job.step_values.items()}),
            "error": ui.t(job.error_key) if job.error_key else None, "detail": job.error_detail,
            "result": job.result if isinstance(job.result, (dict, list, str, int, float, type(None))) else None}


@bp.get("/jobs/<job_id>")
def job_page(job_id: str):
    job = get(job_id)
    return ui.render("job.html", job=job, info=as_dict(job))


@bp.get("/jobs/<job_id>/progress")
def job_progress(job_id: str):
    return jsonify(as_dict(get(job_id)))
