"""Every channel's webhooks, case by case from the recorded requests in tests/payloads/*_webhooks.json,
kannel_callbacks.json and generic_ussd_requests.json, through the one runner (tests/handler_cases.py): good
requests are answered as the provider expects and handled once however often it re-sends them; bad ones (wrong
token, secret or signature, missing fields, a bad number, undecodable bytes) answer 4xx with the reason and
store nothing, never 5xx. Sending, and scenarios over several requests, are in tests/test_channel_<name>.py."""
from __future__ import annotations

import pytest

from gateway import create_app
from gateway.store import close_thread_connections
from handler_cases import PUBLIC, case_file, run_case, webhook_channels, with_defaults

FILES = ("twilio_webhooks.json", "africastalking_webhooks.json", "generic_ussd_requests.json",
         "smssync_webhooks.json", "kannel_callbacks.json")
CASES = [(name, case) for name in FILES for case in case_file(name)["cases"]]


@pytest.fixture
def app(make_config):
    """Every channel on, each as its provider's webhooks find it."""
    app = create_app(make_config(
        gateway={"public_url": PUBLIC},
        channels={**webhook_channels(),
                  "kannel": {"enabled": True, "sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms",
                             "username": "dalil", "password": "pw", "webhook_token": "kannel-hook-5b1e"}}))
    yield app
    close_thread_connections()


@pytest.mark.parametrize("file, case", CASES, ids=[f"{f.split('_')[0]}: {c['name']}" for f, c in CASES])
def test_webhook(app, caplog, file, case):
    spec = case_file(file)
    run_case(app.test_client(), app.extensions["dalil"].db(), with_defaults(case, channel=spec["channel"]),
             spec["base"], spec.get("token", ""), caplog)
