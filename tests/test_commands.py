"""What `dalil demo` tells a new user."""

from gateway.commands import _ussd_endpoints
from gateway.config import load


def test_demo_banner_says_where_to_dial_or_how_to_open_the_endpoint():
    closed = _ussd_endpoints(load({}), "http://127.0.0.1:8080", "/srv/dalil/dalil.toml")
    assert "set [channels.generic_ussd] token" in closed
    assert "in /srv/dalil/dalil.toml to open" in closed  # the file to edit, not a bare name
    opened = _ussd_endpoints(load({"channels": {"generic_ussd": {"token": "t0k"}}}), "http://127.0.0.1:8080",
                             "/srv/dalil/dalil.toml")
    assert opened.strip() == "USSD, any aggregator:     http://127.0.0.1:8080/hooks/ussd/t0k"
