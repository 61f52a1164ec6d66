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
