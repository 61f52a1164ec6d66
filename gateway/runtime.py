"""Background work that runs inside `dalil serve`: each package's start/stop hooks."""
from __future__ import annotations

import importlib

RUNTIME_MODULES = ("gateway.dispatcher", "messages.runtime", "referrals.runtime", "polls.runtime", "jobs.runtime")


def _hooks(name: str):
    for module_name in RUNTIME_MODULES:
        yield getattr(importlib.import_module(module_name), name)


def start_background(app) -> None:
    for hook in _hooks("start_background"):
        hook(app)


def stop_background(app) -> None:
    for hook in _hooks("stop_background"):
        hook(app)
