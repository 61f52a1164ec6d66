"""Campaigns: compose (live counter of characters, encoding and segments per language), preview with recipients
and cost, send now or on a schedule, pause, resume, cancel, and follow the progress.

Everything goes through messages.campaigns (the same functions as `dalil campaign ...`). The form is checked
here first so that each mistake is named next to its field in the user's language; a refusal the campaigns
module still makes is mapped to its field by the name it starts with ("text (fr): ...").
"""
from __future__ import annotations

import logging
import math
import time
from datetime import datetime

from flask import g, jsonify, redirect, request, url_for

from flows import directory as dirmod
from gateway.context import dalil
from gateway.console import bp, jobs, ui
from messages import campaigns as cmod
from messages import schedule as schedules
from messages.audience import Audience, AudienceError
from messages.i18n import LANGUAGES
from messages.quiet import zone
from messages.segments import count, non_gsm7_characters
from messages.subscribers import INTERESTS

log = logging.getLogger(__name__)

ACTIONS = {"pause": cmod.pause, "resume": cmod.resume, "cancel": cmod.cancel}
SCHEDULES = ("now", "at", "cron")


def _settings() -> dict:
    return dalil().config["campaigns"]


def _tz() -> str:
    return dalil().config["gateway"]["timezone"]


def _choices() -> dict:
    db = dalil().db()
    governorates = dirmod.governorates(db)
    terms = {t["code"]: ui.text_of(t["name"]) for t in dirmod.taxonomy(db)}
    return {
        "governorates": [(gv["code"], ui.text_of(gv["name"])) for gv in governorates],
        "delegations": {gv["code"]: [(d["code"], ui.text_of(d["name"])) for d in dirmod.delegations(db, gv["code"])]
                        for gv in governorates},
        "interests": [(code, terms.get(code, code)) for code in INTERESTS],
        "languages": [(lang, ui.t(f"console.lang.{lang}")) for lang in LANGUAGES],
    }


def _audience_data(form) -> dict:
    data = {key: [v for v in form.getlist(key) if v] for key in ("governorates", "delegations", "interests",
                                                                    "languages")}
    data = {k: v for k, v in data.items() if v}
    since = (form.get("active_since") or "").strip()
    if since:
        try:
            data["active_since"] = datetime.fromisoformat(since).replace(tzinfo=zone(_tz())).timestamp()
        except ValueError:
            data["active_since"] = "bad"
    return data


def _field_of(message: str) -> str:
    """The form field a CampaignError names: "text (fr): ..." -> text_fr, "audience group 1 ...: " -> audience."""
    head = message.split(":", 1)[0].strip()
    if head.startswith("text (") and head[6:8] in LANGUAGES:
        return "text_" + head[6:8]
    if head.startswith("audience"):
        return "audience"
    return {"name": "name", "fallback language": "fallback", "rate": "rate_per_minute", "expiry": "expiry_hours",
            "schedule": "schedule"}.get(head, "form")


def _read_form(form, errors: ui.Errors) -> dict:
    """The campaign's fields from the form, each checked; errors name the field."""
    settings = _settings()
    name = _read_name(form, errors)
    texts = _read_texts(form, errors, settings["max_segments"])
    fallback = _read_fallback(form, errors, texts)
    schedule, send_at, cron = _read_schedule(form, errors)
    rate = _number(form, "rate_per_minute", errors, int, 0, 100000, settings["rate_per_minute"])
    expiry = _number(form, "expiry_hours", errors, float, 0.1, 24 * 30, settings["expiry_hours"])
    audience = _audience_data(form)
    if audience.get("active_since") == "bad":
        errors.add("active_since", "console.campaigns.bad_date")
        audience.pop("active_since")
    return {"name": name, "texts": texts, "fallback_language": fallback, "audience": audience,
            "schedule": schedule, "send_at": send_at, "cron": cron, "rate_per_minute": rate, "expiry_hours": expiry}


def _read_name(form, errors: ui.Errors) -> str:
    name = (form.get("name") or "").strip()
    if not name:
        errors.add("name", "console.form.required")
    elif len(name) > cmod.MAX_NAME:
        errors.add("name", "console.form.too_long", max=ui.number(cmod.MAX_NAME))
    return name


