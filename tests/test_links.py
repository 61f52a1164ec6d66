"""Links that say when they are down: a Kannel route silent past its limit shows as down on the dashboard and in
`dalil status`, staff get an SMS through another route (Twilio here, faked on loopback), and again when a message
comes in and the link is back. Each change is told once."""
from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from fakes import FakeTwilio
from gateway import create_app, health
from gateway.cli import main
from gateway.dispatcher import Dispatcher
from gateway.store import close_thread_connections
from messages.segments import count
from test_console_support import add_accounts, signed_in

TOKEN = "kannel-hook-5b1e"
STAFF = "+21698000111"


@pytest.fixture
def twilio():
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def app(make_config, twilio, tmp_path):
    cfg = make_config(
        channels={"kannel": {"enabled": True, "sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
                             "username": "dalil", "webhook_token": TOKEN},
                  "twilio": twilio.channel_config(timeout_seconds=2.0),
                  "africastalking": {"enabled": False}},
        dispatcher={"routes": [["+216", "kannel"]]},
        links={"silent_after": {"kannel": 30, "twilio": 600}, "alert_numbers": [STAFF]})
    app = create_app(cfg)
    add_accounts(app)
    yield app
    close_thread_connections()


def ctx_of(app):
    return app.extensions["dalil"]


def send_alerts(app, now: float, monkeypatch) -> None:
    """The dispatcher's pass at ``now``: it looks at the links, then sends what that queued."""
    monkeypatch.setattr(time, "time", lambda: now)
    try:
        Dispatcher(ctx_of(app)).run_once()
    finally:
        monkeypatch.undo()


def status_output(app, tmp_path, now: float, monkeypatch) -> str:
    cfg = ctx_of(app).config
    (tmp_path / "dalil.toml").write_text(
        f'[gateway]\ndatabase = "{cfg["gateway"]["database"]}"\nkeys_dir = "{cfg["gateway"]["keys_dir"]}"\n'
        f'log_file = "{tmp_path / "cli.log"}"\n'
        f'[channels.kannel]\nenabled = true\nusername = "dalil"\nwebhook_token = "{TOKEN}"\n'
        f'[channels.africastalking]\nenabled = false\n'
        f'[links]\nsilent_after = {{kannel = 30}}\n')
    monkeypatch.setattr(time, "time", lambda: now)
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "dalil.toml"), "status"])
    monkeypatch.undo()
    assert result.exit_code == 0, result.output
    return result.output


def test_a_silent_link_raises_one_alert_and_clears_it_when_it_speaks(app, twilio, tmp_path, monkeypatch):
    ctx = ctx_of(app)
    start = time.time()
    send_alerts(app, start, monkeypatch)  # starts watching: nothing heard yet, nothing said
    assert twilio.messages == []
    assert health.links(ctx.db(), ctx.config, start + 29 * 60)["kannel"]["down"] is False

    later = start + 31 * 60
    send_alerts(app, later, monkeypatch)
    alerts = [m for m in twilio.messages if m["to"] == STAFF]
    assert len(alerts) == 1 and "kannel" in alerts[0]["body"] and "31" in alerts[0]["body"]
    assert count(alerts[0]["body"]).segments == 1
    assert "LINK DOWN: kannel silent for 31m" in status_output(app, tmp_path, later, monkeypatch)
    monkeypatch.setattr(time, "time", lambda: later)
    page = signed_in(app, "staff").get("/console/dashboard").text
    monkeypatch.undo()
    assert 'class="link-down"' in page and "Down: silent for 31 min" in page

    send_alerts(app, later + 60, monkeypatch)  # still down: nobody is told twice
    assert len([m for m in twilio.messages if m["to"] == STAFF]) == 1

    monkeypatch.setattr(time, "time", lambda: later + 120)
    response = app.test_client().post(f"/hooks/kannel/{TOKEN}/sms?id=k-back-1&from=%2B21620111222&to=1800",
                                      data=b"HELP", headers={"Content-Type": "text/plain; charset=UTF-8"})
    monkeypatch.undo()
    assert response.status_code == 200
    back = later + 121
    send_alerts(app, back, monkeypatch)
    alerts = [m for m in twilio.messages if m["to"] == STAFF]
    assert len(alerts) == 2 and "kannel" in alerts[1]["body"] and alerts[1]["body"] != alerts[0]["body"]
    assert "link up: kannel" in status_output(app, tmp_path, back, monkeypatch)

