"""`dalil user add` (the first account, or any account from a script) and `dalil user list`."""
from __future__ import annotations

import sys

import click


def _db(obj):
    return obj.dalil().db()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def register(main: click.Group) -> None:
    from gateway.console import users

    @main.group("user")
    def user_group():
        """Staff console accounts (roles: admin, campaign, municipality)."""

    @user_group.command("add")
    @click.argument("username")
    @click.option("--role", type=click.Choice(users.ROLES), required=True,
                  help="admin: everything; campaign: directory, flows, campaigns, subscribers, simulator; "
                       "municipality: reports and aggregate numbers only")
    @click.option("--language", type=click.Choice(users.LANGUAGES), default="ar", show_default=True,
                  help="the console's language for this account")
    @click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin (scripts)")
    @click.pass_obj
    def add(obj, username, role, language, password_stdin):
        """Create an account; the password is asked twice (or read from stdin)."""
        db = _db(obj)
        try:
            users.check_username(username)
            if users.by_name(db, username):
                raise users.UserError("username", "username_taken", f"a user named {username!r} already exists")
            users.create(db, username, _password(password_stdin), role, language)
        except users.UserError as e:
            raise click.ClickException(f"{e.field}: {e}") from None
        click.echo(f"added {username} ({role}); sign in at /console/login")

    @user_group.command("passwd")
    @click.argument("username")
    @click.option("--password-stdin", is_flag=True, help="read the new password from the first line of stdin")
    @click.pass_obj
    def passwd(obj, username, password_stdin):
        """Set a new password (and end the account's open sessions)."""
        db = _db(obj)
        account = users.by_name(db, username)
        if account is None:
            raise click.ClickException(f"no user named {username!r}")
        try:
            users.update(db, account["id"], password=_password(password_stdin), active=True)
        except users.UserError as e:
            raise click.ClickException(f"{e.field}: {e}") from None
        click.echo(f"password of {account['username']} changed")

    @user_group.command("list")
    @click.pass_obj
    def list_command(obj):
        """Every account with its role, state and last sign-in."""
        from messages.schedule import show
        ctx = obj.dalil()
        tz_name = ctx.config["gateway"]["timezone"]
        rows = users.list_users(ctx.db())
        if not rows:
            click.echo("no accounts yet: dalil user add NAME --role admin")
            return
        for row in rows:
            last = f"{show(row['last_login'], tz_name)} ({tz_name})" if row["last_login"] else "never"
            state = "active" if row["active"] else "deactivated"
            click.echo(f"{row['username']:<24} {row['role']:<13} {row['language']:<3} {state:<12} last sign-in {last}")