def _read_texts(form, errors: ui.Errors, max_segments: int) -> dict:
    texts = {lang: (form.get(f"text_{lang}") or "").strip() for lang in LANGUAGES}
    texts = {lang: text for lang, text in texts.items() if text}
    if not texts:
        errors.add("text_ar", "console.campaigns.no_text")
    for lang, text in texts.items():
        seg = count(text)
        if seg.segments > max_segments:
            forced = non_gsm7_characters(text) if lang != "ar" else []
            errors.add(f"text_{lang}", "console.campaigns.too_many_segments", segments=ui.number(seg.segments),
                       max=ui.number(max_segments), encoding=seg.encoding)
            if forced:
                errors[f"text_{lang}"] += " " + ui.t("console.campaigns.forced_by", chars=" ".join(forced[:8]))
    return texts


def _read_fallback(form, errors: ui.Errors, texts: dict) -> str:
    fallback = form.get("fallback", "")
    if fallback not in LANGUAGES:
        errors.add("fallback", "console.form.choose")
    elif texts and fallback not in texts:
        errors.add("fallback", "console.campaigns.fallback_without_text")
    return fallback


def _read_schedule(form, errors: ui.Errors) -> tuple[str, float | None, str | None]:
    """now, at a local time (send_at), or on a crontab line (cron)."""
    schedule = form.get("schedule", "now")
    send_at = cron = None
    if schedule not in SCHEDULES:
        errors.add("schedule", "console.form.choose")
    elif schedule == "at":
        send_at = _read_send_at(form, errors)
    elif schedule == "cron":
        cron = (form.get("cron") or "").strip()
        if not cron:
            errors.add("cron", "console.form.required")
        else:
            try:
                schedules.cron_trigger(cron, _tz())
            except schedules.ScheduleError:
                errors.add("cron", "console.campaigns.bad_cron")
    return schedule, send_at, cron


def _read_send_at(form, errors: ui.Errors) -> float | None:
    raw = (form.get("send_at") or "").strip()
    if not raw:
        errors.add("send_at", "console.form.required")
        return None
    try:
        send_at = schedules.parse_local(raw.replace("T", " "), _tz())
    except schedules.ScheduleError:
        errors.add("send_at", "console.campaigns.bad_time")
        return None
    if send_at <= time.time():
        errors.add("send_at", "console.campaigns.past")
    return send_at


def _number(form, name: str, errors: ui.Errors, kind, low, high, default):
    raw = (form.get(name) or "").strip().replace(",", ".")
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        errors.add(name, "console.form.whole_number" if kind is int else "console.form.number")
        return default
    if not low <= value <= high or (isinstance(value, float) and not math.isfinite(value)):
        errors.add(name, "console.form.between", low=ui.number(low), high=ui.number(high))
    return value


def _values_of(campaign) -> dict:
    group = campaign.audience.groups[0] if campaign.audience.groups else None
    values = {"name": campaign.name, "fallback": campaign.fallback_language, "schedule": campaign.schedule,
              "cron": campaign.cron or "", "rate_per_minute": campaign.rate_per_minute,
              "expiry_hours": f"{campaign.expiry_hours:g}",
              "send_at": datetime.fromtimestamp(campaign.send_at, zone(_tz())).strftime("%Y-%m-%dT%H:%M")
              if campaign.send_at else ""}
    values.update({f"text_{lang}": text for lang, text in campaign.texts.items()})
    if group:
        values.update(governorates=list(group.governorates), delegations=list(group.delegations),
                      interests=list(group.interests), languages=list(group.languages))
        if group.active_since:
            values["active_since"] = datetime.fromtimestamp(group.active_since, zone(_tz())).strftime("%Y-%m-%d")
    return values


def _load(campaign_id: int):
    try:
        return cmod.load(dalil().db(), campaign_id)
    except cmod.CampaignError:
        return None


# -- list ---------------------------------------------------------------------------------------------------

@bp.get("/campaigns")
@ui.area("campaigns")
def campaigns():
    rows = cmod.listing(dalil().db())
    return ui.render("campaigns.html", rows=rows)


