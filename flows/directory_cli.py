"""`dalil directory import | export | list`: the programme/service directory as HSDS 3.0 JSON."""
from __future__ import annotations

import json
from pathlib import Path

import click

from messages.i18n import LANGUAGES


def _db(obj):
    return obj.app().extensions["dalil"].db()


def _read_json(path: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise click.ClickException(f"{path}: not valid JSON: {e}") from None


def register(main: click.Group) -> None:
    @main.group()
    def directory():
        """The programme/service directory (Open Referral HSDS 3.0 JSON)."""

    @directory.command("import")
    @click.argument("file", metavar="FILE")
    @click.pass_obj
    def import_command(obj, file):
        """Import an HSDS document; a bad one imports nothing and names the record and field."""
        from flows.directory import DirectoryImportError, import_hsds
        data = _read_json(file)
        try:
            counts = import_hsds(_db(obj), data)
        except DirectoryImportError as e:
            raise click.ClickException(f"{file}: {e}") from None
        click.echo(f"imported {counts['organizations']} organizations, {counts['services']} services, "
                   f"{counts['locations']} locations from {file}")

    @directory.command("export")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="write to this file instead of standard output")
    @click.pass_obj
    def export_command(obj, output):
        """Print (or write) the whole directory as an HSDS document that `directory import` reads back."""
        from flows.directory import export_hsds
        doc = export_hsds(_db(obj))
        text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
        if output is None:
            click.echo(text, nl=False)
            return
        output.write_text(text, encoding="utf-8")
        click.echo(f"exported {len(doc['services'])} services to {output}", err=True)

    @directory.command("list")
    @click.option("--category", "-c", "categories", multiple=True,
                  help="taxonomy code (jobs, training, business, municipal, legal, ...); repeatable; default all")
    @click.option("--governorate", "-g", default=None, help="area code such as tataouine; default everywhere")
    @click.option("--lang", type=click.Choice(LANGUAGES), default="fr", show_default=True,
                  help="language of the names shown")
    @click.pass_obj
    def list_command(obj, categories, governorate, lang):
        """Active services as a caller would see them: local ones first, then national ones."""
        from flows import directory as d
        db = _db(obj)
        codes = [t["code"] for t in d.taxonomy(db)]
        unknown = [c for c in categories if c not in codes]
        if unknown:
            raise click.ClickException(f"unknown category {', '.join(unknown)}; known: {', '.join(codes)}")
        known = [g["code"] for g in d.governorates(db)]
        if governorate and governorate not in known:
            raise click.ClickException(f"unknown governorate {governorate!r}; known: {', '.join(known)}")
        services = d.list_services(db, list(categories) or codes, governorate)
        for s in services:
            click.echo(f"{s['id']}  {s['short_name'][lang]:<24}  {s['name'][lang]}")
        click.echo(f"{len(services)} services", err=True)
