"""`dalil subscribers import | list | opt-out`: the people who opted in to information blasts."""
from __future__ import annotations

import click

from gateway import terminal
from gateway.terminal import print_tables


def _ctx(obj):
    return obj.app().extensions["dalil"]


def _data_rows(file: str) -> int | None:
    """The rows a CSV holds (quoted line breaks counted right), so the bar says 13,000/20,000, not 13,000/?."""
    import csv
    try:
        with open(file, encoding="utf-8-sig", newline="") as f:
            return max(sum(1 for _ in csv.reader(f)) - 1, 0)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None  # the import itself then says what is wrong with the file


@click.group()
def subscribers():
    """People who opted in to information blasts."""


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="check every row, import nothing")
@click.pass_obj
def import_command(obj, file, dry_run):
    """Import a CSV with phone and consent columns (see messages/importer.py); any bad row imports nothing."""
    from messages.importer import ImportRejected, import_csv
    ctx = _ctx(obj)
    console = terminal.console()
    try:
        with terminal.progress(console, "checking" if dry_run else "importing") as bar:
            task = bar.add_task("rows", total=_data_rows(file))
            report = import_csv(ctx, ctx.db(), file, dry_run=dry_run,
                                progress=lambda n: bar.update(task, completed=n))
    except ImportRejected as e:
        for line in e.report.lines():
            click.echo(f"{file}: {line}", err=True)
        raise click.ClickException(f"{file}: {e}") from None
    except (UnicodeDecodeError, OSError) as e:
        raise click.ClickException(f"{file}: cannot read it as UTF-8 CSV: {e}") from None
    verb = "would add" if dry_run else "added"
    click.echo(f"{file}: {report.rows:,} row(s): {verb} {report.added:,}; already subscribed "
               f"{len(report.already_subscribed):,}; opted out earlier, not added {len(report.opted_out):,}")
    if report.opted_out:
        click.echo(f"opted out earlier (rows): {', '.join(map(str, report.opted_out[:50]))}")


@subscribers.command("list")
@click.option("--status", type=click.Choice(("active", "opted_out")), default=None,
              help="only subscribers in this state; default both")
@click.option("--governorate", "-g", default=None, help="only this governorate (area code such as kairouan)")
@click.option("--limit", type=int, default=50, show_default=True, help="newest subscribers shown")
@click.pass_obj
def list_command(obj, status, governorate, limit):
    """Counts, then the newest subscribers."""
    from rich.table import Table
    from messages import subscribers as subs
    from messages.schedule import show
    ctx = _ctx(obj)
    db = ctx.db()
    counts = subs.counts(db)
    click.echo(", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "no subscribers")
    table = Table("phone", "language", "governorate", "delegation", "interests", "status", "opted in")
    for phone, lang, gov, deleg, interests, st, since in subs.listing(db, status=status, governorate=governorate,
                                                                     limit=limit):
        table.add_row(phone, lang, gov or "", deleg or "", interests, st,
                      show(since, ctx.config["gateway"]["timezone"]))
    print_tables(terminal.console(), table)


@subscribers.command("opt-out")
@click.argument("number")
@click.option("--via", default="staff", show_default=True, help="how the request came (logged)")
@click.pass_obj
def opt_out_command(obj, number, via):
    """Record an opt-out received another way (a call, a visit): immediate, global, logged."""
    from gateway import contacts
    from messages import subscribers as subs
    ctx = _ctx(obj)
    try:
        e164 = contacts.normalize(number, ctx.config["sms"]["default_region"])
    except contacts.BadNumber as e:
        raise click.BadParameter(str(e), param_hint="NUMBER") from None
    key = contacts.contact_key(ctx.secret("contacts"), e164)
    known = subs.opt_out(ctx.db(), e164, channel="staff", via=via, contact_key=key)
    click.echo(f"{e164} opted out" + ("" if known else " (was not subscribed; will never be imported)"))
