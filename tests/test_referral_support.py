"""Helpers for the referral tests (no tests here): a CSO with its desk folder, and a referral made directly."""
from __future__ import annotations

from pathlib import Path

from referrals import csos, intake, store
from referrals.desk import home as desk_home
from referrals.keyring import gateway_key

PHONE = "+21620123456"


def ctx_of(app):
    return app.extensions["dalil"]


def add_cso(app, tmp_path: Path, cso_id: str = "amal", *, needs=("legal", "health"), areas=("kairouan",),
            capacity: int = 10, url: str = "http://127.0.0.1:9", notify: str | None = "+21698000111",
            name: str | None = None) -> Path:
    """Keygen in a desk folder (the CSO's machine), register on the gateway, connect the desk. Returns the folder."""
    home = tmp_path / f"desk-{cso_id}"
    public = csos.keygen(home / desk_home.KEY_FILE)
    ctx = ctx_of(app)
    token = csos.register(ctx.db(), cso_id, name=name or f"Association {cso_id.title()}", contact="+216 71 000 000",
                          needs=list(needs), areas=list(areas), capacity=capacity, public_bundle=public,
                          notify_phone=notify, language="fr")
    desk_home.connect(home, url, cso_id, token, bytes(gateway_key(ctx).verify_key).hex(), "en")
    return home


def point_desk(home: Path, url: str) -> None:
    cfg = (home / desk_home.CONFIG_FILE).read_text()
    lines = [f'gateway_url = "{url}"' if line.startswith("gateway_url") else line for line in cfg.splitlines()]
    (home / desk_home.CONFIG_FILE).write_text("\n".join(lines) + "\n")


def refer(app, cso_id: str = "amal", *, phone: str = PHONE, need: str = "legal", governorate="kairouan",
          delegation="kairouan_nord", nationality="sudanese", status="asylum", note="", channel="ussd", lang="fr"):
    ctx = ctx_of(app)
    db = ctx.db()
    cso = store.get_cso(db, cso_id)
    return intake.submit(ctx, db, cso, phone=phone, lang=lang, channel=channel, need=need,
                         governorate=governorate, delegation=delegation,
                         answers={"nationality": nationality, "status": status}, note=note)
