"""The `dalil` command. Each package adds its own subcommands from its own cli module."""
from __future__ import annotations

import importlib
import json
import os
import sys

import click

from gateway import config as config_module

CLI_MODULES = ("gateway.commands", "gateway.delivery_cli", "flows.cli", "flows.directory_cli", "messages.cli",
               "referrals.cli", "gateway.console.cli", "polls.cli")


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path

    def config(self) -> dict:
        try:
            return config_module.load(self.config_path)
        except config_module.ConfigError as e:
            raise click.ClickException(str(e)) from None

    def app(self):
        from gateway import create_app
        try:
            return create_app(self.config_path)
        except config_module.ConfigError as e:
            raise click.ClickException(str(e)) from None


def _default_config() -> str | None:
    if os.environ.get("DALIL_CONFIG"):
        return os.environ["DALIL_CONFIG"]
    return "dalil.toml" if os.path.exists("dalil.toml") else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", "config_path", default=_default_config, show_default="$DALIL_CONFIG or ./dalil.toml",
              help="TOML config file; without one, the built-in demo defaults are used.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Dalil: SMS/USSD information and referral gateway."""
    ctx.obj = Context(config_path)


@main.command()
@click.argument("text")
def segments(text: str) -> None:
    """Print the encoding, characters and SMS segments of TEXT as JSON."""
    from messages.segments import count
    click.echo(json.dumps(count(text).as_dict()))


def _load_subcommands() -> None:
    for name in CLI_MODULES:
        importlib.import_module(name).register(main)


_load_subcommands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
