"""`dalil dispatch` (the dispatcher alone, in the foreground) and `dalil status` (the outbox and the channels)."""
from __future__ import annotations

import json
import signal
import time

import click


def _context(obj):
    from gateway import logs
    cfg = obj.config()
    logs.setup(cfg["gateway"]["log_level"], cfg["gateway"]["log_file"])
    return obj.dalil()


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--until-empty", is_flag=True, help="exit once nothing is queued or being sent")
    @click.option("--workers", type=int, default=None, help="concurrent senders (default: [dispatcher] workers)")
    @click.pass_obj
    def dispatch(obj, until_empty, workers):
        """Run the dispatcher alone, in the foreground (Ctrl-C or SIGTERM stops it cleanly)."""
        from gateway import outbox, routing
        from gateway.dispatcher import DispatcherPool
        ctx = _context(obj)
        if not routing.configured_channels(ctx.config):
            # nothing could ever send: say so instead of waiting forever in silence
            waiting = "" if outbox.is_empty(ctx.db()) else " Messages wait in the outbox until one is."
            raise click.ClickException(
                f"no channel is configured to send: enable [channels.twilio], [channels.africastalking] or "
                f"[channels.smssync] with its credentials in {obj.config_file()} "
                f"(every key is in config.example.toml).{waiting}")
        pool = DispatcherPool(ctx, workers)
        previous = {sig: signal.signal(sig, lambda *_: pool.stop()) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            pool.start(until_empty=until_empty).join()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @main.command()
    @click.option("--json", "as_json", is_flag=True, help="print the /healthz JSON instead of tables")
    @click.pass_obj
    def status(obj, as_json):
        """Outbox depth by state, oldest queued age, and per channel its last success and last error."""
        from gateway import health
        ctx = _context(obj)
        snap = health.snapshot(ctx.db(), ctx.config)
        lines = []
        for key, data, text in _package_sections(ctx):
            snap[key] = data
            lines += text
        if as_json:
            click.echo(json.dumps(snap, indent=2))
            return
        _print_status(snap, ctx.config["gateway"]["timezone"])
        for line in lines:
            click.echo(line)

    @main.group()
    def gammu():
        """The USB modem channel (gammu-smsd's SQL backend on SQLite)."""

    @gammu.command("init-db")
    @click.argument("path", type=click.Path(dir_okay=False))
    def gammu_init_db(path):
        """Create the SQLite file gammu-smsd and Dalil share (gammu-smsd's schema, version 17)."""
        import sqlite3
        from pathlib import Path
        target = Path(path)
        if target.exists():
            raise click.ClickException(f"{path} exists: remove it first, or point [channels.gammu] smsd_database at it")
        schema = Path(__file__).parent / "channels" / "gammu_smsd.sql"
        conn = sqlite3.connect(target)
        conn.executescript(schema.read_text())
        conn.close()
        click.echo(f"created {path}: set [smsd] database/dbdir in gammu-smsd's config and "
                   f"[channels.gammu] smsd_database in Dalil's (docs/gammu.md)")


def _package_sections(ctx):
    """Packages' own figures: a ``status_section(ctx)`` in their runtime module, listed here."""
    from referrals import runtime as referrals_runtime
    yield referrals_runtime.status_section(ctx)


def _when(ts, tz_name: str) -> str:
    """Local time of the gateway's [gateway] timezone, as every command shows it."""
    from messages.schedule import show
    if not ts:
        return "-"
    return f"{show(ts, tz_name)} ({_age(time.time() - ts)} ago)"


def _age(seconds) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"


def _print_status(snap: dict, tz_name: str) -> None:
    from rich.table import Table

    from gateway.outbox import STATES
    from gateway.terminal import console as terminal, print_tables
    console = terminal()
    box = snap["outbox"]
    states = Table(title=f"Outbox: {box['depth']} waiting, oldest queued {_age(box['oldest_queued_seconds'])}")
    states.add_column("state")
    states.add_column("messages", justify="right")
    for state in STATES:
        states.add_row(state, str(box["by_state"].get(state, 0)))
    print_tables(console, states)
    if box.get("dropped_at_restart"):
        console.print(f"{box['dropped_at_restart']} sealed message(s) dropped: the process that held their key "
                      "stopped before sending them (see docs/operations.md)")
    channels = Table(title=f"Channels (times in {tz_name})")
    for col in ("channel", "routing", "last success", "last error", "error"):
        channels.add_column(col)
    for name, info in sorted(snap["channels"].items()):
        routing = "open circuit" if info.get("circuit_open") else ("yes" if info.get("available") else "no")
        channels.add_row(name, routing, _when(info.get("last_success"), tz_name),
                         _when(info.get("last_error"), tz_name),
                         info.get("last_error_text") or "")
    print_tables(console, channels)
    _print_links(console, snap.get("links", {}), tz_name)


def _print_links(console, links: dict, tz_name: str) -> None:
    """One line per link: staff read `dalil status` first when SMS stop arriving."""
    for name, link in sorted(links.items()):
        polled = f", last poll {_when(link['last_poll'], tz_name)}" if link["polled"] else ""
        heard = f"last in {_when(link['last_in'], tz_name)}, last out {_when(link['last_out'], tz_name)}{polled}"
        if link["down"]:
            console.print(f"[bold red]LINK DOWN[/]: {name} silent for {_age(link['silent_seconds'])} "
                          f"(limit {_age(link['silent_after_seconds'])}; {heard})", highlight=False)
        else:
            console.print(f"link up: {name} ({heard})", highlight=False)
