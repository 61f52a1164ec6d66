"""Console accounts, for administrators: add a user, change a role, reset a password, deactivate.

The last active administrator cannot be demoted or deactivated (nobody could manage accounts any more).
"""
from __future__ import annotations

import logging

from flask import g, redirect, request, url_for

from gateway.context import dalil
from gateway.console import bp, ui, users

log = logging.getLogger(__name__)


def _page(status: int = 200, **context):
    context.setdefault("errors", ui.Errors())
    context.setdefault("values", {"role": "campaign", "language": ui.lang()})
    errors = context["errors"]
    return ui.render("users.html", status, accounts=users.list_users(dalil().db()), roles=users.ROLES,
                     role_options=[(r, ui.t(f"console.role.{r}")) for r in users.ROLES],
                     add_errors=bool(errors) and not any(k.startswith("row") for k in errors),
                     saved=request.args.get("saved"), **context)


@bp.get("/users")
@ui.area("users")
def users_page():
    return _page()


@bp.post("/users")
@ui.area("users")
def user_add():
    form = request.form
    errors = ui.Errors()
    values = {k: form.get(k, "") for k in ("username", "role", "language")}
    if form.get("password", "") != form.get("password2", ""):
        errors.add("password2", "console.users.mismatch")
    else:
        try:
            users.create(dalil().db(), values["username"], form.get("password", ""), values["role"],
                         values["language"] or "ar")
        except users.UserError as e:
            errors.add(e.field, f"console.users.error.{e.code}", min=ui.number(users.MIN_PASSWORD))
    if errors:
        return _page(422, errors=errors, values=values)
    log.info("console: %s added the %s account %s", g.user["username"], values["role"], values["username"])
    return redirect(url_for("console.users_page", saved=values["username"]), 303)


@bp.post("/users/<int:user_id>")
@ui.area("users")
def user_change(user_id: int):
    db = dalil().db()
    account = users.get(db, user_id)
    if account is None:
        return ui.error_page(404, "console.error.404.title", "console.users.not_found")
    form = request.form
    errors = ui.Errors()
    role = form.get("role") or None
    active = {"1": True, "0": False}.get(form.get("active", ""))
    password = form.get("password") or None
    last_admin = account["role"] == "admin" and account["active"] and users.count_active_admins(db) <= 1
    if last_admin and ((role and role != "admin") or active is False):
        errors.add(f"row{user_id}", "console.users.last_admin")
    else:
        try:
            users.update(db, user_id, role=role, active=active, password=password)
        except users.UserError as e:
            errors.add(f"row{user_id}", f"console.users.error.{e.code}", min=ui.number(users.MIN_PASSWORD))
    if errors:
        return _page(422, errors=errors)
    log.info("console: %s changed the account %s", g.user["username"], account["username"])
    return redirect(url_for("console.users_page", saved=account["username"]), 303)
