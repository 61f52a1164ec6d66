"""Gateway subcommands: init, serve, demo."""
from __future__ import annotations

import logging

import click

log = logging.getLogger(__name__)


def serve_app(app, host: str, port: int, threads: int, connection_limit: int = 400) -> None:
    """Serve with waitress (a production WSGI server that runs anywhere Python does, Windows offices included)."""
    import signal
    import waitress
    from gateway import runtime
    # SIGTERM (systemd, docker stop) as Ctrl-C: waitress stops and the dispatcher gives back what it claimed,
    # instead of the process dying mid-send and its claimed messages waiting out their lease
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    runtime.start_background(app)
    try:
        waitress.serve(app, host=host, port=port, threads=threads, connection_limit=connection_limit,
                       ident="dalil")
    finally:
        runtime.stop_background(app)
        signal.signal(signal.SIGTERM, previous)


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--demo", is_flag=True, help="also load the sample directory (Kairouan, Medenine, Tataouine)")
    @click.pass_obj
    def init(obj, demo):
        """Create the database, apply migrations and create the gateway's keys."""
        from gateway import initialize
        cfg = obj.config()
        ctx = initialize(cfg)
        if demo or cfg["gateway"]["demo"]:
            from flows import directory
            n = directory.load_demo(ctx.db())
            click.echo(f"loaded {n} sample services (SAMPLE DATA, not real offers)")
        click.echo(f"database ready: {cfg['gateway']['database']}")

    @main.command()
    @click.option("--host", default=None)
    @click.option("--port", type=int, default=None)
    @click.pass_obj
    def serve(obj, host, port):
        """Run the gateway (webhooks, dispatcher, scheduler, staff console)."""
        app = obj.app()
        gw = app.extensions["dalil"].config["gateway"]
        host, port = host or gw["host"], port or gw["port"]
        click.echo(f"Dalil listening on http://{host}:{port}  (staff console: /console/)")
        serve_app(app, host, port, gw["threads"], gw["connection_limit"])

    @main.command()
    @click.option("--port", type=int, default=None)
    @click.pass_obj
    def demo(obj, port):
        """Create the database with the sample directory if needed, then serve it."""
        from flows import directory
        app = obj.app()
        ctx = app.extensions["dalil"]
        if directory.count_services(ctx.db()) == 0:
            directory.load_demo(ctx.db())
        gw = ctx.config["gateway"]
        port = port or gw["port"]
        click.echo(f"Dalil demo on http://{gw['host']}:{port}  (sample data)\n"
                   f"  a phone in the terminal:  dalil simulate --lang fr\n"
                   f"  the staff console:        http://{gw['host']}:{port}/console/  "
                   f"(first: dalil user add NAME --role admin)")
        click.echo(_ussd_endpoints(ctx.config, f"http://{gw['host']}:{port}"))
        serve_app(app, gw["host"], port, gw["threads"], gw["connection_limit"])


def _ussd_endpoints(config: dict, base: str) -> str:
    """Where an aggregator (or curl) can dial in; the URLs hold secret tokens, so only the terminal shows them."""
    at, generic = config["channels.africastalking"]["webhook_token"], config["channels.generic_ussd"]["token"]
    if not at and not generic:
        return ("  USSD over HTTP: set [channels.generic_ussd] token (or [channels.africastalking] webhook_token)\n"
                "  in dalil.toml to open /hooks/ussd/<token> (or /hooks/africastalking/<token>/ussd)")
    lines = []
    if generic:
        lines.append(f"  USSD, any aggregator:     {base}/hooks/ussd/{generic}")
    if at:
        lines.append(f"  USSD, Africa's Talking:   {base}/hooks/africastalking/{at}/ussd")
    return "\n".join(lines)
