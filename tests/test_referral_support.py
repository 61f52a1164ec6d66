"""Helpers for the referral tests (no tests here): the coordinator's key, a CSO with its desk folder, and a
referral made directly."""
from __future__ import annotations

from pathlib import Path

from referrals import csos, intake, store

from referrals.protocol import cso_keys, note, registry
from referrals.desk import home as desk_home
from referrals.keyring import coordinator_key, log_key

PHONE = "+21620123456"


def ctx_of(app):
    return app.extensions["dalil"]


def coordinator(app, tmp_path: Path):
    """The network coordinator's key (one per test, in its own folder), and the gateway configured with it.
    Returns (name, signing key, vkey line)."""
    path = tmp_path / "coordinator" / "coordinator.key"
    if not path.exists():
        registry.keygen(path)
    name, key = registry.load_key(path)
    vkey = note.verifier(name, bytes(key.verify_key)).vkey
    cfg = ctx_of(app).config["referrals"]
    cfg["coordinator_key"] = cfg["coordinator_key"] or vkey
    return name, key, vkey


def sign_registration(app, tmp_path: Path, cso_id: str, public: str, *, name: str, needs=("legal", "health"),
                      areas=("kairouan",), seq: int = 1, active: bool = True) -> str:
    signer, key, _ = coordinator(app, tmp_path)
    record = csos.new_record(cso_id, name=name, contact="+216 71 000 000", needs=list(needs), areas=list(areas),
                             public_bundle=public, seq=seq, active=active)
    return registry.sign(signer, key, record)


def add_cso(app, tmp_path: Path, cso_id: str = "amal", *, needs=("legal", "health"), areas=("kairouan",),
            capacity: int = 10, url: str = "http://127.0.0.1:9", notify: str | None = "+21698000111",
            name: str | None = None) -> Path:
    """Keygen in a desk folder (the CSO's machine), the coordinator signs its registration, the gateway registers
    it, the desk connects pinning the gateway's and the coordinator's keys. Returns the folder."""
    home = tmp_path / f"desk-{cso_id}"
    public = cso_keys.keygen(home / desk_home.KEY_FILE)
    ctx = ctx_of(app)
    signed = sign_registration(app, tmp_path, cso_id, public, name=name or f"Association {cso_id.title()}",
                               needs=needs, areas=areas)
    token = csos.register(ctx.db(), coordinator_key(ctx), signed, capacity=capacity, notify_phone=notify,
                          language="fr")
    desk_home.connect(home, url, cso_id, token, log_key(ctx).vkey, coordinator(app, tmp_path)[2], "en")
    return home


def point_desk(home: Path, url: str, language: str | None = None) -> None:
    cfg = (home / desk_home.CONFIG_FILE).read_text()
    lines = [f'gateway_url = "{url}"' if line.startswith("gateway_url") else
             f'language = "{language}"' if language and line.startswith("language") else line
             for line in cfg.splitlines()]
    (home / desk_home.CONFIG_FILE).write_text("\n".join(lines) + "\n")


def refer(app, cso_id: str = "amal", *, phone: str = PHONE, need: str = "legal", governorate="kairouan",
          delegation="kairouan_nord", nationality="sudanese", status="asylum", note="", channel="ussd", lang="fr"):
    ctx = ctx_of(app)
    db = ctx.db()
    cso = store.get_cso(db, cso_id)
    return intake.submit(ctx, db, cso, phone=phone, lang=lang, channel=channel, need=need,
                         governorate=governorate, delegation=delegation,
                         answers={"nationality": nationality, "status": status}, note=note)


def rewrite_log(app, entries: list[bytes]) -> None:
    """What an operator with the database and the gateway's key file can do: replace the whole log, rebuild its
    tree and sign a checkpoint of it, as the gateway's own code would."""
    from gateway.store import transaction
    from referrals import ledger
    from referrals.protocol import merkle
    from referrals.keyring import gateway_key
    ctx = ctx_of(app)
    db = ctx.db()
    with transaction(db):
        db.execute("DELETE FROM ledger_entries")
        db.execute("DELETE FROM ledger_nodes")
        tree = merkle.Tree(ledger.DbNodes(db))
        for i, data in enumerate(entries):
            store.insert_entry(db, i, bytes(data))
            tree.append(bytes(data))
        ledger.sign_checkpoint(db, gateway_key(ctx), ctx.config["referrals"]["log_origin"])


def log_entries(app) -> list[bytes]:
    return [data for _, data in store.iter_entries(ctx_of(app).db())]
