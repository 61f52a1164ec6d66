"""The console's jobs pages: counts for everyone with the area (the municipality too: small cells hidden, never
a person), and for campaign staff and administrators the offers (form, preview with cost, send, close) and the
trades a profile can choose.

A blueprint nested under the console's (gateway/console/__init__.py), so it shares its sign-in, CSRF check,
headers and error pages. The checks and figures are jobs.offers', jobs.matching's and jobs.report's, the same as
`dalil jobs ...`.
"""
from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, url_for

from flows import directory as dirmod
from gateway.context import dalil
from gateway.console import ui
from gateway.store import transaction
from jobs import matching, offers, report, store, taxonomy
from messages.i18n import LANGUAGES

bp = Blueprint("jobs", __name__, url_prefix="/employment", template_folder="templates")


def _manager() -> bool:
    return ui.allowed(g.user["role"], "jobs_manage")


def _names() -> dict:
    db = dalil().db()
    names = {gv["code"]: ui.text_of(gv["name"]) for gv in dirmod.governorates(db)}
    names |= {code: label for code, label in taxonomy.trade_labels(store.trades(db), ui.lang())}
    return names | {str(level): taxonomy.level_label(level, ui.lang()) for level in taxonomy.LEVELS}


@bp.get("")
@ui.area("jobs")
def jobs_page():
    ctx = dalil()
    built = report.build(ctx, ctx.db())
    return ui.render("jobs/counts.html", built=built, names=_names(), manager=_manager())


@bp.route("/offers", methods=["GET", "POST"])
@ui.area("jobs_manage")
def offers_page():
    ctx, db = dalil(), dalil().db()
    errors, form = ui.Errors(), request.form.to_dict() if request.method == "POST" else {}
    if request.method == "POST":
        raw = {**form, "texts": {lang: form.get(f"text_{lang}", "") for lang in LANGUAGES}}
        _, problems = offers.clean(ctx, db, raw)
        if not problems:
            offer_id = offers.add(ctx, db, raw)
            return redirect(url_for("console.jobs.offer_page", offer_id=offer_id, done="created"), 303)
        for problem in problems:
            field = problem.split(":")[0].split(" (")[0].split(",")[0]
            errors.add_text(field if field != "text" else "text_" + problem[6:8], problem)
    return ui.render("jobs/offers.html", 400 if errors else 200, rows=store.offers(db), names=_names(),
                     form=form, errors=errors, trades=taxonomy.trade_labels(store.trades(db), ui.lang()),
                     governorate_options=[(gv["code"], ui.text_of(gv["name"])) for gv in dirmod.governorates(db)],
                     level_options=[(str(lv), taxonomy.level_label(lv, ui.lang())) for lv in taxonomy.LEVELS],
                     kind_options=[(k, ui.t("jobs.avail." + k)) for k in taxonomy.KINDS])


def _offer_or_404(offer_id: int) -> dict:
    row = store.offer(dalil().db(), offer_id)
    if row is None:
        abort(404)
    return row


@bp.get("/offers/<int:offer_id>")
@ui.area("jobs_manage")
def offer_page(offer_id: int, status: int = 200, error: str | None = None):
    ctx, db = dalil(), dalil().db()
    offer = _offer_or_404(offer_id)
    alerts = {lang: offers.alert_text(db, offer, lang) for lang in LANGUAGES}
    preview = matching.preview(ctx, db, offer_id) if offer["state"] == "draft" else None
    return ui.render("jobs/offer.html", status, offer=offer, alerts=alerts, preview=preview, names=_names(),
                     counts=report.offer_counts(ctx, db, offer_id), done=request.args.get("done"),
                     n=request.args.get("n", ""), error=error)


@bp.post("/offers/<int:offer_id>/<any(open, close):step>")
@ui.area("jobs_manage")
def offer_step(offer_id: int, step: str):
    ctx, db = dalil(), dalil().db()
    _offer_or_404(offer_id)
    try:
        if step == "open":  # an offer opens by sending its alerts
            n = matching.send_alerts(ctx, db, offer_id)
            return redirect(url_for("console.jobs.offer_page", offer_id=offer_id, done="sent", n=n), 303)
        offers.close(ctx, db, offer_id)
        return redirect(url_for("console.jobs.offer_page", offer_id=offer_id, done="closed"), 303)
    except (offers.OfferError, matching.MatchError) as e:
        return offer_page(offer_id, 409, str(e))


@bp.route("/trades", methods=["GET", "POST"])
@ui.area("jobs_manage")
def trades_page():
    db = dalil().db()
    errors, form = ui.Errors(), request.form.to_dict() if request.method == "POST" else {}
    if request.method == "POST":
        code = (form.get("code") or "").strip()
        labels = {lang: (form.get(f"label_{lang}") or "").strip() for lang in LANGUAGES}
        problems = taxonomy.check_trade(code, labels, [c for c, _ in store.trades(db)])
        if not problems:
            with transaction(db):
                store.add_trade(db, code, labels)
            return redirect(url_for("console.jobs.trades_page", done="added"), 303)
        for problem in problems:
            errors.add_text(problem.split(":")[0].replace("label (", "label_").rstrip(")"), problem)
    rows = [(code, {lang: taxonomy.trade_label(store.trades(db), code, lang) for lang in LANGUAGES})
            for code, _ in store.trades(db)]
    return ui.render("jobs/trades.html", 400 if errors else 200, rows=rows, form=form, errors=errors,
                     languages=LANGUAGES, done=request.args.get("done"))
