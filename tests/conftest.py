"""Shared fixtures: a real SQLite file in a temp folder, the real app, and the real app behind waitress on loopback."""
from __future__ import annotations

import pytest

from gateway import create_app
from gateway.store import close_thread_connections
from harness import BASE_CONFIG, LiveServer, deep_merge


@pytest.fixture
def make_config(tmp_path):
    def make(**sections) -> dict:
        cfg = deep_merge(BASE_CONFIG, sections)
        gw = cfg.setdefault("gateway", {})
        gw.setdefault("database", str(tmp_path / "dalil.db"))
        gw.setdefault("keys_dir", str(tmp_path / "keys"))
        gw.setdefault("log_file", str(tmp_path / "dalil.log"))
        return cfg
    return make


@pytest.fixture
def config(make_config):
    return make_config()


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    close_thread_connections()


@pytest.fixture
def demo_app(app):
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live(demo_app):
    with LiveServer(demo_app) as server:
        yield server


@pytest.fixture
def at_fake():
    """A fake Africa's Talking on loopback (tests/fakes.py)."""
    from fakes import FakeAfricasTalking
    with FakeAfricasTalking() as fake:
        yield fake
