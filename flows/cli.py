"""`dalil flows check` and `dalil simulate`, an interactive phone in the terminal."""
from __future__ import annotations

import itertools
import secrets
from pathlib import Path

import click

from messages.i18n import LANGUAGES


def register(main: click.Group) -> None:
    @main.group()
    def flows():
        """Menu flows defined as data (TOML) under flows/definitions."""

    @flows.command("check")
    @click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
                  show_default="[flows] directory, else the flows Dalil ships", help="folder of flow files")
    @click.pass_obj
    def check_command(obj, directory):
        """Validate every flow: choices lead somewhere, texts exist in ar/fr/en, screens fit the budget
        (as [ussd] screen_gsm7/screen_ucs2 and fold_accents of the configuration set it). The gateway runs the
        same check at start and refuses to start on a problem."""
        from flows.check import check, configured
        configured_dir, budget, folded = configured(obj.config())
        directory = directory or configured_dir
        flows_found, problems = check(directory, budget, folded)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        if problems:
            raise click.ClickException(f"{len(problems)} problem(s) in {directory}")
        files = {s.source for s in flows_found.screens.values()}
        click.echo(f"ok: {len(flows_found.screens)} screens in {len(files)} files, every text in ar, fr and en")

    @main.command()
    @click.option("--mode", type=click.Choice(["ussd", "sms"]), default="ussd", show_default=True,
                  help="ussd: screens and key presses; sms: the same menus as a text conversation")
    @click.option("--phone", default="+21620000001", show_default=True, help="the simulated caller's number")
    @click.option("--lang", type=click.Choice(LANGUAGES), default=None,
                  help="answer the language question in advance")
    @click.pass_obj
    def simulate(obj, mode, phone, lang):
        """Dial the flows from the terminal, as a basic phone would (USSD or SMS)."""
        Phone(obj.app(), mode, phone, lang).run()


class Phone:
    """A basic phone: shows each screen with its length, reads the caller's key presses."""

    def __init__(self, app, mode: str, phone: str, lang: str | None):
        from rich.console import Console
        from flows.calls import caller
        from gateway.contacts import normalize
        self.app, self.mode, self.phone = app, mode, normalize(phone)
        self.ctx = app.extensions["dalil"]
        self.console = Console()
        self.sessions = itertools.count(1)
        self.last_outbox = self._outbox_high_water()
        if lang:
            from gateway import contacts
            with app.test_request_context():
                _, key = caller(self.ctx, phone)
            contacts.remember(self.ctx.db(), key, language=lang)

    def run(self) -> None:
        self.console.print(f"[bold]Dalil simulator[/] ({self.mode}) as {self.phone}. Type a number, "
                           f"'q' to hang up.")
        while self._dial():
            if not click.confirm("Dial again?", default=True):
                break

    def _dial(self) -> bool:
        session_id = f"sim-{next(self.sessions)}"
        inputs: list[str] = []
        answer = ""
        while True:
            text, end = self._hop(session_id, inputs, answer)
            self._show(text, end)
            self._show_new_sms()
            if end:
                return True
            answer = click.prompt(">", default="", show_default=False)
            if answer.strip().lower() == "q":
                return False
            inputs.append(answer)

    def _hop(self, session_id: str, inputs: list[str], answer: str) -> tuple[str, bool]:
        with self.app.test_request_context():
            if self.mode == "ussd":
                from flows import ussd
                reply = ussd.hop(self.ctx, channel="simulator", session_id=session_id, phone=self.phone,
                                 text="*".join(inputs), input_mode="whole")
                return reply.text, reply.end
            # the real inbound path, as a provider's webhook takes it: keywords (STOP, JOIN, HELP, erasure)
            # first, then the menu conversation; the replies are read back from the outbox
            from gateway.inbound import InboundSMS, receive_sms
            receive_sms(self.ctx, InboundSMS(channel="simulator", phone=self.phone, text=answer or "MENU",
                                             provider_id=f"{session_id}-{len(inputs)}-{secrets.token_hex(4)}"))
            return "", False

    def _show(self, text: str, end: bool) -> None:
        from rich.panel import Panel
        if not text:
            return  # SMS mode: the replies are shown as the SMS they are
        from messages.segments import count, screen_length
        encoding, units = screen_length(text)
        if self.mode == "ussd":
            limit = self.ctx.config["ussd"]["screen_gsm7" if encoding == "GSM-7" else "screen_ucs2"]
            subtitle = f"{units}/{limit} {encoding}" + ("  END" if end else "")
        else:
            seg = count(text)
            subtitle = f"{seg.characters} {seg.encoding}, {seg.segments} segment(s)"
        self.console.print(Panel(text, width=34, subtitle=subtitle, title=self.mode.upper()))

    def _outbox_high_water(self) -> int:
        from gateway import outbox
        return outbox.last_id(self.ctx.db())

    def _show_new_sms(self) -> None:
        from gateway import outbox
        rows = [(r["id"], r["body"]) for r in outbox.readable(self.ctx.db(), self.last_outbox)
                if r["to_number"] == self.phone]
        for row_id, body in rows:
            self.last_outbox = row_id
            if body and self.mode == "sms":
                self._show_sms(body)
            elif body:
                self.console.print(f"[green]SMS received:[/] {body}")

    def _show_sms(self, body: str) -> None:
        from rich.panel import Panel
        from messages.segments import count
        seg = count(body)
        self.console.print(Panel(body, width=34, subtitle=f"{seg.characters} {seg.encoding}, {seg.segments} "
                                                          f"segment(s)", title="SMS"))
