"""`dalil backup` and `dalil restore`: Litestream's config from [backup], run in the foreground, and a replica
brought back to [gateway] database with its schema brought up to date (gateway/backup.py)."""
from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import click

from gateway import backup
from gateway.config import ConfigError
from gateway.terminal import refused


def _plan(obj):
    cfg = obj.config()
    with refused(ConfigError):
        return cfg, backup.plan(cfg, obj.config_file())


def _unit(obj) -> str:
    dalil = Path(sys.argv[0]).resolve() if Path(sys.argv[0]).name == "dalil" else "/path/to/.venv/bin/dalil"
    return f"""[Unit]
Description=Dalil: continuous backup of the database (Litestream)
After=network-online.target

[Service]
ExecStart={dalil} --config {Path(obj.config_file()).resolve()} backup --run
Restart=always
RestartSec=5
# the environment variables the config's env:NAME values name, e.g.
# EnvironmentFile=/etc/dalil/backup.env

[Install]
WantedBy=multi-user.target"""


def _describe(obj, cfg, p) -> str:
    b = cfg["backup"]
    lines = [f"Litestream copies {p.database} to {p.replica}",
             f"  at most {b['sync_interval_seconds']:g} s behind; a snapshot every {b['snapshot_hours']:g} h, kept "
             f"{b['retention_hours']:g} h: an erased row stays in the replica up to "
             f"{b['snapshot_hours'] + b['retention_hours']:g} h (docs/privacy.md)"]
    if p.same_disk:
        lines.append("  WARNING: the replica is on the same disk as the database: it survives a mistake, not a dead "
                     "or stolen disk. Point [backup] replica at another disk or an S3-compatible store.")
    dropped = [n for n in backup.DROPPED_FOR_S3 if p.replica.startswith("s3://") and n in os.environ]
    if dropped:
        lines.append(f"  {', '.join(dropped)} is left out of Litestream's environment: Litestream 0.5 stops at start "
                     f"with it and cannot trust a custom CA (the store needs a certificate the system trusts)")
    if p.env:
        lines.append("  credentials: passed to Litestream in the environment as " + ", ".join(
            f"{name} (from [backup] {key}, hidden)" for key, name in backup.KEY_ENV.items() if name in p.env))
    return "\n".join(lines)


def _server_answers(cfg) -> str | None:
    host = cfg["gateway"]["host"]
    host = "127.0.0.1" if host in ("", "0.0.0.0") else host  # noqa: S104 (compared, not bound)
    try:
        with socket.create_connection((host, cfg["gateway"]["port"]), timeout=0.5):
            return f"{host}:{cfg['gateway']['port']}"
    except OSError:
        return None


def _sidecars(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def _litestream_restore(p, output: Path) -> None:
    proc, conf = backup.start(p, "restore", "-o", str(output), on_database=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        conf.close()
    if proc.returncode == 0:
        return
    if "no matching backup files" in out or "no snapshots" in out:
        raise click.ClickException(f"no backup of {p.database} in {p.replica} ([backup] replica): the replica is "
                                   f"empty or is not this database's. Nothing was changed.")
    raise click.ClickException(f"litestream restore failed (exit {proc.returncode}): {out.strip()[-500:]}")


def _bring_up_to_date(path: Path) -> int:
    """Check the restored file and apply the migrations a start needs; returns the number of tables."""
    import sqlite_utils
    from gateway import schemas, store
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        (ok,) = conn.execute("PRAGMA quick_check").fetchone()
        if ok != "ok":
            raise click.ClickException(f"the restored database fails SQLite's check: {ok}. Nothing was replaced.")
        conn.execute("PRAGMA journal_mode=WAL")
        store.migrate(sqlite_utils.Database(conn), schemas())
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    finally:
        conn.close()


def restore(obj, to: str | None, force: bool) -> Path:
    cfg, p = _plan(obj)
    target = Path(to).resolve() if to else Path(p.database)
    if target == Path(p.database):
        running = _server_answers(cfg)
        if running:
            raise click.ClickException(f"something answers on {running} ([gateway] host and port): stop `dalil "
                                       f"serve` (and the backup service) before restoring over its database")
    present = [str(f) for f in _sidecars(target) if f.exists()]
    if present and not force:
        raise click.ClickException(f"{present[0]} exists: restoring would replace it. Move it away, or give "
                                   f"--force (or --to another path)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.restoring")
    for f in _sidecars(staging):
        f.unlink(missing_ok=True)
    _litestream_restore(p, staging)
    try:
        _bring_up_to_date(staging)
    except BaseException:
        for f in _sidecars(staging):
            f.unlink(missing_ok=True)
        raise
    for f in _sidecars(target):
        f.unlink(missing_ok=True)
    # Litestream's own positions for the file it replaced belong to that file, not to this one
    stale = target.with_name(f".{target.name}-litestream")
    if stale.is_dir():
        import shutil
        shutil.rmtree(stale)
    os.replace(staging, target)
    return target


def register(main: click.Group) -> None:
    @main.command("backup")
    @click.option("--run", "run", is_flag=True,
                  help="run `litestream replicate` in the foreground (signals passed on, its exit code returned)")
    @click.pass_obj
    def backup_command(obj, run):
        """Print the Litestream config made from [backup] and how to run it; with --run, run it."""
        cfg, p = _plan(obj)
        if not Path(p.database).exists():
            raise click.ClickException(f"no Dalil database at {p.database}: run `dalil init`, or `dalil restore` "
                                       f"to bring the replica back")
        if run:
            click.echo(_describe(obj, cfg, p), err=True)
            with refused(ConfigError):
                code = backup.run_foreground(p)
            sys.exit(code)
        click.echo(_describe(obj, cfg, p))
        click.echo("\n# the config (`dalil backup --run` writes it to a private temporary file):\n")
        click.echo(p.yaml)
        click.echo("# run it under systemd, beside dalil serve (or set [backup] run_with_serve = true):\n")
        click.echo(_unit(obj))

    @main.command("restore")
    @click.option("--to", "to", default=None, metavar="PATH",
                  help="restore to this file instead of [gateway] database (to look at a copy)")
    @click.option("--force", is_flag=True, help="replace an existing database file")
    @click.pass_obj
    def restore_command(obj, to, force):
        """Bring the replica back to [gateway] database and bring its schema up to date, ready for `dalil serve`."""
        with refused(ConfigError):
            target = restore(obj, to, force)
        click.echo(f"restored {target} from {obj.config()['backup']['replica']}; start `dalil serve` (and the "
                   f"backup) again")
