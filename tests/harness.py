"""What tests share besides fixtures: the live server on loopback, the base config, the recorded payloads.

Imported as ``from harness import ...``; a module named conftest would be ambiguous once a sub-folder of tests
has its own conftest.py.
"""
from __future__ import annotations

import copy
import os
import random
import socket
import threading
from pathlib import Path

import requests
import waitress

PAYLOADS = Path(__file__).parent / "payloads"

BASE_CONFIG = {
    "gateway": {"threads": 8},
    "channels": {
        "africastalking": {"enabled": True, "username": "sandbox", "api_key": "test-key",
                           "webhook_token": "at-token-3f9a"},
        "generic_ussd": {"token": "agg-token-77"},
    },
    "dispatcher": {"enabled": False},
    # tests sign a checkpoint at each desk sync; tests/test_referral_attacks.py sets its own schedule
    "referrals": {"checkpoint_minutes": 0.0},
}


def _worker_index() -> int:
    """0, 1, ... for pytest-xdist's workers gw0, gw1, ...; 0 without xdist."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)


PORTS_PER_WORKER = 400
_next = random.randrange(PORTS_PER_WORKER)  # noqa: S311 (spreads two test runs on one machine, not a secret)


def free_port() -> int:
    """A free loopback port for a program a test starts (Kannel, gammu-smsd's peers, `dalil serve`).

    Each pytest-xdist worker draws from its own range below Linux's ephemeral ports (32768 and up), so a port found
    free here is not handed to another worker, nor to a client socket's connect(), before the program binds it.
    The start is random so that two test runs on one machine seldom walk the same ports."""
    global _next
    low = 20000 + _worker_index() % 30 * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port, _next = low + _next % PORTS_PER_WORKER, _next + 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {low}..{low + PORTS_PER_WORKER - 1}")


def deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class LiveServer:
    """The app served by waitress on 127.0.0.1, as `dalil serve` does."""

    def __init__(self, app):
        self.app = app
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8, asyncore_loop_timeout=0.1)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.session = requests.Session()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.session.close()
        channels = list(self.server._map.values())
        self.server._map.clear()  # waitress's loop runs while its socket map is non-empty: this ends it
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()
        for channel in channels:
            channel.close()

    def post(self, path, **kw):
        return self.session.post(self.url + path, timeout=10, **kw)

    def get(self, path, **kw):
        return self.session.get(self.url + path, timeout=10, **kw)
