"""`dalil cso ...`, `dalil ledger ...`, `dalil report`, `dalil referrals expire` (gateway side) and
`dalil coordinator ...` (the coordinator's machine); `dalil desk ...` is in referrals/desk_cli.py."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from gateway.terminal import refused
from messages.i18n import LANGUAGES
from referrals.desk_cli import DEFAULT_DESK_HOME, desk


def _ctx(obj):
    return obj.dalil()


def _report_names(db, lang: str) -> tuple[dict, dict]:
    """Names of the report's area and need codes in one language (the console's reports page shows the same)."""
    from flows import directory
    from messages import i18n
    areas = {g["code"]: g["name"][lang] for g in directory.governorates(db)}
    areas["unknown"] = i18n.t(lang, "console.reports.unknown_area")
    needs = {term["code"]: term["name"][lang] for term in directory.taxonomy(db)}
    return areas, needs


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _read_registration(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise click.ClickException(f"{path}: cannot read the registration file ({e.__class__.__name__})") from None


# --- CSO registry ---------------------------------------------------------------------------------------
@click.group()
def cso():
    """Civil-society organisations that receive referrals."""


@cso.command("keygen")
@click.option("--home", default=DEFAULT_DESK_HOME, show_default=True, help="the desk's folder on the CSO's machine")
def cso_keygen(home):
    """Run on the CSO's machine: make its key pair; print the public line to give the gateway's operator."""
    from pathlib import Path
    from referrals.protocol import cso_keys
    path = Path(home) / "cso.key"
    if path.exists():
        raise click.ClickException(f"{path} exists: a CSO's key is never overwritten (move it away first)")
    public = cso_keys.keygen(path)
    click.echo(f"secret key written to {path} (keep it on this machine, back it up offline)")
    click.echo("give this public line to the gateway's operator for `dalil cso add --public-key`:")
    click.echo(public)


@cso.command("add")
@click.option("--registration", "registration_file", required=True, type=click.Path(dir_okay=False),
              help="the file `dalil coordinator sign` wrote for this CSO")
@click.option("--capacity", type=int, default=20, show_default=True, help="open referrals it can take")
@click.option("--caseworker-phone", default="", help="number that gets 'new referral R-XXXX (category)'")
@click.option("--language", type=click.Choice(LANGUAGES), default="fr", show_default=True,
              help="language of the caseworker's SMS notices")
@click.pass_obj
def cso_add(obj, registration_file, capacity, caseworker_phone, language):
    """Register a CSO from its coordinator-signed registration file; prints its desk token once."""
    from referrals import csos
    from referrals.protocol import registry
    from referrals.keyring import coordinator_key, log_key
    ctx = _ctx(obj)
    with refused(csos.RegistryError, ValueError):
        token = csos.register(ctx.db(), coordinator_key(ctx), _read_registration(registration_file),
                              capacity=capacity, notify_phone=caseworker_phone or None, language=language)
    cso_id = registry.read(_read_registration(registration_file))["cso"]
    click.echo(f"registered {cso_id}. Its desk token is shown only now:\n  {token}")
    click.echo("on the CSO's machine, run (the coordinator's key comes from the coordinator, not from here):")
    click.echo(f"  dalil desk connect --home {DEFAULT_DESK_HOME} --gateway {ctx.config['gateway']['public_url']} "
               f"--cso {cso_id} --token {token} --gateway-key {log_key(ctx).vkey} --coordinator-key <line>")


@cso.command("token")
@click.argument("cso_id")
@click.pass_obj
def cso_token(obj, cso_id):
    """Issue a new desk token for a CSO (the old one stops working)."""
    from referrals import csos
    with refused(csos.RegistryError):
        click.echo(csos.new_token(_ctx(obj).db(), cso_id))


@cso.command("list")
@click.option("--json", "as_json", is_flag=True, help="print the list as JSON (for scripts)")
@click.pass_obj
def cso_list(obj, as_json):
    """Registered CSOs, with their open referrals against capacity."""
    from referrals import csos, store
    db = _ctx(obj).db()
    load = store.open_load(db)
    rows = [csos.public_view(c, load.get(c["id"], 0)) for c in store.list_csos(db)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.table import Table
    from gateway.terminal import console, print_tables
    table = Table("id", "name", "needs", "areas", "open/capacity", "active")
    for r in rows:
        table.add_row(r["id"], r["name"], ", ".join(r["needs"]), ", ".join(r["areas"]),
                      f"{r['open']}/{r['capacity']}", "yes" if r["active"] else "no")
    print_tables(console(), table)


@cso.command("set")
@click.argument("cso_id")
@click.option("--registration", "registration_file", type=click.Path(dir_okay=False),
              help="a new version signed by the coordinator: keys, name, contact, needs, areas, or deactivation")
@click.option("--capacity", type=int, help="open referrals it can take at once (at least 1)")
@click.pass_obj
def cso_set(obj, cso_id, registration_file, capacity):
    """Apply a coordinator-signed change to a CSO, or change its capacity."""
    from referrals import csos
    from referrals.keyring import coordinator_key
    ctx = _ctx(obj)
    db = ctx.db()
    with refused(csos.RegistryError):
        if registration_file:
            record = csos.update(db, coordinator_key(ctx), _read_registration(registration_file))
            if record["cso"] != cso_id:
                raise csos.RegistryError(f"{registration_file} is the registration of '{record['cso']}'")
            click.echo(f"{cso_id}: version {record['seq']} applied" + ("" if record["active"] else
                                                                      " (deactivated)"))
        if capacity is not None:
            csos.set_capacity(db, cso_id, capacity)
            click.echo(f"{cso_id}: capacity {capacity}")

# --- the coordinator's key, on the coordinator's machine ------------------------------------------------
@click.group()
def coordinator():
    """The CSO network's coordinator: its offline key signs every CSO registration."""


