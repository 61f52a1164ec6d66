"""`dalil desk ...`: the CSO desk on the caseworker's machine (needs the CSO key folder, not the gateway's
config). referrals/cli.py adds the group to `dalil`."""
from __future__ import annotations

import sys

import click

from gateway.terminal import refused
from messages.i18n import LANGUAGES

DEFAULT_DESK_HOME = "dalil-desk"


# --- the CSO desk ---------------------------------------------------------------------------------------
@click.group()
def desk():
    """The CSO desk: runs on the caseworker's machine with the CSO's secret key."""


home_option = click.option("--home", default=DEFAULT_DESK_HOME, show_default=True,
                           help="the desk's folder (cso.key, desk.toml, desk.db)")


@desk.command("connect")
@home_option
@click.option("--gateway", "gateway_url", required=True, help="the gateway's URL")
@click.option("--cso", "cso_id", required=True, help="the CSO's id, as `dalil cso add` printed it")
@click.option("--token", required=True, help="the desk token `dalil cso add` (or `cso token`) printed once")
@click.option("--gateway-key", required=True, help="the gateway's checkpoint key, as `dalil cso add` printed it")
@click.option("--coordinator-key", required=True,
              help="the coordinator's public line, from the coordinator (not from the gateway's operator)")
@click.option("--language", type=click.Choice(LANGUAGES), default="fr", show_default=True,
              help="the inbox's language at first (the page has a switch)")
def desk_connect(home, gateway_url, cso_id, token, gateway_key, coordinator_key, language):
    """Write the desk's settings (desk.toml) next to its key, pinning the gateway's and the coordinator's keys."""
    from referrals.protocol import note
    from referrals.desk import home as desk_home
    with refused(desk_home.DeskError):
        path = desk_home.connect(home, gateway_url, cso_id, token, gateway_key, coordinator_key, language)
    fingerprint = note.parse_vkey(coordinator_key).fingerprint()
    click.echo(f"wrote {path}")
    click.echo(f"coordinator key fingerprint: {fingerprint}")
    click.echo("call your coordinator and compare it digit by digit before the first sync; if it differs, "
               "do not sync")
    click.echo(f"then `dalil desk sync --home {home}` or `dalil desk serve --home {home}`")


def _load(home):
    from referrals.desk import home as desk_home
    with refused(desk_home.DeskError):
        return desk_home.load(home)


@desk.command("sync")
@home_option
def desk_sync(home):
    """Send queued decisions, check the log, fetch and open new referrals, apply erasure requests."""
    from referrals.desk import client
    result = client.sync(_load(home))
    click.echo(f"received {result.received}, erased {result.erased}, sent {result.sent}"
               + (f", cosigned the log at size {result.cosigned}" if result.cosigned is not None else ""))
    for alert in result.alerts:
        click.echo(f"ALERT: {alert}", err=True)
    if result.withheld:
        click.echo(f"ALERT: {result.withheld}", err=True)
    if result.error:
        raise click.ClickException(result.error)
    if result.alerts or result.withheld:
        sys.exit(2)


@desk.command("serve")
@home_option
@click.option("--port", type=int, default=8765, show_default=True, help="the inbox's port on 127.0.0.1")
@click.option("--sync-minutes", type=float, default=2.0, show_default=True,
              help="sync and cosign the log this often (0: only on demand); the shorter, the sooner a tampered "
                   "log is seen")
def desk_serve(home, port, sync_minutes):
    """The local inbox on http://127.0.0.1:PORT (loopback only)."""
    import threading
    import waitress
    from gateway.commands import listen_or_exit
    from referrals.desk import client
    from referrals.desk.web import create_desk_app
    desk_ = _load(home)
    sock = listen_or_exit("127.0.0.1", port, "--port")
    app = create_desk_app(desk_)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            with app.extensions["desk.sync_lock"]:
                client.sync(desk_)
            if sync_minutes <= 0 or stop.wait(sync_minutes * 60):
                return
    threading.Thread(target=loop, daemon=True).start()
    click.echo(f"Dalil desk for {desk_.cso_id} on http://127.0.0.1:{port}")
    try:
        waitress.serve(app, sockets=[sock], threads=4, ident="dalil-desk")
    finally:
        stop.set()
