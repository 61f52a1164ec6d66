"""The console's poll pages: the list, a poll's results (tables, SVG charts, CSV), and for campaign staff and
administrators the definition form, open, close and the SMS invitation.

A blueprint nested under the console's (gateway/console/__init__.py), so it shares its sign-in, CSRF check,
headers and error pages. The checks and the numbers are polls.lifecycle's and polls.results' (the same as
`dalil poll ...`); nothing is recomputed here. The municipality sees results: counts only, small cells hidden.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, g, redirect, request, url_for

from flows import directory as dirmod
from gateway.context import dalil
from gateway.console import charts, ui
from messages.i18n import LANGUAGES, is_rtl
from polls import lifecycle, results, store
from polls.model import PollError

bp = Blueprint("polls", __name__, url_prefix="/polls", template_folder="templates")


def _poll_or_404(poll_id: int):
    try:
        return lifecycle.load(dalil().db(), poll_id)
    except PollError:
        abort(404)


def _built(poll) -> dict:
    ctx = dalil()
    return results.build(ctx.db(), poll, ctx.config["polls"]["small_cell"])


def _area_names() -> dict:
    names = {gv["code"]: ui.text_of(gv["name"]) for gv in dirmod.governorates(dalil().db())}
    names["unknown"] = ui.t("console.polls.unknown_area")
    return names | {lang: ui.t(f"console.lang.{lang}") for lang in LANGUAGES}


def _manager() -> bool:
    return ui.allowed(g.user["role"], "polls_manage")


@bp.get("")
@ui.area("polls")
def polls_page():
    db = dalil().db()
    rows = [{**row, "respondents": store.respondents(db, row["id"])} for row in store.listing(db)]
    return ui.render("polls/polls.html", rows=rows, manager=_manager(), small=dalil().config["polls"]["small_cell"])


@bp.route("/new", methods=["GET", "POST"])
@ui.area("polls_manage")
def poll_new():
    source = request.form.get("definition", "") if request.method == "POST" else _sample()
    errors = ui.Errors()
    if request.method == "POST":
        try:
            poll_id, _ = lifecycle.create(dalil(), dalil().db(), source)
        except PollError as e:
            errors.add_text("definition", str(e))
        else:
            return redirect(url_for("console.polls.poll_page", poll_id=poll_id, done="created"), 303)
    return ui.render("polls/poll_form.html", 400 if errors else 200, source=source, errors=errors, poll=None)


def _sample() -> str:
    from pathlib import Path
    return (Path(__file__).parent / "demo" / "water.toml").read_text(encoding="utf-8")


@bp.get("/<int:poll_id>")
@ui.area("polls")
def poll_page(poll_id: int):
    return _page(_poll_or_404(poll_id))


def _page(poll, status: int = 200, error: str | None = None):
    """A poll's results (and, for staff, its checks and buttons); ``error``: why the last step was refused."""
    ctx, db = dalil(), dalil().db()
    built = _built(poll)
    lang = ui.lang()
    chart_list = {n: charts.shares([(o["label"][lang], o["count"], o["percent"]) for o in q["options"]],
                                   ui.t("console.polls.chart", n=n), rtl=is_rtl(lang), number=ui.number,
                                   hidden_text=ui.t("console.polls.hidden"))
                  for n, q in enumerate(built["questions"], start=1) if q["type"] == "choice"}
    problems = lifecycle.problems(ctx, db, poll) if poll.state == "draft" else []
    return ui.render("polls/poll.html", status, poll=poll, built=built, charts=chart_list, names=_area_names(),
                     manager=_manager(), problems=problems, campaign_id=store.get(db, poll.id)["campaign_id"],
                     done=None if error else request.args.get("done"), error=error,
                     done_count=request.args.get("n", ""))


@bp.post("/<int:poll_id>/edit")
@ui.area("polls_manage")
def poll_edit(poll_id: int):
    poll = _poll_or_404(poll_id)
    source = request.form.get("definition", "")
    errors = ui.Errors()
    try:
        lifecycle.replace(dalil(), dalil().db(), poll.id, source)
    except PollError as e:
        errors.add_text("definition", str(e))
        return ui.render("polls/poll_form.html", 400, source=source, errors=errors, poll=poll)
    return redirect(url_for("console.polls.poll_page", poll_id=poll_id, done="saved"), 303)


@bp.get("/<int:poll_id>/edit")
@ui.area("polls_manage")
def poll_edit_form(poll_id: int):
    poll = _poll_or_404(poll_id)
    if poll.state != "draft":
        return redirect(url_for("console.polls.poll_page", poll_id=poll_id), 303)
    return ui.render("polls/poll_form.html", source=_as_toml(poll), errors=ui.Errors(), poll=poll)


def _as_toml(poll) -> str:
    """A stored poll back as a definition (texts resolved in each language) for the edit form."""
    def table(texts: dict) -> str:
        return "{ " + ", ".join(f"{lang} = {_quote(texts.get(lang, ''))}" for lang in LANGUAGES) + " }"
    lines = [f"keyword = {_quote(poll.keyword)}", f"opens = {_quote(poll.opens)}", f"closes = {_quote(poll.closes)}",
             f"title = {table(poll.title)}", "", "[audience]"]
    lines += [f"{k} = [{', '.join(_quote(v) for v in values)}]" for k, values in poll.audience.items()]
    for q in poll.questions:
        lines += ["", "[[questions]]", f"text = {table(q.text)}"]
        if q.type == "number":
            lines += ['type = "number"', f"min = {q.min}", f"max = {q.max}"]
            continue
        options = q.options[1:] if q.demographic else q.options
        if q.demographic:
            lines.append("demographic = true")
        lines += ["options = ["] + [f"  {table(o)}," for o in options] + ["]"]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    import json
    return json.dumps(text, ensure_ascii=False)


@bp.post("/<int:poll_id>/<any(open, close, invite):step>")
@ui.area("polls_manage")
def poll_step(poll_id: int, step: str):
    poll = _poll_or_404(poll_id)
    ctx, db = dalil(), dalil().db()
    try:
        if step == "open":
            lifecycle.open_poll(ctx, db, poll.id)
            return redirect(url_for("console.polls.poll_page", poll_id=poll_id, done="opened"), 303)
        if step == "close":
            queued = lifecycle.close(ctx, db, poll.id)
            return redirect(url_for("console.polls.poll_page", poll_id=poll_id, done="closed", n=queued), 303)
        campaign_id = lifecycle.invite(ctx, db, poll.id)
        return redirect(url_for("console.campaign_page", campaign_id=campaign_id), 303)
    except PollError as e:
        return _page(lifecycle.load(db, poll.id), 409, str(e))


@bp.get("/<int:poll_id>.csv")
@ui.area("polls")
def poll_csv(poll_id: int):
    poll = _poll_or_404(poll_id)
    return Response(results.csv_text(_built(poll), ui.lang()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="dalil-poll-{poll_id}.csv"'})
