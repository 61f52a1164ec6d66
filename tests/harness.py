"""What tests share besides fixtures: the live server on loopback, the base config, the recorded payloads.

Imported as ``from harness import ...``; a module named conftest would be ambiguous once a sub-folder of tests
has its own conftest.py.
"""
from __future__ import annotations

import copy
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
