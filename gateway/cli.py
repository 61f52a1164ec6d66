"""The `dalil` command. Each package adds its own subcommands from its own cli module, listed at the end."""
from __future__ import annotations

import json
import os
import sys

import click

from gateway import config as config_module
from gateway import pgstore
from gateway.terminal import refused

class Context:
    """What every subcommand shares: the config, and the database it names (never created by accident)."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path

    def config(self) -> dict:
        with refused(config_module.ConfigError):
            return config_module.load(self.config_path)

    def config_file(self) -> str:
        """The file a user edits to change a key: the one in use, or where one would be read from."""
        return self.config_path or str(config_module.home() / "dalil.toml")

    def _database(self, cfg: dict, create: bool) -> None:
        """Say which database a command reads; refuse to start an empty one except at `init` and `demo`."""
        path = cfg["gateway"]["database"]
        if pgstore.is_url(path):
            return self._postgresql(path)
        if path != ":memory:" and not create and not os.path.exists(path):
            raise click.ClickException(
                f"no Dalil database at {path}. Run `dalil init` (or `dalil demo`) to create it, or point "
                f"--config, $DALIL_CONFIG or $DALIL_HOME at the Dalil home that has one.")
        click.echo(f"database: {path}", err=True)

    def _postgresql(self, url: str) -> None:
        shown = pgstore.hide_password(url)
        try:
            pgstore.connect(url)
        except pgstore.OperationalError as e:
            reason = " ".join(str(e).split()) or type(e).__name__
            raise click.ClickException(f"cannot reach the database {shown} ([gateway] database in "
                                       f"{self.config_file()}): {reason}") from None
        click.echo(f"database: {shown}", err=True)

    def dalil(self, create: bool = False):
        """The gateway's context (config, database, keys) without the web app."""
        from gateway import initialize
        cfg = self.config()
        self._database(cfg, create)
        return initialize(cfg, self.config_path)

    def app(self, create: bool = False):
        from gateway import create_app
        cfg = self.config()
        self._database(cfg, create)
        with refused(config_module.ConfigError):
            return create_app(self.config_path or cfg)


def _default_config() -> str | None:
    found = config_module.find_config()
    return str(found) if found else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "-c", "config_path", default=_default_config,
              show_default="$DALIL_CONFIG, else dalil.toml in the Dalil home",
              help="TOML config file; without one, the built-in defaults, with the database and keys in the Dalil "
                   "home ($DALIL_HOME, else the platform's data folder; `dalil init` prints it).")
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


def _add_subcommands() -> None:
    """Each package's commands: its cli module's register(main) adds them to the group."""
    from flows import cli as flows_cli
    from flows import directory_cli
    from gateway import backup_cli, commands, delivery_cli, migrate_cli
    from gateway.console import cli as console_cli
    from jobs import cli as jobs_cli
    from messages import cli as messages_cli
    from polls import cli as polls_cli
    from referrals import cli as referrals_cli
    for package_cli in (commands, backup_cli, delivery_cli, flows_cli, directory_cli, messages_cli, referrals_cli,
                        console_cli, polls_cli, jobs_cli, migrate_cli):
        package_cli.register(main)


_add_subcommands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
