"""The desk's local inbox: a small Flask app on 127.0.0.1, served by waitress on the caseworker's machine.

It reads only the desk's own SQLite file, so it works with no connection; decisions are queued and go to the
gateway at the next sync. Forms carry a per-process token and the Host header must be the loopback address, so
a web page open in the same browser cannot post decisions (CSRF) or read the inbox through DNS rebinding.
"""
from __future__ import annotations

import secrets
import threading

from flask import Flask, abort, redirect, render_template, request, url_for

from messages import i18n
from referrals.desk import client, store
from referrals.desk.home import Desk

LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def _area_names() -> dict[str, dict[str, str]]:
    """Names of the area codes an envelope carries, from the reference data the flows package ships."""
    try:
        from flows.store import DELEGATIONS, GOVERNORATES
    except ImportError:  # pragma: no cover - the desk then shows codes
        return {}
    rows = list(GOVERNORATES) + [d for ds in DELEGATIONS.values() for d in ds]
    return {code: {"ar": ar, "fr": fr, "en": en} for code, ar, fr, en in rows}


def create_desk_app(desk: Desk) -> Flask:
    app = Flask(__name__)
    app.json.ensure_ascii = False
    csrf = secrets.token_urlsafe(24)
    sync_lock = threading.Lock()

    def tr(key: str, **values) -> str:
        return i18n.t(desk.language, key, **values)

    def area(code: str) -> str:
        return _area_names().get(code, {}).get(desk.language, code) if code else tr("desk.not_given")

    def label(prefix: str, code: str) -> str:
        if not code:
            return tr("desk.not_given")
        return i18n.t(desk.language, f"{prefix}.{code}") if i18n.has(f"{prefix}.{code}", desk.language) else code

    @app.before_request
    def guard():
        host = (request.host or "").rsplit(":", 1)[0]
        if host not in LOCAL_HOSTS:
            abort(403, description="the desk answers on the loopback address only")
        if request.method == "POST" and not secrets.compare_digest(request.form.get("csrf", ""), csrf):
            abort(403, description="stale or missing form token: reload the page")

    @app.context_processor
    def helpers():
        return {"t": tr, "label": label, "area": area, "csrf": csrf, "lang": desk.language,
                "rtl": i18n.is_rtl(desk.language), "cso": desk.cso_id}

    def status_bar(conn) -> dict:
        return {"alerts": store.alerts(conn), "pending": len(store.outgoing(conn)),
                "last_sync": store.get_state(conn, "last_sync"), "last_error": store.get_state(conn, "last_error")}

    @app.get("/")
    def inbox():
        with store.connect(desk.db_path) as conn:
            return render_template("inbox.html", referrals=store.referrals(conn), **status_bar(conn))

    @app.get("/r/<referral_id>")
    def show(referral_id):
        with store.connect(desk.db_path) as conn:
            referral = store.referral(conn, referral_id)
            if referral is None:
                abort(404)
            return render_template("referral.html", r=referral, c=referral["content"], **status_bar(conn))

    @app.post("/r/<referral_id>/<decision>")
    def decide(referral_id, decision):
        if decision == "note":
            with store.connect(desk.db_path) as conn:
                store.set_note(conn, referral_id, request.form.get("note", "")[:4000])
        elif decision in ("accepted", "declined", "closed"):
            reason = request.form.get("reason", "")[:500] if decision == "declined" else None
            if not client.act(desk, referral_id, decision, reason):
                abort(404)
            threading.Thread(target=_push_quietly, daemon=True).start()
        else:
            abort(404)
        return redirect(url_for("show", referral_id=referral_id))

    @app.post("/sync")
    def sync_now():
        with sync_lock:
            client.sync(desk)
        return redirect(url_for("inbox"))

    def _push_quietly():
        if sync_lock.acquire(blocking=False):
            try:
                client.push(desk, client.Gateway(desk))
            except Exception:  # noqa: S110 (offline: the queued decisions go with the next sync, which reports it)
                pass
            finally:
                sync_lock.release()

    app.extensions["desk.sync_lock"] = sync_lock
    return app