@coordinator.command("keygen")
@click.option("--key", "key_path", default="coordinator.key", show_default=True, type=click.Path(dir_okay=False),
              help="where the coordinator's secret key is written (keep it offline)")
@click.option("--name", default="dalil-coordinator", show_default=True, help="the key's name (no spaces or +)")
def coordinator_keygen(key_path, name):
    """Make the coordinator's key (keep it offline); print the public line for the gateway and the desks."""
    from referrals.protocol import registry
    if Path(key_path).exists():
        raise click.ClickException(f"{key_path} exists: a coordinator key is never overwritten")
    with refused(ValueError):
        verifier = registry.keygen(key_path, name)
    click.echo(f"secret key written to {key_path}: keep it on this machine, offline, and back it up")
    click.echo("public line, for [referrals] coordinator_key on the gateway and `dalil desk connect "
               "--coordinator-key`:")
    click.echo(verifier.vkey)
    click.echo(f"fingerprint, to read out to each CSO by phone: {verifier.fingerprint()}")


@coordinator.command("sign")
@click.argument("cso_id")
@click.option("--key", "key_path", default="coordinator.key", show_default=True, type=click.Path(dir_okay=False),
              help="the coordinator's secret key, as `dalil coordinator keygen` wrote it")
@click.option("--from", "previous", type=click.Path(dir_okay=False, exists=True),
              help="the CSO's current registration file: the new one is its next version")
@click.option("--name", help="public name, said to the person on the consent screen")
@click.option("--contact", help="public contact given to the person")
@click.option("--needs", help="comma-separated: " + ", ".join(("legal", "documents", "health", "shelter",
                                                               "protection", "food", "work")))
@click.option("--areas", help="comma-separated governorate/delegation codes, or * for everywhere")
@click.option("--public-key", help="the line `dalil cso keygen` printed on the CSO's machine")
@click.option("--inactive", is_flag=True, help="take the CSO out: no referral or notice goes to it")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="the registration file to write")
def coordinator_sign(cso_id, key_path, previous, name, contact, needs, areas, public_key, inactive, out):
    """Sign a CSO's registration (a new CSO, or with --from the next version of one) into a file for
    `dalil cso add` / `dalil cso set`."""
    from referrals import csos
    from referrals.protocol import cso_keys, note, registry
    with refused(registry.RegistrationError, csos.RegistryError):
        signer, key = registry.load_key(key_path)
        if previous:
            old = registry.verify(_read_registration(previous), note.verifier(signer, bytes(key.verify_key)))
            if old["cso"] != cso_id:
                raise click.ClickException(f"{previous} is the registration of '{old['cso']}'")
            record = csos.new_record(
                cso_id, name=name or old["name"], contact=contact or old["contact"],
                needs=_split(needs) if needs else old["needs"], areas=_split(areas) if areas else old["areas"],
                public_bundle=public_key or cso_keys.bundle(old["box_key"], old["verify_key"]),
                seq=old["seq"] + 1, active=not inactive)
        else:
            missing = [o for o, v in (("--name", name), ("--contact", contact), ("--needs", needs),
                                      ("--areas", areas), ("--public-key", public_key)) if not v]
            if missing:
                raise click.ClickException(f"a new CSO needs {', '.join(missing)} (or --from its current file)")
            record = csos.new_record(cso_id, name=name, contact=contact, needs=_split(needs),
                                     areas=_split(areas), public_bundle=public_key, active=not inactive)
    if Path(out).exists():
        raise click.ClickException(f"{out} exists: write each version to a new file")
    Path(out).write_text(registry.sign(signer, key, record), encoding="utf-8")
    click.echo(f"wrote {out}: '{cso_id}' version {record['seq']}" + ("" if record["active"] else ", inactive"))
    click.echo(f"the gateway's operator applies it with `dalil cso {'set ' + cso_id if previous else 'add'} "
               f"--registration {out}`")

