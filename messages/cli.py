"""`dalil campaign ...` (and `dalil subscribers ...`, from messages/subscribers_cli.py): information blasts from the
command line.

    dalil campaign create "Job fair" --text ar=@ar.txt --text fr="Salon de l'emploi ..." --fallback fr \\
        --governorate kairouan --interest jobs --at "2026-03-02 09:00" --rate 60
    dalil campaign preview 1          # recipients per language, segments, cost, UCS-2 warnings
    dalil campaign send 1 --test      # to [campaigns] staff_numbers first
    dalil campaign send 1             # asks before queueing (or --yes)
    dalil campaign status 1 --watch   # progress until everything is sent, delivered, failed or skipped
    dalil subscribers import people.csv
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from gateway import terminal
from gateway.terminal import print_tables, refused
from messages.i18n import LANGUAGES
from messages.subscribers_cli import subscribers

INTERESTS = ("jobs", "training", "business", "municipal")


def _ctx(obj):
    return obj.app().extensions["dalil"]


def _console():
    from gateway.terminal import console
    return console()


def _load(ctx, campaign_id: int):
    from messages import campaigns
    with refused(campaigns.CampaignError):
        return campaigns.load(ctx.db(), campaign_id)


# -- reading options -----------------------------------------------------------------------------------------


def _texts(pairs: tuple[str, ...]) -> dict:
    """LANG=TEXT or LANG=@FILE."""
    texts = {}
    for pair in pairs:
        lang, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"expected LANG=TEXT or LANG=@FILE, got {pair!r}", param_hint="--text")
        if value.startswith("@"):
            try:
                value = Path(value[1:]).read_text(encoding="utf-8")
            except OSError as e:
                raise click.BadParameter(f"{value[1:]}: {e.strerror}", param_hint="--text") from None
        texts[lang.strip()] = value
    return texts


def _audience(file, governorates, delegations, interests, languages, since, tz_name):
    from messages.audience import Audience, AudienceError
    from messages.schedule import ScheduleError, parse_local
    if file:
        if any((governorates, delegations, interests, languages, since)):
            raise click.UsageError("--audience replaces --governorate/--delegation/--interest/--language/--since")
        try:
            return Audience.from_json(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError, AudienceError) as e:
            raise click.BadParameter(str(e), param_hint="--audience") from None
    group = {"governorates": governorates, "delegations": delegations, "interests": interests,
             "languages": languages}
    if since:
        try:
            group["active_since"] = parse_local(f"{since} 00:00", tz_name)
        except ScheduleError:
            raise click.BadParameter(f"expected YYYY-MM-DD, got {since!r}", param_hint="--since") from None
    return Audience.from_data(group)


def _schedule(at, every, tz_name):
    from messages.schedule import ScheduleError, parse_local
    if at and every:
        raise click.UsageError("give --at or --every, not both (without either: now)")
    if every:
        return "cron", None, every
    if at:
        try:
            return "at", parse_local(at, tz_name), None
        except ScheduleError as e:
            raise click.BadParameter(str(e), param_hint="--at") from None
    return "now", None, None


# -- showing -------------------------------------------------------------------------------------------------


def _money(value: float, currency: str) -> str:
    return f"{value:,.3f} {currency}"


def show_preview(console, info: dict, tz_name: str) -> None:
    from rich.table import Table
    from messages.schedule import show
    console.print(f"[bold]Campaign {info['campaign']}[/] {info['name']!r} ({info['status']})")
    console.print(f"Audience: {info['audience']}")
    table = Table("language", "recipients", "gets text", "segments each", "segments")
    for lang, row in info["languages"].items():
        table.add_row(lang, f"{row['recipients']:,}", row["text"], str(row["segments"]),
                      f"{row['total_segments']:,}")
    table.add_row("[bold]total", f"[bold]{info['recipients']:,}", "", "", f"[bold]{info['total_segments']:,}")
    print_tables(console, table)
    texts = Table("text", "encoding", "characters", "segments", "forces UCS-2")
    for lang, t in info["texts"].items():
        texts.add_row(lang, t["encoding"], str(t["characters"]), str(t["segments"]),
                      " ".join(t["ucs2_characters"]) if lang != "ar" else "")
    print_tables(console, texts)
    console.print(f"Estimated cost: [bold]{_money(info['estimated_cost'], info['currency'])}[/] "
                  f"({info['total_segments']:,} segments × {info['price_per_segment']} {info['currency']})")
    when = f"Starts {show(info['starts_at'], tz_name)}"
    if info["waits_for_quiet_hours"]:
        when += f" (after quiet hours {info['quiet_hours']})"
    if info["finishes_at"]:
        when += f", last message about {show(info['finishes_at'], tz_name)}"
    console.print(f"{when}; unsent messages expire {show(info['expires_at'], tz_name)}")
    for warning in info["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")


def show_results(console, campaign, res: dict, tz_name: str) -> None:
    from rich.table import Table
    from messages.campaigns import shown_status
    from messages.schedule import show
    status = shown_status(campaign.status, res)
    line = f"[bold]Campaign {campaign.id}[/] {campaign.name!r}: {status}"
    if campaign.next_run_at:
        line += f", next run {show(campaign.next_run_at, tz_name)}"
    console.print(line)
    table = Table("queued", "sending", "sent", "delivered", "failed", "skipped (opted out)", "expired",
                  "cancelled", "total")
    table.add_row(*(f"{res[k]:,}" for k in ("queued", "sending", "sent", "delivered", "failed", "skipped_opted_out",
                                             "expired", "cancelled", "total")))
    print_tables(console, table)


# -- commands ------------------------------------------------------------------------------------------------


@click.group()
def campaign():
    """Information blasts to opted-in subscribers (see `dalil campaign create --help`)."""


@campaign.command("create")
@click.argument("name")
@click.option("--text", "texts", multiple=True, metavar="LANG=TEXT",
              help="the text in one language (ar, fr, en); LANG=@FILE reads it from a file; repeatable")
@click.option("--fallback", default=None, help="language whose text goes to subscribers whose language has "
                                                "none; default: the only or the first text given")
@click.option("--governorate", "-g", "governorates", multiple=True, help="area code (kairouan); repeatable")
@click.option("--delegation", "-d", "delegations", multiple=True, help="area code (ben_guerdane); repeatable")
@click.option("--interest", "-i", "interests", multiple=True, type=click.Choice(INTERESTS),
              help="repeatable; any of them matches")
@click.option("--language", "-l", "languages", multiple=True, type=click.Choice(LANGUAGES),
              help="subscribers' language; repeatable")
@click.option("--since", default=None, help="only subscribers who opted in on or after YYYY-MM-DD")
@click.option("--audience", "audience_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON audience: a list of groups, any of which matches (each person gets one message)")
@click.option("--at", default=None, help="send once at this local time, \"YYYY-MM-DD HH:MM\"")
@click.option("--every", default=None, help="send on a recurrence, a crontab line in local time: "
                                            "\"0 9 * * mon\" is Mondays at 09:00")
@click.option("--rate", type=click.IntRange(min=0), default=None,
              help="messages a minute; default [campaigns] rate_per_minute (0: as fast as channels allow)")
@click.option("--expires", type=float, default=None,
              help="hours after a run starts when its unsent messages are dropped; default [campaigns] "
                   "expiry_hours")
@click.option("--json", "as_json", is_flag=True, help="print the preview as JSON")
@click.pass_obj
def create_command(obj, name, texts, fallback, governorates, delegations, interests, languages, since,
                   audience_file, at, every, rate, expires, as_json):
    """Create a draft campaign NAME and preview it. Nothing is sent until `campaign send`."""
    from messages import campaigns
    ctx = _ctx(obj)
    tz_name = ctx.config["gateway"]["timezone"]
    given = _texts(texts)
    if not given:
        raise click.UsageError("give at least one --text LANG=TEXT")
    audience = _audience(audience_file, governorates, delegations, interests, languages, since, tz_name)
    schedule, send_at, cron = _schedule(at, every, tz_name)
    with refused(campaigns.CampaignError):
        cid = campaigns.create(ctx, ctx.db(), name=name, texts=given,
                               fallback_language=fallback or next(iter(given)), audience=audience,
                               schedule=schedule, send_at=send_at, cron=cron, rate_per_minute=rate,
                               expiry_hours=expires)
    _print_preview(ctx, cid, as_json, created=True)


def _print_preview(ctx, cid: int, as_json: bool, created: bool = False):
    from messages import campaigns
    info = campaigns.preview(ctx, ctx.db(), _load(ctx, cid))
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=1))
        return
    console = _console()
    if created:
        console.print(f"campaign {cid} created as a draft; `dalil campaign send {cid}` sends it")
    show_preview(console, info, ctx.config["gateway"]["timezone"])


@campaign.command("preview")
@click.argument("campaign_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="print the preview as JSON (for scripts)")
@click.pass_obj
def preview_command(obj, campaign_id, as_json):
    """Recipients per language, encoding and segments of each text, total segments, estimated cost."""
    _print_preview(_ctx(obj), campaign_id, as_json)


@campaign.command("send")
@click.argument("campaign_id", type=int)
@click.option("--test", is_flag=True, help="only to staff numbers ([campaigns] staff_numbers or --to)")
@click.option("--to", "numbers", multiple=True, help="staff number for --test; repeatable")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
@click.pass_obj
def send_command(obj, campaign_id, test, numbers, yes):
    """Queue the campaign now, or hand it to the scheduler if it has a time or a recurrence."""
    from messages import campaigns
    ctx = _ctx(obj)
    camp = _load(ctx, campaign_id)
    if numbers and not test:
        raise click.UsageError("--to is for --test sends")
    with refused(campaigns.CampaignError):
        if test:
            n = campaigns.test_send(ctx, ctx.db(), camp, list(numbers) or None)
            click.echo(f"{n} test message(s) queued to staff numbers")
            return
        info = campaigns.preview(ctx, ctx.db(), camp)
        if not yes:
            show_preview(_console(), info, ctx.config["gateway"]["timezone"])
            click.confirm(f"Send to {info['recipients']:,} subscriber(s), about "
                          f"{_money(info['estimated_cost'], info['currency'])}?", abort=True)
        result = _send_with_progress(ctx, camp)
    _say_sent(ctx, campaign_id, result)


def _send_with_progress(ctx, camp):
    from messages import campaigns
    console = _console()
    with terminal.progress(console, "queueing") as bar:
        task = bar.add_task("queueing", total=None)

        def progress(done, total):
            bar.update(task, completed=done, total=total)
        return campaigns.send(ctx, ctx.db(), camp, progress=progress)


def _say_sent(ctx, campaign_id, result):
    from messages.schedule import show
    tz_name = ctx.config["gateway"]["timezone"]
    if result["status"] == "scheduled":
        click.echo(f"campaign {campaign_id} scheduled: first run {show(result['next_run_at'], tz_name)} "
                   f"(`dalil serve` runs it)")
    else:
        click.echo(f"campaign {campaign_id}: {result['queued']:,} message(s) queued, sending from "
                   f"{show(result['first_send_at'], tz_name)}")


def _step(name: str, verb: str, help_text: str):
    @campaign.command(name, help=help_text)
    @click.argument("campaign_id", type=int)
    @click.pass_obj
    def command(obj, campaign_id):
        from messages import campaigns
        ctx = _ctx(obj)
        with refused(campaigns.CampaignError):
            n = getattr(campaigns, name)(ctx, ctx.db(), _load(ctx, campaign_id))
        click.echo(f"campaign {campaign_id} {verb}: {n:,} queued message(s) affected")

_step("pause", "paused", "Stop sending and stop runs until resumed.")
_step("resume", "resumed", "Carry on sending (after quiet hours if they are on).")
_step("cancel", "cancelled", "Send nothing more: queued messages are dropped, runs stop.")


@campaign.command("status")
@click.argument("campaign_id", type=int, required=False)
@click.option("--watch", is_flag=True, help="show a progress bar until nothing is left to send")
@click.option("--json", "as_json", is_flag=True, help="print the counts as JSON (for scripts)")
@click.pass_obj
def status_command(obj, campaign_id, watch, as_json):
    """Without ID: every campaign. With ID: queued, sent, delivered, failed, skipped as opted out."""
    from messages import campaigns
    ctx = _ctx(obj)
    tz_name = ctx.config["gateway"]["timezone"]
    if campaign_id is None:
        return _list_campaigns(ctx, as_json)
    camp = _load(ctx, campaign_id)
    res = campaigns.results(ctx.db(), campaign_id)
    if as_json:
        click.echo(json.dumps({"id": camp.id, "status": camp.status, **res}))
        return
    console = _console()
    if watch and res["total"]:
        _watch(ctx, console, campaign_id, res)
        res = campaigns.results(ctx.db(), campaign_id)
    show_results(console, _load(ctx, campaign_id), res, tz_name)


def _watch(ctx, console, campaign_id, res):
    from messages import campaigns
    with terminal.progress(console, "sending") as bar:
        task = bar.add_task("sending", total=res["total"], completed=res["done"])
        while res["queued"] + res["sending"]:
            time.sleep(1.0)
            res = campaigns.results(ctx.db(), campaign_id)
            bar.update(task, completed=res["done"], total=res["total"])


def _list_campaigns(ctx, as_json):
    from rich.table import Table
    from messages import campaigns
    from messages.schedule import show
    rows = campaigns.listing(ctx.db())
    if as_json:
        click.echo(json.dumps(rows))
        return
    tz_name = ctx.config["gateway"]["timezone"]
    table = Table("id", "name", "status", "schedule", "next run", "messages", "waiting")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["status"], r["schedule"], show(r["next_run_at"], tz_name),
                      f"{r['messages']:,}", f"{r['waiting']:,}")
    print_tables(_console(), table)


def register(main: click.Group) -> None:
    main.add_command(campaign)
    main.add_command(subscribers)