# -- compose ------------------------------------------------------------------------------------------------

@bp.route("/campaigns/new", methods=["GET", "POST"])
@ui.area("campaigns")
def campaign_new():
    errors = ui.Errors()
    settings = _settings()
    replaces = request.values.get("replaces", type=int)
    original = _load(replaces) if replaces else None
    if original is not None and original.status != "draft":
        original = None
    values = _values_of(original) if original else {
        "fallback": "ar", "schedule": "now", "rate_per_minute": settings["rate_per_minute"],
        "expiry_hours": f"{settings['expiry_hours']:g}"}
    if request.method == "POST":
        form = request.form
        values = {k: form.get(k, "") for k in form}
        for key in ("governorates", "delegations", "interests", "languages"):
            values[key] = form.getlist(key)
        data = _read_form(form, errors)
        if not errors:
            ctx = dalil()
            db = ctx.db()
            try:
                Audience.from_data(data["audience"]).check(db)
                campaign_id = cmod.create(ctx, db, **data)
            except (cmod.CampaignError, AudienceError) as e:
                errors.add_text(_field_of(str(e)), ui.t("console.campaigns.refused", detail=str(e)))
            else:
                if original is not None:
                    cmod.cancel(ctx, db, original)  # the draft this one replaces
                log.info("console: %s composed campaign %d", g.user["username"], campaign_id)
                return redirect(url_for("console.campaign_page", campaign_id=campaign_id), 303)
    return ui.render("campaign_form.html", 422 if errors else 200, values=values, errors=errors,
                     choices=_choices(), settings=settings, replaces=original.id if original else None,
                     tz=_tz())


@bp.post("/campaigns/audience")
@ui.area("campaigns")
def campaign_audience():
    """How many active subscribers the audience in the form reaches, by language (the compose page asks live)."""
    data = _audience_data(request.form)
    if data.get("active_since") == "bad":
        del data["active_since"]
    try:
        audience = Audience.from_data(data)
        audience.check(dalil().db())
    except AudienceError:
        return jsonify(error=ui.t("console.campaigns.bad_audience")), 422
    by_lang = cmod.recipients_by_language(dalil().db(), audience)
    total = sum(by_lang.values())
    return jsonify(total=total, by_language=by_lang,
                   text=ui.plural("console.campaigns.reaches", total))


# -- one campaign -------------------------------------------------------------------------------------------

def _preview(campaign) -> dict:
    ctx = dalil()
    info = cmod.preview(ctx, ctx.db(), campaign)
    warnings = []
    if not info["recipients"]:
        warnings.append(ui.t("console.campaigns.warn.nobody"))
    for lang, text in info["texts"].items():
        if text["ucs2_characters"] and lang != "ar":
            gsm = text["gsm7_segments"]
            warnings.append(ui.t("console.campaigns.ucs2_note", lang=ui.t(f"console.lang.{lang}"),
                                 chars=" ".join(text["ucs2_characters"][:8]),
                                 segments=ui.plural("console.count.segments", text["segments"]),
                                 gsm=ui.plural("console.count.segments", gsm) if gsm else "—"))
    for lang, row in info["languages"].items():
        if row["recipients"] and row["text"] != lang:
            warnings.append(ui.plural("console.campaigns.fallback_count", row["recipients"],
                                      lang=ui.t(f"console.lang.{lang}"), used=ui.t(f"console.lang.{row['text']}")))
    if info["finishes_at"] and info["finishes_at"] > info["expires_at"]:
        warnings.append(ui.t("console.campaigns.warn.rate"))
    info["shown_warnings"] = warnings
    return info


@bp.get("/campaigns/<int:campaign_id>")
@ui.area("campaigns")
def campaign_page(campaign_id: int):
    campaign = _load(campaign_id)
    if campaign is None:
        return ui.error_page(404, "console.error.404.title", "console.campaigns.not_found")
    db = dalil().db()
    listed = next((r for r in cmod.listing(db) if r["id"] == campaign_id), {})
    shown = listed.get("status", campaign.status)
    info = _preview(campaign) if campaign.status in ("draft", "scheduled", "paused") else None
    results = cmod.results(db, campaign_id)
    return ui.render("campaign.html", campaign=campaign, shown_status=shown, info=info, results=results,
                     starts_at=listed.get("starts_at"), config_file=dalil().config_file(),
                     tz=_tz(), settings=_settings(), message=request.args.get("done"),
                     audience=_describe(campaign.audience))