# --- the transparency log -------------------------------------------------------------------------------
@click.group("ledger")
def ledger_group():
    """The referral events' transparency log."""


@ledger_group.command("verify")
@click.pass_obj
def ledger_verify(obj):
    """Recompute every leaf and node and the signed checkpoint; name the first bad entry."""
    from referrals import ledger
    from referrals.keyring import log_key
    ctx = _ctx(obj)
    verdict = ledger.verify(ctx.db(), log_key(ctx))
    if verdict.ok:
        click.echo(f"ledger OK: {verdict.entries} entries, checkpoint at size {verdict.checkpoint}, "
                   f"root {verdict.root.hex()}")
        return
    first = verdict.first_bad_entry
    click.echo("ledger BROKEN: " + (f"first bad entry is #{first}" if first is not None else "see below"),
               err=True)
    for problem in verdict.problems[:20]:
        click.echo(f"  {problem}", err=True)
    if len(verdict.problems) > 20:
        click.echo(f"  ... and {len(verdict.problems) - 20} more", err=True)
    sys.exit(1)


@ledger_group.command("head")
@click.pass_obj
def ledger_head(obj):
    """Print the latest signed checkpoint (C2SP tlog-checkpoint) and the log's verifier key."""
    from referrals import ledger
    from referrals.keyring import gateway_key, log_key
    ctx = _ctx(obj)
    _, checkpoint = ledger.current_checkpoint(ctx.db(), gateway_key(ctx), ctx.config["referrals"]["log_origin"])
    click.echo(checkpoint, nl=False)
    click.echo(f"log key: {log_key(ctx).vkey}")


@ledger_group.command("checkpoint")
@click.pass_obj
def ledger_checkpoint(obj):
    """Sign a checkpoint now (`dalil serve` does it every [referrals] checkpoint_minutes)."""
    from referrals import ledger
    from referrals.keyring import gateway_key
    ctx = _ctx(obj)
    size, _ = ledger.sign_checkpoint(ctx.db(), gateway_key(ctx), ctx.config["referrals"]["log_origin"])
    click.echo(f"checkpoint at size {size}")

# --- reports and retention ------------------------------------------------------------------------------
@click.command("report")
@click.option("--json", "as_json", is_flag=True, help="the same JSON the municipality endpoint answers (codes)")
@click.option("--lang", type=click.Choice(LANGUAGES), default=None,
              help="language of the needs' and governorates' names (default: [gateway] default_language)")
@click.pass_obj
def report_cmd(obj, as_json, lang):
    """Referrals by need, governorate and closed month: under small_cell hidden, the rest rounded to 5."""
    from referrals import report
    ctx = _ctx(obj)
    lang = lang or ctx.config["gateway"]["default_language"]
    data = report.build(ctx.db(), ctx.config["referrals"]["small_cell"])
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    from rich.table import Table
    from gateway.terminal import console as terminal, print_tables
    from messages import i18n
    areas, needs = _report_names(ctx.db(), lang)
    console = terminal()
    if not data["months"]:
        console.print(i18n.t(lang, "console.reports.none"))
    for month in data["months"]:
        legend = i18n.t(lang, "console.reports.legend", small=data["suppressed_below"])
        table = Table(i18n.t(lang, "console.reports.need"), title=f"{month['month']}: {legend}")
        for g in data["governorates"]:
            table.add_column(areas.get(g, g), justify="right", no_wrap=True)
        table.add_column(i18n.t(lang, "console.reports.total"), justify="right", no_wrap=True)
        show = lambda v: "·" if v is None else str(v)  # noqa: E731
        for need in data["needs"]:
            table.add_row(needs.get(need, need), *[show(month["cells"][need][g]) for g in data["governorates"]],
                          show(month["need_totals"][need]))
        table.add_row(i18n.t(lang, "console.reports.total"),
                      *[show(month["governorate_totals"][g]) for g in data["governorates"]], show(month["total"]))
        print_tables(console, table)


@click.group("referrals")
def referrals_group():
    """Referral housekeeping."""


@referrals_group.command("expire")
@click.pass_obj
def referrals_expire(obj):
    """Delete envelopes no desk acknowledged within [referrals] expiry_days (`dalil serve` does it hourly)."""
    from referrals import relay
    ctx = _ctx(obj)
    click.echo(f"{relay.expire(ctx, ctx.db())} envelope(s) expired")


def register(main: click.Group) -> None:
    for command in (cso, coordinator, ledger_group, report_cmd, referrals_group, desk):
        main.add_command(command)
