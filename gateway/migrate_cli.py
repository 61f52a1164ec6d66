"""`dalil migrate-to postgresql://…`: move an office gateway's SQLite database into PostgreSQL (docs/operations.md)."""
from __future__ import annotations

import os

import click

from gateway import copystore, pgstore, store


def register(main: click.Group) -> None:
    @main.command("migrate-to")
    @click.argument("url")
    @click.pass_obj
    def migrate_to(obj, url):
        """Copy this gateway's SQLite database into the empty PostgreSQL database at URL (a postgresql:// URL,
        or env:NAME to keep the password off the command line). Stop `dalil serve` first; then set
        [gateway] database to the URL. The SQLite file is left as it was."""
        url = _resolve(url)
        source_ctx = obj.dalil()  # the source, migrated to this version's schema
        if not store.is_file(source_ctx.db_path):
            raise click.ClickException(f"[gateway] database in {obj.config_file()} is {source_ctx.db_path}, not a "
                                       "SQLite file: there is nothing to migrate")
        shown = pgstore.hide_password(url)
        target = _connect(url, shown)
        source = source_ctx.db()
        try:
            copystore.check_empty(target, copystore.tables(source))
        except copystore.CopyError as e:
            raise click.ClickException(f"{shown}: {e}; nothing copied") from None
        store.migrate(target, _schemas())
        if not copystore.same_versions(source, target):
            raise click.ClickException(f"{shown} has another schema version than {source_ctx.db_path}; nothing copied")
        copied = copystore.copy_all(source, target, lambda table, n: click.echo(f"  {table}: {n}", err=True))
        _check_counts(source, target, copied)
        click.echo(f"copied {sum(copied.values())} rows in {len(copied)} tables from {source_ctx.db_path} to {shown}.\n"
                   f"Now set [gateway] database in {obj.config_file()} to that URL (or to \"env:NAME\") and start "
                   "`dalil serve`. Replies waiting sealed in the old outbox are dropped at start, as at any restart.")


def _resolve(url: str) -> str:
    if url.startswith("env:"):
        name = url[4:]
        if name not in os.environ:
            raise click.ClickException(f"environment variable {name} is not set")
        url = os.environ[name]
    if not pgstore.is_url(url):
        raise click.ClickException(f"{pgstore.hide_password(url)} is not a postgresql:// URL")
    return url


def _connect(url: str, shown: str):
    try:
        return pgstore.connect(url)
    except pgstore.OperationalError as e:
        raise click.ClickException(f"cannot reach the database {shown}: {' '.join(str(e).split())}") from None


def _check_counts(source, target, copied: dict[str, int]) -> None:
    there = copystore.counts(target, list(copied))
    wrong = {t: (copied[t], there[t]) for t in copied if copied[t] != there[t]}
    here = copystore.counts(source, list(copied))
    wrong.update({t: (here[t], there[t]) for t in copied if here[t] != there[t]})
    if wrong:
        raise click.ClickException("the copy does not match: " + ", ".join(
            f"{t} {a} rows here, {b} there" for t, (a, b) in sorted(wrong.items())))


def _schemas():
    from gateway import schemas
    return schemas()