def _describe(audience: Audience) -> list[str]:
    """The audience in words, in the page's language."""
    choices = _choices()
    names = dict(choices["governorates"]) | {code: name for items in choices["delegations"].values()
                                             for code, name in items} \
        | dict(choices["interests"]) | dict(choices["languages"])
    out = []
    for group in audience.groups:
        parts = []
        for key, values in (("governorates", group.governorates), ("delegations", group.delegations),
                            ("interests", group.interests), ("languages", group.languages)):
            if values:
                parts.append(ui.t(f"console.campaigns.audience.{key}") + " " +
                             ", ".join(names.get(v, v) for v in values))
        if group.active_since:
            parts.append(ui.t("console.campaigns.audience.since", date=ui.local_time(group.active_since, "short")))
        out.append(" · ".join(parts) or ui.t("console.campaigns.audience.everyone"))
    return out


@bp.get("/campaigns/<int:campaign_id>/results")
@ui.area("campaigns")
def campaign_results(campaign_id: int):
    if _load(campaign_id) is None:
        return jsonify(error=ui.t("console.campaigns.not_found")), 404
    results = cmod.results(dalil().db(), campaign_id)
    results.pop("runs", None)
    return jsonify(results)


@bp.post("/campaigns/<int:campaign_id>/send")
@ui.area("campaigns")
def campaign_send(campaign_id: int):
    campaign = _load(campaign_id)
    if campaign is None:
        return ui.error_page(404, "console.error.404.title", "console.campaigns.not_found")
    if campaign.status != "draft":
        return ui.error_page(409, "console.campaigns.conflict_title", "console.campaigns.not_draft",
                             back=url_for("console.campaign_page", campaign_id=campaign_id))
    log.info("console: %s sends campaign %d", g.user["username"], campaign_id)

    def work(job: jobs.Job) -> dict:
        ctx = dalil()
        job.progress(0, 1, "console.campaigns.step.checking")

        def progress(queued, total):
            job.progress(queued, total or 1, "console.campaigns.step.queuing", queued=queued, total=total or 0)
        try:
            result = cmod.send(ctx, ctx.db(), campaign, progress=progress)
        except cmod.CampaignError as e:
            raise jobs.JobFailed("console.campaigns.send_refused", str(e)) from None
        if result["status"] == "scheduled":
            job.progress(1, 1, "console.campaigns.step.scheduled")
            return {"recipients": result["recipients"]}
        job.progress(1, 1, "console.campaigns.step.queued")
        return {"queued": result["queued"]}

    job = jobs.start("campaign", work, next_url=url_for("console.campaign_page", campaign_id=campaign_id))
    return redirect(url_for("console.job_page", job_id=job.id), 303)


@bp.post("/campaigns/<int:campaign_id>/<action>")
@ui.area("campaigns")
def campaign_action(campaign_id: int, action: str):
    campaign = _load(campaign_id)
    if campaign is None:
        return ui.error_page(404, "console.error.404.title", "console.campaigns.not_found")
    back = url_for("console.campaign_page", campaign_id=campaign_id)
    ctx = dalil()
    try:
        if action in ACTIONS:
            n = ACTIONS[action](ctx, ctx.db(), campaign)
        elif action == "test":
            n = cmod.test_send(ctx, ctx.db(), campaign)
        else:
            return ui.error_page(404, "console.error.404.title", "console.error.404.message")
    except cmod.CampaignError as e:
        key = "console.campaigns.no_staff_numbers" if e.args[0].startswith("staff numbers") \
            else "console.campaigns.wrong_state"
        return ui.error_page(409, "console.campaigns.conflict_title", key, back=back)
    log.info("console: %s: campaign %d %s (%d messages)", g.user["username"], campaign_id, action, n)
    return redirect(url_for("console.campaign_page", campaign_id=campaign_id, done=action), 303)
