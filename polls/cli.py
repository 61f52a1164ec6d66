"""`dalil poll create | open | close | results | export | list | invite`: the console's checks, from a shell."""
from __future__ import annotations

import json
from pathlib import Path

import click

from gateway.terminal import refused
from messages.i18n import LANGUAGES


def _ctx(obj):
    return obj.dalil()  # says which database; never starts an empty one


@click.group()
def poll():
    """Anonymous polls over USSD and SMS (docs/polls.md)."""


@poll.command("create")
@click.argument("definition", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", "replace_id", type=int, help="edit this draft instead of creating a new one")
@click.pass_obj
def create(obj, definition, replace_id):
    """Store a draft from a TOML DEFINITION; prints its id and what keeps it from opening."""
    from polls import lifecycle
    from polls.model import PollError
    ctx = _ctx(obj)
    text = Path(definition).read_text(encoding="utf-8")
    try:
        if replace_id:
            poll_id, found = replace_id, lifecycle.replace(ctx, ctx.db(), replace_id, text)
        else:
            poll_id, found = lifecycle.create(ctx, ctx.db(), text)
    except PollError as e:
        raise click.ClickException(f"{definition}: {e}") from None
    click.echo(f"poll {poll_id}: draft")
    for problem in found:
        click.echo(f"  cannot open yet: {problem}")
    if not found:
        click.echo(f"  ready: dalil poll open {poll_id}")


@poll.command("open")
@click.argument("poll_id", type=int)
@click.pass_obj
def open_(obj, poll_id):
    """Open a draft: refused, naming the text and the language, if any screen is missing or too long."""
    from polls import lifecycle
    from polls.model import PollError
    ctx = _ctx(obj)
    with refused(PollError):
        lifecycle.open_poll(ctx, ctx.db(), poll_id)
    click.echo(f"poll {poll_id}: open")


@poll.command("close")
@click.argument("poll_id", type=int, required=False)
@click.option("--due", is_flag=True, help="close every open poll whose last day has passed")
@click.pass_obj
def close(obj, poll_id, due):
    """Close a poll: queue the result SMS asked for, destroy the key and every trace of who answered."""
    from polls import lifecycle
    from polls.model import PollError
    ctx = _ctx(obj)
    if due:
        closed = lifecycle.close_due(ctx, ctx.db())
        click.echo(f"closed: {', '.join(map(str, closed)) or 'none'}")
        return
    if poll_id is None:
        raise click.UsageError("give a POLL_ID or --due")
    with refused(PollError):
        queued = lifecycle.close(ctx, ctx.db(), poll_id)
    click.echo(f"poll {poll_id}: closed; {queued} result SMS queued; its key and voters' hashes destroyed")


@poll.command("list")
@click.pass_obj
def listing(obj):
    """Every poll: id, state, keyword, dates, respondents."""
    from polls import store
    ctx = _ctx(obj)
    db = ctx.db()
    for row in store.listing(db):
        d = row["definition"]
        click.echo(f"{row['id']:>4}  {row['state']:<6}  {row['keyword']:<12}  {d['opens']} → {d['closes']}  "
                   f"{store.respondents(db, row['id'])} respondents  {d['title']['fr']}")


def _built(obj, poll_id):
    from polls import lifecycle, results
    from polls.model import PollError
    ctx = _ctx(obj)
    with refused(PollError):
        poll = lifecycle.load(ctx.db(), poll_id)
    return ctx, poll, results.build(ctx.db(), poll, ctx.config["polls"]["small_cell"])


@poll.command("results")
@click.argument("poll_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON (for scripts)")
@click.option("--lang", type=click.Choice(LANGUAGES), default="fr", show_default=True,
              help="language of the questions and options shown")
@click.pass_obj
def results_(obj, poll_id, as_json, lang):
    """Counts and percentages per question, small cells suppressed (shown as ·)."""
    from polls import results
    ctx, poll, built = _built(obj, poll_id)
    if as_json:
        click.echo(json.dumps(built, ensure_ascii=False, indent=1))
        return
    click.echo(f"{poll.title[lang]} ({poll.state}); respondents: {_n(built['respondents'])}")
    for n, q in enumerate(built["questions"], start=1):
        click.echo(f"\n{n}. {q['text'][lang]}")
        if q["type"] == "number":
            click.echo(f"   answers {_n(q['count'])}, median {_n(q['median'])}")
            continue
        for option in q["options"]:
            pct = "·" if option["percent"] is None else f"{option['percent']}%"
            click.echo(f"   {option['label'][lang]:<30} {_n(option['count']):>7} {pct:>7}")
    click.echo(f"\n{results.headline(built, poll, lang)}")


@poll.command("export")
@click.argument("poll_id", type=int)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="file (default: standard output)")
@click.option("--lang", type=click.Choice(LANGUAGES), default="fr", show_default=True,
              help="language of the questions and options in the file")
@click.pass_obj
def export(obj, poll_id, output, lang):
    """The results as CSV (the console's download): suppressed counts empty, with suppressed = 1."""
    from polls import results
    _, _, built = _built(obj, poll_id)
    text = results.csv_text(built, lang)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@poll.command("invite")
@click.argument("poll_id", type=int)
@click.option("--rate", type=int, help="messages a minute (default: [campaigns] rate_per_minute)")
@click.pass_obj
def invite(obj, poll_id, rate):
    """A draft campaign inviting the poll's audience; then `dalil campaign preview|send ID`."""
    from polls import lifecycle
    from polls.model import PollError
    ctx = _ctx(obj)
    with refused(PollError):
        campaign_id = lifecycle.invite(ctx, ctx.db(), poll_id, rate)
    click.echo(f"campaign {campaign_id}: draft; check it with `dalil campaign preview {campaign_id}`, "
               f"then `dalil campaign send {campaign_id}`")


def _n(value) -> str:
    return "·" if value is None else str(value)


def register(main: click.Group) -> None:
    main.add_command(poll)
