"""`dalil jobs add | list | show | preview | send | close | trades | report`: the console's steps from a shell."""
from __future__ import annotations

import json

import click

from gateway.terminal import refused
from messages.i18n import LANGUAGES


def _ctx(obj):
    return obj.dalil()  # says which database; never starts an empty one


@click.group()
def jobs():
    """Skills profiles and job offers (docs/jobs.md)."""


@jobs.command("add")
@click.option("--trade", required=True, help="a trade code (dalil jobs trades)")
@click.option("--level", type=int, default=1, show_default=True, help="1 beginner, 2 experienced, 3 certified "
                                                                      "(the least a profile must have)")
@click.option("--kind", type=click.Choice(["full", "part", "seasonal"]), default="full", show_default=True,
              help="full time, part time or seasonal")
@click.option("--governorate", "-g", required=True, help="governorate code, e.g. kairouan")
@click.option("--delegation", "-d", default="", help="delegation code (optional)")
@click.option("--starts", required=True, help="first day, YYYY-MM-DD")
@click.option("--ends", required=True, help="last day, YYYY-MM-DD")
@click.option("--places", type=int, default=1, show_default=True, help="how many people are wanted")
@click.option("--contact", required=True, help="the number that gets the SMS of those who say yes")
@click.option("--contact-language", type=click.Choice(LANGUAGES), default=None,
              help="the language of that SMS (default: [gateway] default_language)")
@click.option("--text", "texts", multiple=True, required=True, help="LANG=TEXT, once per language (ar, fr, en)")
@click.pass_obj
def add(obj, trade, level, kind, governorate, delegation, starts, ends, places, contact, contact_language, texts):
    """Store a draft offer; refused, naming each field and language, while anything is wrong."""
    from jobs import offers
    ctx = _ctx(obj)
    given = {}
    for item in texts:
        lang, sep, text = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected LANG=TEXT", param_hint="--text")
        given[lang.strip()] = text
    raw = {"trade": trade, "level": level, "kind": kind, "governorate": governorate, "delegation": delegation,
           "starts": starts, "ends": ends, "places": places, "contact": contact,
           "contact_language": contact_language, "texts": given}
    with refused(offers.OfferError):
        offer_id = offers.add(ctx, ctx.db(), raw)
    click.echo(f"offer {offer_id}: draft; dalil jobs preview {offer_id}, then dalil jobs send {offer_id}")


@jobs.command("list")
@click.pass_obj
def listing(obj):
    """Every offer: id, state, trade, level, place, days, places."""
    from jobs import store
    ctx = _ctx(obj)
    for o in store.offers(ctx.db()):
        place = o["governorate"] + (f"/{o['delegation']}" if o["delegation"] else "")
        click.echo(f"{o['id']:>4}  {o['state']:<6}  {o['trade']:<12}  level {o['level']}  {o['kind']:<8}  "
                   f"{place:<24}  {o['starts']}..{o['ends']}  {o['places']} place(s)")


@jobs.command("show")
@click.argument("offer_id", type=int)
@click.pass_obj
def show(obj, offer_id):
    """One offer: its texts, the alert in each language, and its counts (small ones hidden)."""
    from jobs import offers, report
    ctx = _ctx(obj)
    with refused(offers.OfferError):
        offer = offers.load(ctx.db(), offer_id)
    click.echo(json.dumps({k: v for k, v in offer.items() if k != "texts"}, ensure_ascii=False))
    for lang in LANGUAGES:
        click.echo(f"--- alert ({lang})\n{offers.alert_text(ctx.db(), offer, lang)}")
    counts = report.offer_counts(ctx, ctx.db(), offer_id)
    click.echo("counts: " + ", ".join(f"{k} {'hidden' if v is None else v}" for k, v in counts.items()))


@jobs.command("preview")
@click.argument("offer_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="the figures as JSON")
@click.pass_obj
def preview(obj, offer_id, as_json):
    """Who the alerts would reach per language, segments, cost, and when they would start (quiet hours)."""
    from jobs import matching, offers
    ctx = _ctx(obj)
    with refused(offers.OfferError):
        p = matching.preview(ctx, ctx.db(), offer_id)
    if as_json:
        click.echo(json.dumps(p))
        return
    for lang, info in p["languages"].items():
        click.echo(f"{lang}: {info['recipients']} profile(s), {info['segments']} segment(s) each "
                   f"({info['encoding']})")
    click.echo(f"total: {p['recipients']} alert(s), {p['total_segments']} segment(s), about "
               f"{p['estimated_cost']} {p['currency']}; quiet hours {p['quiet_hours']}"
               + ("; starts when they end" if p["waits_for_quiet_hours"] else ""))


@jobs.command("send")
@click.argument("offer_id", type=int)
@click.pass_obj
def send(obj, offer_id):
    """Queue the alerts of a draft offer (once) and open it to answers."""
    from jobs import matching, offers
    ctx = _ctx(obj)
    with refused(offers.OfferError, matching.MatchError):
        n = matching.send_alerts(ctx, ctx.db(), offer_id)
    click.echo(f"offer {offer_id}: open; {n} alert(s) queued")


@jobs.command("close")
@click.argument("offer_id", type=int)
@click.pass_obj
def close(obj, offer_id):
    """Close an offer: a YES after this shares nothing."""
    from jobs import offers
    ctx = _ctx(obj)
    with refused(offers.OfferError):
        offers.close(ctx, ctx.db(), offer_id)
    click.echo(f"offer {offer_id}: closed")


@jobs.command("trades")
@click.pass_obj
def trades(obj):
    """The trades a profile can choose, in menu order."""
    from jobs import store, taxonomy
    db = _ctx(obj).db()
    for code, label in taxonomy.trade_labels(store.trades(db), "en"):
        click.echo(f"{code:<16} {label}")


@jobs.command("report")
@click.option("--json", "as_json", is_flag=True, help="the figures as JSON")
@click.pass_obj
def report_(obj, as_json):
    """Counts for the municipality and partners: profiles by trade and level, offers, answers; small hidden."""
    from jobs import report
    ctx = _ctx(obj)
    built = report.build(ctx, ctx.db())
    if as_json:
        click.echo(json.dumps(built))
        return
    show = lambda v: "·" if v is None else str(v)  # noqa: E731
    click.echo("trade           " + " ".join(f"{lv:>5}" for lv in built["levels"]) + "  total")
    for trade, row in zip(built["trades"] + ["total"], built["by_trade_level"]):
        click.echo(f"{trade:<16}" + " ".join(f"{show(v):>5}" for v in row))
    click.echo("offers: " + ", ".join(f"{k} {v}" for k, v in built["offers"].items()))
    click.echo("answers: " + ", ".join(f"{k} {show(v)}" for k, v in built["answers"].items()))


def register(main: click.Group) -> None:
    main.add_command(jobs)
