"""The soak in a short form (bench/soak.py has the long one): the real server in its own process, USSD callers,
inbound SMS with re-sends and a campaign all at once, then the count. Nothing may be lost or sent twice, no
request may fail, and the server's log must hold no error."""
from __future__ import annotations

import importlib.util
import sys

import pytest

from test_fuzz_support import ROOT

pytestmark = pytest.mark.slow  # a soak: the real server under load for seconds


def load_soak():
    spec = importlib.util.spec_from_file_location("soak", ROOT / "bench" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # multiprocessing finds the fake's target by module name
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_loses_nothing(record_property):
    soak = load_soak()
    r = soak.run(duration=8, sessions=60, sms_per_second=8, campaign=3000, drain=30, seed=7, quiet=True)
    # the figures show in CI's output, at the end of the run (conftest.py)
    record_property("figures", f"short soak: {r['hops']} USSD hops from {r['sessions']} callers, {r['hops_per_s']} "
                    f"hops/s, p99 {r['p99_ms']} ms; {r['inbound_sms_handled']} SMS handled; {r['messages_delivered']} "
                    f"messages to the provider; lost {r['lost']}; duplicates {r['duplicates']}; errors "
                    f"{r['error_count']}; server peak {r['server_peak_memory_mb']} MB")
    assert r["hops"] > 500 and r["sms_posted"] > 20, r
    assert r["campaign_queued"] == 3000 and r["campaign_received"] >= 3000, r
    assert r["replies_queued"] >= r["inbound_sms_handled"] > 0, r  # every SMS handled queued its reply
    assert r["lost"] == 0, r
    assert r["duplicates"] == 0, r
    assert r["error_count"] == 0, r["errors"]
    assert set(r["outbox"]) == {"sent"}, r["outbox"]
    assert 0 < r["server_peak_memory_mb"] < 400, r
