"""The coordinator's, the operator's and the caseworker's commands, end to end: the coordinator's key and the
registration files it signs, keygen on the CSO's machine, add on the gateway, connect and sync on the desk."""
from __future__ import annotations

import json
import re

from click.testing import CliRunner

from harness import LiveServer
from gateway.cli import main
from test_referral_support import refer


def test_coordinator_keygen_sign_add_list_connect_sync(app, tmp_path):
    gw = app.extensions["dalil"].config["gateway"]
    cfg = tmp_path / "dalil.toml"
    run = lambda *args: CliRunner().invoke(main, ["--config", str(cfg), *args], catch_exceptions=False)  # noqa
    desk_home, office = tmp_path / "desk", tmp_path / "coordinator"

    # the coordinator's machine: a key, kept offline; its public line goes to the gateway and to every desk
    out = run("coordinator", "keygen", "--key", str(office / "coordinator.key"))
    assert out.exit_code == 0, out.output
    vkey = re.search(r"^dalil-coordinator\+\S+$", out.output, flags=re.M).group(0)
    fingerprint = re.search(r"fingerprint, to read out to each CSO by phone: (\S+)", out.output).group(1)
    assert re.fullmatch(r"[0-9A-F]{4}(-[0-9A-F]{4}){3}", fingerprint)
    assert (office / "coordinator.key").stat().st_mode & 0o777 == 0o600
    assert run("coordinator", "keygen", "--key", str(office / "coordinator.key")).exit_code != 0  # never overwritten
    cfg.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n'
                   f'[referrals]\ncoordinator_key = "{vkey}"\ncheckpoint_minutes = 0.0\n')

    out = run("cso", "keygen", "--home", str(desk_home))
    assert out.exit_code == 0
    public = re.search(r"dalil-cso-1:\S+", out.output).group(0)
    assert (desk_home / "cso.key").stat().st_mode & 0o777 == 0o600
    assert run("cso", "keygen", "--home", str(desk_home)).exit_code != 0  # never overwritten

    sign = ["coordinator", "sign", "--key", str(office / "coordinator.key")]
    out = run(*sign, "amal", "--name", "Association Amal", "--contact", "+216 71 000 000", "--needs", "legal,health",
              "--areas", "kairouan,medenine", "--public-key", public, "--out", str(office / "amal-1.reg"))
    assert out.exit_code == 0 and "dalil cso add --registration" in out.output, out.output
    assert run(*sign, "bad", "--name", "x", "--contact", "y", "--needs", "magic", "--areas", "*",
               "--public-key", public, "--out", str(office / "bad.reg")).exit_code != 0
    assert run(*sign, "amal", "--name", "x", "--out", str(office / "x.reg")).output.count("--contact") == 1

    # a registration signed by another key (the operator's own) is refused, naming the coordinator's key
    run("coordinator", "keygen", "--key", str(tmp_path / "operator.key"))
    run("coordinator", "sign", "--key", str(tmp_path / "operator.key"), "amal", "--name", "Association Amal",
        "--contact", "+216 71 000 000", "--needs", "legal", "--areas", "*", "--public-key", public,
        "--out", str(tmp_path / "forged.reg"))
    out = run("cso", "add", "--registration", str(tmp_path / "forged.reg"))
    assert out.exit_code != 0 and f"not signed by the coordinator key {fingerprint}" in out.output
    (tmp_path / "unsigned.reg").write_text((office / "amal-1.reg").read_text().split("\n\n")[0] + "\n")
    out = run("cso", "add", "--registration", str(tmp_path / "unsigned.reg"))
    assert out.exit_code != 0 and "not a registration file" in out.output

    out = run("cso", "add", "--registration", str(office / "amal-1.reg"), "--capacity", "5",
              "--caseworker-phone", "98 000 111")
    assert out.exit_code == 0, out.output
    connect = re.search(r"dalil desk connect .*", out.output).group(0).split()
    listed = json.loads(run("cso", "list", "--json").stdout)
    assert listed == [{"id": "amal", "name": "Association Amal", "contact": "+216 71 000 000",
                       "needs": ["legal", "health"], "areas": ["kairouan", "medenine"], "capacity": 5, "open": 0,
                       "active": True, "language": "fr", "caseworker_sms": True}]
    assert "amal" in run("cso", "list").output

    with LiveServer(app) as live:
        args = connect[2:]
        args[args.index("--home") + 1] = str(desk_home)
        args[args.index("--gateway") + 1] = live.url
        args[args.index("--coordinator-key") + 1] = vkey  # given by the coordinator, not by the operator
        out = run("desk", *args)
        assert out.exit_code == 0 and f"coordinator key fingerprint: {fingerprint}" in out.output
        refer(app, "amal")
        out = run("desk", "sync", "--home", str(desk_home))
        assert out.exit_code == 0 and "received 1" in out.output and "cosigned the log at size 2" in out.output
        assert json.loads(run("cso", "list", "--json").stdout)[0]["open"] == 1
        status = run("status")
        assert "Referral log: 3 entries, checkpoint at size 2; 1 desk(s) cosigned size 2" in status.output
        assert json.loads(run("status", "--json").stdout)["referral_log"]["cosigned"] == [{"size": 2, "desks": 1}]
        out = run("cso", "token", "amal")
        assert out.exit_code == 0
        stale = run("desk", "sync", "--home", str(desk_home))  # the old token no longer works
        assert stale.exit_code != 0 and "wrong token" in stale.output

    # deactivation is the coordinator's next version of the record; an old version cannot be applied again
    out = run(*sign, "amal", "--from", str(office / "amal-1.reg"), "--inactive", "--out", str(office / "amal-2.reg"))
    assert out.exit_code == 0 and "version 2, inactive" in out.output
    assert run("cso", "set", "amal", "--registration", str(office / "amal-2.reg")).exit_code == 0
    assert json.loads(run("cso", "list", "--json").stdout)[0]["active"] is False
    again = run("cso", "set", "amal", "--registration", str(office / "amal-1.reg"))
    assert again.exit_code != 0 and "the next one is 3" in again.output
    assert run("cso", "set", "amal", "--capacity", "7").exit_code == 0
    assert run("referrals", "expire").stdout.strip() == "0 envelope(s) expired"
