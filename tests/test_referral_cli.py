"""The operator's and the caseworker's commands, end to end: keygen on the CSO's machine, add on the gateway,
connect and sync on the desk."""
from __future__ import annotations

import json
import re

from click.testing import CliRunner

from harness import LiveServer
from gateway.cli import main
from test_referral_support import refer


def test_keygen_add_list_connect_sync(app, tmp_path):
    gw = app.extensions["dalil"].config["gateway"]
    cfg = tmp_path / "dalil.toml"
    cfg.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n')
    run = lambda *args: CliRunner().invoke(main, ["--config", str(cfg), *args], catch_exceptions=False)  # noqa
    desk_home = tmp_path / "desk"

    out = run("cso", "keygen", "--home", str(desk_home))
    assert out.exit_code == 0
    public = re.search(r"dalil-cso-1:\S+", out.output).group(0)
    assert (desk_home / "cso.key").stat().st_mode & 0o777 == 0o600
    assert run("cso", "keygen", "--home", str(desk_home)).exit_code != 0  # never overwritten

    out = run("cso", "add", "amal", "--name", "Association Amal", "--contact", "+216 71 000 000",
              "--needs", "legal,health", "--areas", "kairouan,medenine", "--capacity", "5", "--public-key", public,
              "--caseworker-phone", "98 000 111")
    assert out.exit_code == 0, out.output
    connect = re.search(r"dalil desk connect .*", out.output).group(0).split()
    assert run("cso", "add", "bad", "--name", "x", "--contact", "y", "--needs", "magic", "--areas", "*",
               "--public-key", public).exit_code != 0

    listed = json.loads(run("cso", "list", "--json").output)
    assert listed == [{"id": "amal", "name": "Association Amal", "contact": "+216 71 000 000",
                       "needs": ["legal", "health"], "areas": ["kairouan", "medenine"], "capacity": 5, "open": 0,
                       "active": True, "language": "fr", "caseworker_sms": True}]
    assert "amal" in run("cso", "list").output

    with LiveServer(app) as live:
        args = connect[2:]
        args[args.index("--home") + 1] = str(desk_home)
        args[args.index("--gateway") + 1] = live.url
        assert run("desk", *args).exit_code == 0
        refer(app, "amal")
        out = run("desk", "sync", "--home", str(desk_home))
        assert out.exit_code == 0 and "received 1" in out.output
        assert json.loads(run("cso", "list", "--json").output)[0]["open"] == 1
        out = run("cso", "token", "amal")
        assert out.exit_code == 0
        stale = run("desk", "sync", "--home", str(desk_home))  # the old token no longer works
        assert stale.exit_code != 0 and "wrong token" in stale.output
    assert run("cso", "set", "amal", "--inactive").exit_code == 0
    assert json.loads(run("cso", "list", "--json").output)[0]["active"] is False
    assert run("referrals", "expire").output.strip() == "0 envelope(s) expired"
