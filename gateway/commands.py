"""Gateway subcommands: init, serve, demo."""
from __future__ import annotations

import errno
import logging
import os
import socket
import sys

import click

from gateway.terminal import refused

log = logging.getLogger(__name__)


def listen_or_exit(host: str, port: int, key: str) -> socket.socket:
    """Bind the port before anything starts: a busy port is one line naming it and the key that sets it, exit 2."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        click.echo(f"dalil: cannot listen on {host}:{port} ({e.strerror or e}); set {key}", err=True)
        sys.exit(2)
    if os.name != "nt":  # as waitress does: a restart may rebind at once; on Windows it would share a busy port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            click.echo(f"dalil: port {port} is already in use on {host}; choose another with {key}", err=True)
        else:
            click.echo(f"dalil: cannot listen on {host}:{port} ({e.strerror or e}); set {key}", err=True)
        sys.exit(2)
    return sock


def serve_app(app, sock: socket.socket, threads: int, connection_limit: int = 400) -> None:
    """Serve with waitress (a production WSGI server that runs anywhere Python does, Windows offices included)."""
    import signal
    import waitress
    from gateway import runtime
    # SIGTERM (systemd, docker stop) as Ctrl-C: waitress stops and the dispatcher gives back what it claimed,
    # instead of the process dying mid-send and its claimed messages waiting out their lease
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    runtime.start_background(app)
    try:
        waitress.serve(app, sockets=[sock], threads=threads, connection_limit=connection_limit, ident="dalil")
    finally:
        runtime.stop_background(app)
        signal.signal(signal.SIGTERM, previous)


PORT_KEY = "[gateway] port in the config file, or --port"


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--demo", is_flag=True, help="also load the sample directory (Kairouan, Medenine, Tataouine)")
    @click.pass_obj
    def init(obj, demo):
        """Create the database, apply migrations and create the gateway's keys."""
        ctx = obj.dalil(create=True)
        if demo or ctx.config["gateway"]["demo"]:
            from flows import directory
            n = directory.load_demo(ctx.db())
            click.echo(f"loaded {n} sample services (SAMPLE DATA, not real offers)")
        click.echo(f"database ready: {ctx.db_path}\nkeys: {ctx.keys_dir}")

    @main.command()
    @click.option("--host", default=None, help="address to listen on (default: [gateway] host)")
    @click.option("--port", type=int, default=None, help="port to listen on (default: [gateway] port)")
    @click.pass_obj
    def serve(obj, host, port):
        """Run the gateway (webhooks, dispatcher, scheduler, staff console)."""
        cfg = obj.config()
        gw = cfg["gateway"]
        host, port = host or gw["host"], port or gw["port"]
        plan = _backup_plan(cfg, obj.config_file())
        sock = listen_or_exit(host, port, PORT_KEY)
        app = obj.app()
        click.echo(f"Dalil listening on http://{_shown(host)}:{port}  (staff console: /console/)")
        child = _start_backup(plan) if plan and cfg["backup"]["run_with_serve"] else None
        try:
            serve_app(app, sock, gw["threads"], gw["connection_limit"])
        finally:
            if child:
                from gateway import backup
                backup.stop(*child)

    @main.command()
    @click.option("--host", default=None, help="address to listen on (default: [gateway] host, 127.0.0.1)")
    @click.option("--port", type=int, default=None, help="port to listen on (default: [gateway] port, 8080)")
    @click.pass_obj
    def demo(obj, host, port):
        """Create the database with the sample directory if needed, then serve it."""
        from flows import directory
        gw = obj.config()["gateway"]
        host, port = host or gw["host"], port or gw["port"]
        sock = listen_or_exit(host, port, PORT_KEY)
        app = obj.app(create=True)
        ctx = app.extensions["dalil"]
        if directory.count_services(ctx.db()) == 0:
            directory.load_demo(ctx.db())
        base = f"http://{_shown(host)}:{port}"
        click.echo(f"Dalil demo on {base}  (sample data)\n"
                   f"  a phone in the terminal:  dalil simulate --lang fr\n"
                   f"  the staff console:        {base}/console/{_first_account_hint(ctx)}")
        click.echo(_ussd_endpoints(ctx.config, base, obj.config_file()))
        serve_app(app, sock, gw["threads"], gw["connection_limit"])


def _backup_plan(cfg: dict, source: str):
    """A bad [backup] section stops the server before it starts, naming the key and the file."""
    from gateway import backup
    with refused(backup.ConfigError):
        return backup.plan(cfg, source, required=False)


def _start_backup(plan):
    """[backup] run_with_serve: Litestream as this process's child, stopped (after a last sync) when it stops,
    and sent SIGTERM by the kernel if this process is killed."""
    from gateway import backup
    try:
        child = backup.start(plan, tie_to_parent=True)
    except (backup.ConfigError, OSError) as e:
        raise click.ClickException(f"[backup] run_with_serve: cannot start Litestream: {e}") from None
    click.echo(f"backup: Litestream copies the database to {plan.replica} (pid {child[0].pid})")
    return child


def _shown(host: str) -> str:
    return "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 (compared, not bound)


def _first_account_hint(ctx) -> str:
    from gateway.console import users
    if users.list_users(ctx.db()):
        return ""
    return "  (first: dalil user add NAME --role admin)"


def _ussd_endpoints(config: dict, base: str, config_file: str) -> str:
    """Where an aggregator (or curl) can dial in; the URLs hold secret tokens, so only the terminal shows them."""
    at, generic = config["channels.africastalking"]["webhook_token"], config["channels.generic_ussd"]["token"]
    if not at and not generic:
        return ("  USSD over HTTP: set [channels.generic_ussd] token (or [channels.africastalking] webhook_token)\n"
                f"  in {config_file} to open /hooks/ussd/<token> (or /hooks/africastalking/<token>/ussd)")
    lines = []
    if generic:
        lines.append(f"  USSD, any aggregator:     {base}/hooks/ussd/{generic}")
    if at:
        lines.append(f"  USSD, Africa's Talking:   {base}/hooks/africastalking/{at}/ussd")
    return "\n".join(lines)
