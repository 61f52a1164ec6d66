"""`dalil cso ...`, `dalil ledger ...`, `dalil report`, `dalil referrals expire` (gateway side) and
`dalil desk ...` (the CSO's machine: needs the CSO key folder, not the gateway's config)."""
from __future__ import annotations

import json
import sys

import click

DEFAULT_DESK_HOME = "dalil-desk"


def _ctx(obj):
    from gateway import initialize
    return initialize(obj.config())


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def register(main: click.Group) -> None:
    # --- CSO registry ---------------------------------------------------------------------------------------
    @main.group()
    def cso():
        """Civil-society organisations that receive referrals."""

    @cso.command("keygen")
    @click.option("--home", default=DEFAULT_DESK_HOME, show_default=True, help="the desk's folder on the CSO's machine")
    def cso_keygen(home):
        """Run on the CSO's machine: make its key pair; print the public line to give the gateway's operator."""
        from pathlib import Path
        from referrals import csos
        path = Path(home) / "cso.key"
        if path.exists():
            raise click.ClickException(f"{path} exists: a CSO's key is never overwritten (move it away first)")
        public = csos.keygen(path)
        click.echo(f"secret key written to {path} (keep it on this machine, back it up offline)")
        click.echo("give this public line to the gateway's operator for `dalil cso add --public-key`:")
        click.echo(public)

    @cso.command("add")
    @click.argument("cso_id")
    @click.option("--name", required=True, help="public name, said to the person on the consent screen")
    @click.option("--contact", required=True, help="public contact sent to the person (phone, address)")
    @click.option("--needs", required=True, help="comma-separated: legal, documents, health, shelter, protection, "
                                                  "food, work")
    @click.option("--areas", required=True, help="comma-separated governorate/delegation codes, or * for everywhere")
    @click.option("--capacity", type=int, default=20, show_default=True, help="open referrals it can take")
    @click.option("--public-key", required=True, help="the line `dalil cso keygen` printed")
    @click.option("--caseworker-phone", default="", help="number that gets 'new referral R-XXXX (category)'")
    @click.option("--language", type=click.Choice(["ar", "fr", "en"]), default="fr", show_default=True)
    @click.pass_obj
    def cso_add(obj, cso_id, name, contact, needs, areas, capacity, public_key, caseworker_phone, language):
        """Register a CSO; prints its desk token once."""
        from referrals import csos
        from referrals.keyring import gateway_key
        ctx = _ctx(obj)
        try:
            token = csos.register(ctx.db(), cso_id, name=name, contact=contact, needs=_split(needs),
                                  areas=_split(areas), capacity=capacity, public_bundle=public_key,
                                  notify_phone=caseworker_phone or None, language=language)
        except csos.RegistryError as e:
            raise click.ClickException(str(e)) from None
        key = bytes(gateway_key(ctx).verify_key).hex()
        click.echo(f"registered {cso_id}. Its desk token is shown only now:\n  {token}")
        click.echo("on the CSO's machine, run:")
        click.echo(f"  dalil desk connect --home {DEFAULT_DESK_HOME} --gateway {ctx.config['gateway']['public_url']} "
                   f"--cso {cso_id} --token {token} --gateway-key {key}")

    @cso.command("token")
    @click.argument("cso_id")
    @click.pass_obj
    def cso_token(obj, cso_id):
        """Issue a new desk token for a CSO (the old one stops working)."""
        from referrals import csos
        try:
            click.echo(csos.new_token(_ctx(obj).db(), cso_id))
        except csos.RegistryError as e:
            raise click.ClickException(str(e)) from None

    @cso.command("list")
    @click.option("--json", "as_json", is_flag=True)
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
        from rich.console import Console
        from rich.table import Table
        table = Table("id", "name", "needs", "areas", "open/capacity", "active")
        for r in rows:
            table.add_row(r["id"], r["name"], ", ".join(r["needs"]), ", ".join(r["areas"]),
                          f"{r['open']}/{r['capacity']}", "yes" if r["active"] else "no")
        Console().print(table)

    @cso.command("set")
    @click.argument("cso_id")
    @click.option("--capacity", type=int)
    @click.option("--active/--inactive", default=None)
    @click.pass_obj
    def cso_set(obj, cso_id, capacity, active):
        """Change a CSO's capacity, or take it out of routing (--inactive)."""
        from referrals import store
        db = _ctx(obj).db()
        if not store.get_cso(db, cso_id):
            raise click.ClickException(f"no CSO '{cso_id}'")
        fields = {k: v for k, v in (("capacity", capacity), ("active", active)) if v is not None}
        if fields.get("capacity", 1) < 1:
            raise click.ClickException("capacity must be at least 1")
        if fields:
            store.update_cso(db, cso_id, **fields)
        click.echo(f"{cso_id}: {fields or 'unchanged'}")

    # --- the transparency log -------------------------------------------------------------------------------
    @main.group("ledger")
    def ledger_group():
        """The referral events' transparency log."""

    @ledger_group.command("verify")
    @click.pass_obj
    def ledger_verify(obj):
        """Recompute every leaf, node and signed head; name the first bad entry."""
        from referrals import ledger
        from referrals.keyring import gateway_key
        ctx = _ctx(obj)
        verdict = ledger.verify(ctx.db(), gateway_key(ctx).verify_key)
        if verdict.ok:
            click.echo(f"ledger OK: {verdict.entries} entries, {verdict.heads} signed heads, root {verdict.root.hex()}")
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
        """Print the current signed tree head and the gateway's public key as JSON."""
        from referrals import ledger
        from referrals.keyring import gateway_key
        ctx = _ctx(obj)
        key = gateway_key(ctx)
        click.echo(json.dumps({"head": ledger.current_head(ctx.db(), key),
                               "gateway_key": bytes(key.verify_key).hex()}, indent=2))

    # --- reports and retention ------------------------------------------------------------------------------
    @main.command("report")
    @click.option("--json", "as_json", is_flag=True, help="the same JSON the municipality endpoint answers")
    @click.pass_obj
    def report_cmd(obj, as_json):
        """Referrals by need, governorate and month; cells under [referrals] small_cell suppressed."""
        from referrals import report
        ctx = _ctx(obj)
        data = report.build(ctx.db(), ctx.config["referrals"]["small_cell"])
        if as_json:
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        from rich.console import Console
        from rich.table import Table
        console = Console()
        if not data["months"]:
            console.print("no referrals yet")
        for month in data["months"]:
            table = Table("need", *data["governorates"], "total", title=f"{month['month']} (· = fewer than "
                                                                          f"{data['suppressed_below']} or hidden)")
            show = lambda v: "·" if v is None else str(v)  # noqa: E731
            for need in data["needs"]:
                table.add_row(need, *[show(month["cells"][need][g]) for g in data["governorates"]],
                              show(month["need_totals"][need]))
            table.add_row("total", *[show(month["governorate_totals"][g]) for g in data["governorates"]],
                          show(month["total"]))
            console.print(table)

    @main.group("referrals")
    def referrals_group():
        """Referral housekeeping."""

    @referrals_group.command("expire")
    @click.pass_obj
    def referrals_expire(obj):
        """Delete envelopes no desk acknowledged within [referrals] expiry_days (`dalil serve` does it hourly)."""
        from referrals import relay
        ctx = _ctx(obj)
        click.echo(f"{relay.expire(ctx, ctx.db())} envelope(s) expired")

    # --- the CSO desk ---------------------------------------------------------------------------------------
    @main.group()
    def desk():
        """The CSO desk: runs on the caseworker's machine with the CSO's secret key."""

    home_option = click.option("--home", default=DEFAULT_DESK_HOME, show_default=True,
                               help="the desk's folder (cso.key, desk.toml, desk.db)")

    @desk.command("connect")
    @home_option
    @click.option("--gateway", "gateway_url", required=True, help="the gateway's URL")
    @click.option("--cso", "cso_id", required=True)
    @click.option("--token", required=True)
    @click.option("--gateway-key", required=True, help="the gateway's public key, as `dalil cso add` printed it")
    @click.option("--language", type=click.Choice(["ar", "fr", "en"]), default="fr", show_default=True)
    def desk_connect(home, gateway_url, cso_id, token, gateway_key, language):
        """Write the desk's settings (desk.toml) next to its key."""
        from referrals.desk import home as desk_home
        try:
            path = desk_home.connect(home, gateway_url, cso_id, token, gateway_key, language)
        except desk_home.DeskError as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"wrote {path}; now `dalil desk sync --home {home}` or `dalil desk serve --home {home}`")

    def _load(home):
        from referrals.desk import home as desk_home
        try:
            return desk_home.load(home)
        except desk_home.DeskError as e:
            raise click.ClickException(str(e)) from None

    @desk.command("sync")
    @home_option
    def desk_sync(home):
        """Send queued decisions, check the log, fetch and open new referrals, apply erasure requests."""
        from referrals.desk import client
        result = client.sync(_load(home))
        click.echo(f"received {result.received}, erased {result.erased}, sent {result.sent}")
        for alert in result.alerts:
            click.echo(f"ALERT: {alert}", err=True)
        if result.error:
            raise click.ClickException(result.error)
        if result.alerts:
            sys.exit(2)

    @desk.command("serve")
    @home_option
    @click.option("--port", type=int, default=8765, show_default=True)
    @click.option("--sync-minutes", type=float, default=5.0, show_default=True, help="0: only on demand")
    def desk_serve(home, port, sync_minutes):
        """The local inbox on http://127.0.0.1:PORT (loopback only)."""
        import threading
        import waitress
        from referrals.desk import client
        from referrals.desk.web import create_desk_app
        desk_ = _load(home)
        app = create_desk_app(desk_)
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                with app.extensions["desk.sync_lock"]:
                    client.sync(desk_)
                if sync_minutes <= 0 or stop.wait(sync_minutes * 60):
                    return
        threading.Thread(target=loop, daemon=True).start()
        click.echo(f"Dalil desk for {desk_.cso_id} on http://127.0.0.1:{port}")
        try:
            waitress.serve(app, host="127.0.0.1", port=port, threads=4, ident="dalil-desk")
        finally:
            stop.set()
