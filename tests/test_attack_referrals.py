"""The operator's attacks on referral privacy (issue 10's audit), replayed against the real server.

Each test plays a municipality that runs the gateway: it reads the database file, its WAL, the log, a backup, a
raw disk image, the SMS provider's message log (the fakes record what an account holder sees) and the public
endpoints, with referrals mixed into ordinary traffic over USSD and SMS. Each names the attack it replays and
asserts that it finds nothing.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import directory
from gateway import outbox
from gateway.dispatcher import Dispatcher
from gateway.store import scrub_wal
from messages import i18n
from referrals.desk import client as desk_client, home as desk_home
from test_referral_e2e import Handset, SmsPhone
from test_referral_support import add_cso

# the attacks read the SQLite file, its WAL, free pages and copies made with its backup API
pytestmark = pytest.mark.sqlite_only

CASEWORKER = "+21698000111"
CALLERS = ["+21620111001", "+21620111002", "+21620111003", "+21620111004"]


@pytest.fixture
def config(make_config, at_fake):
    return make_config(channels={"africastalking": at_fake.channel_config(webhook_token="at-token-3f9a")})


def ussd_referral(live, db, phone: str, session: str, need_label: str) -> tuple[str, float, float]:
    """A whole USSD help request; returns the code and the moments just before and after the consent hop."""
    t = lambda key, **kw: i18n.t("en", key, **kw)  # noqa: E731
    kairouan = directory.area_name(db, "kairouan")["en"]
    handset = Handset(live, phone, session)
    handset.press()
    main = handset.choose(handset.press("3"), kairouan)
    screen = handset.choose(main, t("menu.main.help"))
    screen = handset.choose(screen, need_label)
    for _ in range(4):  # place, and whatever the deployment asks before consent
        if screen.startswith("CON " + t("help.consent.title", org="Association Amal")[:12]):
            break
        labels = [label for _, label in re.findall(r"^(\d+)\. (.+)$", screen, flags=re.M)]
        pick = kairouan if kairouan in labels else (t("help.skip") if t("help.skip") in labels else labels[0])
        screen = handset.choose(screen, pick)
    before = time.time()
    done = handset.choose(screen, t("help.consent.yes"))
    after = time.time()
    return re.search(r"R-[0-9A-Z]{6}", done).group(0), before, after


def ordinary_traffic(live, db, n: int) -> None:
    for i in range(n):
        phone = SmsPhone(live, f"+2162044{i:04d}")
        phone.n = int(time.time() * 1000) % 10**9
        phone.send("menu")


def drain(ctx) -> None:
    dispatcher = Dispatcher(ctx)
    while dispatcher.run_once():
        pass


def files_of(ctx) -> list[Path]:
    db_file = Path(ctx.db_path)
    return [db_file, Path(str(db_file) + "-wal"), Path(ctx.config["gateway"]["log_file"])]


def found_in(paths: list[Path], words: list[str]) -> list[tuple[str, str]]:
    hits = []
    for path in paths:
        data = path.read_bytes() if path.exists() else b""
        for word in words:
            if any(enc in data for enc in (word.encode(), word.encode("utf-16-le"), word.encode("utf-16-be"))):
                hits.append((path.name, word))
    return hits


def times_near(paths: list[Path], moments: list[tuple[float, float]], slack: float = 3.0) -> list[tuple]:
    """Every 8-byte big-endian double (how SQLite stores REAL) and every ISO time written in the files that
    falls within ``slack`` seconds of a moment. A value on a whole minute is a coarsened time (a day, an hour,
    ten minutes): it cannot date a moment to the second, so it is not counted."""
    hits = []
    for path in paths:
        data = path.read_bytes() if path.exists() else b""
        for offset in range(8):
            usable = (len(data) - offset) // 8 * 8
            for (value,) in struct.iter_unpack(">d", data[offset:offset + usable]):
                if 1.5e9 < value < 2.5e9 and value % 60 and \
                        any(lo - slack <= value <= hi + slack for lo, hi in moments):
                    hits.append((path.name, value))
        for lo, hi in moments:
            for second in range(int(lo - slack), int(hi + slack) + 1):
                for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
                    stamp = time.strftime(fmt, time.gmtime(second)).encode()
                    local = time.strftime(fmt, time.localtime(second)).encode()
                    if stamp in data or local in data:
                        hits.append((path.name, stamp.decode()))
    return hits


def every_cell(db_path: str) -> list[tuple[str, str, object]]:
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return [(t, c, v) for t in tables for row in conn.execute(f"SELECT * FROM {t}")  # noqa: S608
                for c, v in zip([d[0] for d in conn.execute(f"SELECT * FROM {t}").description], row)]  # noqa: S608
    finally:
        conn.close()


@pytest.fixture
def scene(live, at_fake, tmp_path):
    """Four referrals (USSD) among ordinary SMS traffic; the CSO's desk syncs; the SMS go out."""
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    desk = desk_home.load(add_cso(live.app, tmp_path, "amal", needs=("legal", "health"), areas=("*",),
                                  url=live.url, notify=CASEWORKER, name="Association Amal"))
    codes, moments = [], []
    for i, phone in enumerate(CALLERS):
        ordinary_traffic(live, db, 2)
        need = i18n.t("en", "help.need.legal" if i % 2 else "help.need.health")
        code, before, after = ussd_referral(live, db, phone, f"ATUid_attack_{i}", need)
        codes.append(code)
        moments.append((before, after))
        drain(ctx)
    time.sleep(3.5)  # the line stays busy after the last referral, as it does in an office day
    ordinary_traffic(live, db, 3)
    drain(ctx)
    scrub_wal(db)
    return {"ctx": ctx, "db": db, "desk": desk, "codes": codes, "moments": moments}


def test_attack_dating_referrals_from_the_database(scene):
    """Audit: every referral dated to the millisecond (notice rows, the code SMS's created_at, the WAL)."""
    ctx = scene["ctx"]
    assert not times_near(files_of(ctx), scene["moments"])
    # and nothing a row holds is a time of the consent hop, whatever its column is called
    for table, column, value in every_cell(ctx.db_path):
        if isinstance(value, (int, float)) and value % 60:
            assert not any(lo - 3 <= value <= hi + 3 for lo, hi in scene["moments"]), (table, column, value)
    # no key, kind or priority sets a referral's messages apart from any other reply
    rows = scene["db"].execute("SELECT idempotency_key, kind, priority, encoding FROM outbox").fetchall()
    assert not [r for r in rows if "referral" in (r[0] or "") or r[1] != "reply"]
    assert {r[3] for r in rows} == {None}
    assert not [k for (k,) in scene["db"].execute("SELECT idempotency_key FROM outbox") if k.startswith("reply:")]


def test_attack_searching_every_cell_for_codes_and_ids(scene):
    """Audit: the code SMS names the CSO and the referrals table maps the code to CSO, need and governorate."""
    ctx, desk = scene["ctx"], scene["desk"]
    assert not found_in(files_of(ctx), scene["codes"])  # sealed while queued, never in a row
    result = desk_client.sync(desk)
    assert result.ok and result.received == len(CALLERS)
    scrub_wal(scene["db"])
    from referrals.desk import store as desk_store
    with desk_store.connect(desk.db_path) as conn:
        ids = [r["id"] for r in desk_store.referrals(conn)]
        assert sorted(r["code"] for r in desk_store.referrals(conn)) == sorted(scene["codes"])
    assert not found_in(files_of(ctx), scene["codes"] + ids)  # delivered: only the log's hashes remain
    assert scene["db"].execute("SELECT count(*) FROM referrals").fetchone()[0] == 0


def test_attack_joining_the_providers_log_to_the_database(scene, at_fake):
    """Audit: outbox.provider_id matches the provider's message log; the code SMS names the organisation."""
    ctx, db = scene["ctx"], scene["db"]
    from referrals import notices
    db.execute("UPDATE outbox SET not_before = 0 WHERE state = 'queued'")  # the reference SMS's delay is over
    notices.flush(ctx, db)  # and the caseworker's digest moment came
    drain(ctx)
    sent = at_fake.messages
    to_callers = [m for m in sent if any(p in str(m.get("to")) for p in CALLERS)]
    assert len(to_callers) == len(CALLERS)  # the reference SMS went
    for m in to_callers:
        body = m.get("message") or m.get("body")
        assert re.fullmatch(r"Dalil: your reference is R-[0-9A-Z]{6}\. .*", body), body
        assert "Amal" not in body and "71 000 000" not in body
    provider_ids = {str(m["id"]) for m in sent if m.get("id")}
    stored = {p for (p,) in db.execute("SELECT provider_id FROM outbox WHERE provider_id IS NOT NULL")}
    assert provider_ids and not provider_ids & stored
    (digest,) = [m.get("message") or m.get("body") for m in sent if CASEWORKER in str(m.get("to"))]
    assert digest == i18n.t("fr", "referral.sms.digest", count=len(CALLERS))


def test_attack_public_endpoints_around_a_referral(live, tmp_path):
    """Audit: /healthz and /api/ledger/head tick with each referral; envelope sizes tell whether a note was long."""
    from test_referral_support import refer
    add_cso(live.app, tmp_path, "amal", areas=("*",))
    before = live.get("/healthz").json()
    head_before = live.get("/api/ledger/head").json()
    refer(live.app, note="")
    refer(live.app, note="x" * 300)
    refer(live.app, note="ملاحظة " * 40)
    assert live.get("/healthz").json() == before == {"status": "up"}
    detail = live.get("/healthz", headers={"Authorization": "Bearer wrong"}).json()
    assert detail == {"status": "up"}
    # the log's public checkpoint is signed on a schedule, not per event: three referrals later it is the same
    assert live.get("/api/ledger/head").json() == head_before
    db = live.app.extensions["dalil"].db()
    sizes = {n for (n,) in db.execute("SELECT length(envelope) FROM referrals")}
    assert len(sizes) == 1


def test_attack_request_fields_in_logs(live, caplog):
    """Audit: AT's ussd-end status logged whole (5,000 characters, templates); "55-123-456" not masked."""
    caplog.set_level(logging.INFO)
    status = "{{7*7}} Failed 55-123-456 " + "A" * 5000
    r = live.post("/hooks/africastalking/at-token-3f9a/ussd-end",
                  data={"sessionId": "s-end", "status": status, "hopsCount": "+216 55-123-456"})
    assert r.status_code == 200
    log_text = Path(live.app.extensions["dalil"].config["gateway"]["log_file"]).read_text()
    line = next(line for line in log_text.splitlines() if "ussd session ended" in line)
    assert len(line) < 200 and "55-123-456" not in line and "123" not in line.split("INFO", 1)[1]
    assert outbox.clean_error("invalid number 55-123-456 and (+216) 20/123/456") == \
        "invalid number [number] and [number]"


def test_attack_core_dumps_and_process_memory(live):
    """Audit: process memory holds plaintext; core dumps would write it."""
    from gateway import procguard
    assert procguard.dumpable() is False
    limits = Path(f"/proc/{os.getpid()}/limits").read_text()
    assert re.search(r"Max core file size\s+0\s+0", limits), limits


def test_attack_restart_while_a_provider_is_down(live, at_fake, tmp_path):
    """Audit: plaintext sits in the outbox and WAL while a provider is down. A restart drops what it could not
    send, and says so in `dalil status`."""
    ctx = live.app.extensions["dalil"]
    cfg = tmp_path / "status.toml"
    gw = ctx.config["gateway"]
    cfg.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n')
    # a gateway process (a server: it holds its own key) queues a reply, then stops before sending it
    script = ("from gateway import create_app, outbox\n"
              f"ctx = create_app({str(cfg)!r}).extensions['dalil']\n"
              "outbox.enqueue(ctx.db(), '+21620999001', 'Dalil: your reference is R-ABCDEF.', sensitive=True)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=60)  # noqa: S603
    assert not found_in(files_of(ctx), ["R-ABCDEF", "+21620999001", "20999001"])
    out = subprocess.run([sys.executable, "-c", "from gateway.cli import main; main()", "--config", str(cfg),  # noqa: S603
                          "status", "--json"], capture_output=True, text=True, env=env, timeout=60)
    import json
    assert json.loads(out.stdout)["outbox"]["dropped_at_restart"] == 1, out.stderr


@pytest.mark.slow  # mounts an ext4 image
@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mkfs.ext4"), reason="needs root and mkfs.ext4 (CI)")
def test_attack_raw_filesystem_image_while_a_provider_is_down(make_config, at_fake, tmp_path):
    """Audit: after the queued texts were wiped, `grep -a` on the raw ext4 image still found them."""
    from gateway import create_app
    from harness import LiveServer
    image, mnt = tmp_path / "disk.img", tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)  # noqa: S603, S607
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)  # noqa: S603, S607
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)  # noqa: S603, S607
    try:
        app = create_app(make_config(
            gateway={"database": str(mnt / "dalil.db"), "log_file": str(mnt / "dalil.log")},
            channels={"africastalking": at_fake.channel_config(webhook_token="at-token-3f9a")},
            referrals={"person_sms_delay_seconds": [0, 0]}))
        directory.load_demo(app.extensions["dalil"].db())
        with LiveServer(app) as live:
            ctx = app.extensions["dalil"]
            add_cso(app, tmp_path, "amal", needs=("legal",), areas=("*",), url=live.url, notify=CASEWORKER,
                    name="Association Amal")
            from referrals import notices
            at_fake.down()
            code, _, _ = ussd_referral(live, ctx.db(), CALLERS[0], "ATUid_img", i18n.t("en", "help.need.legal"))
            notices.flush(ctx, ctx.db())
            drain(ctx)  # the provider is down: the reference SMS and the digest wait
            queued = ctx.db().execute("SELECT count(*) FROM outbox WHERE state = 'queued'").fetchone()[0]
            assert queued >= 2
            texts = [code, CALLERS[0], CALLERS[0][4:], i18n.t("fr", "referral.sms.digest", count=1)]
            os.sync()
            assert not found_in(files_of(ctx), texts)  # sealed while they wait
            at_fake.up()
            ctx.db().execute("UPDATE outbox SET not_before = 0 WHERE state = 'queued'")
            drain(ctx)
            assert ctx.db().execute("SELECT count(*) FROM outbox WHERE state = 'queued'").fetchone()[0] == 0
            scrub_wal(ctx.db())
            os.sync()
            raw = image.read_bytes()  # the whole disk, free blocks included
    finally:
        import gc

        from gateway.store import close_thread_connections
        close_thread_connections()
        gc.collect()  # the server threads' connections, so the file system is free to unmount
        if subprocess.run(["umount", str(mnt)]).returncode:  # noqa: S603, S607
            subprocess.run(["umount", "-l", str(mnt)], check=True)  # noqa: S603, S607
    leaks = [t for t in texts for enc in (t.encode(), t.encode("utf-16-le"), t.encode("utf-16-be")) if enc in raw]
    assert not leaks, f"found in the raw disk image: {leaks}"


def test_attack_enumerating_everyone_who_ever_called(live, monkeypatch):
    """Audit: all 10^8 numbers tried against the contacts key file in 100 s gave everyone who ever called, in
    first-contact order (row ids), with their language and home governorate."""
    import hashlib
    import hmac

    from gateway import contacts
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    for i, phone in enumerate(CALLERS):
        handset = Handset(live, phone, f"ATUid_enum_{i}")
        handset.press()
        handset.choose(handset.press("3"), directory.area_name(db, "kairouan")["en"])
    keys_dir = Path(ctx.keys_dir)
    candidates = CALLERS + [f"+2162099{i:04d}" for i in range(200)]  # the attacker's enumeration, in small

    def enumerate_callers() -> set[str]:
        rows = {r[0] for r in db.execute("SELECT contact_key FROM contacts")}
        stable = ctx.secret("contacts")
        epoch_keys = [p.read_bytes() for p in keys_dir.glob("*.key")]  # every key file on the server
        found = set()
        for phone in candidates:
            key = contacts.contact_key(stable, phone)
            tries = [key] + [hmac.new(k, key.encode(), hashlib.sha256).hexdigest() for k in epoch_keys]
            tries += [hmac.new(k, phone.encode(), hashlib.sha256).hexdigest() for k in epoch_keys]
            if rows & set(tries):
                found.add(phone)
        return found

    assert enumerate_callers() == set(CALLERS)  # within the window, with the keys: as documented
    table_sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'contacts'").fetchone()[0]
    assert "WITHOUT ROWID" in table_sql  # no row ids: no first-contact order
    before = db.execute("SELECT contact_key FROM contacts").fetchall()
    now = contacts.current_epoch()
    monkeypatch.setattr(contacts, "current_epoch", lambda at=None: now + 2)  # the window has passed
    later = Handset(live, "+21620777001", "ATUid_enum_later")
    later.press()  # someone else calls: the old epoch is swept
    assert not enumerate_callers() & set(CALLERS)
    scrub_wal(db)
    assert not found_in(files_of(ctx), [k for (k,) in before])  # not in free pages or the WAL either
    # and the old epoch keys are gone
    assert not [p for p in keys_dir.glob("contacts-*.key") if int(p.stem.split("-")[1]) < now + 1]


def backup(db_path: str, to: Path) -> Path:
    src, dst = sqlite3.connect(db_path), sqlite3.connect(to)
    with dst:
        src.backup(dst)
    src.close(), dst.close()
    return to


def table_rows(path: Path) -> dict[str, set]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: set(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}  # noqa: S608
    finally:
        conn.close()


def test_attack_diffing_backups_around_an_erasure(live, tmp_path):
    """Audit: a backup diffed against the current file showed whose contact row went, and the desks' per-referral
    "erased" events then named the referrals; the subscription, its consent log and the referral rows stayed while
    the screen said nothing is kept. And: a number with nothing stored must get the same answer."""
    from referrals.protocol.events import ref_hash
    from test_referral_support import refer
    ctx = live.app.extensions["dalil"]
    db = ctx.db()
    desk = desk_home.load(add_cso(live.app, tmp_path, "amal", needs=("legal", "health"), areas=("*",),
                                  url=live.url, name="Association Amal"))
    person, other = CALLERS[0], CALLERS[1]
    phone = SmsPhone(live, person)
    phone.send("JOIN")
    handset = Handset(live, person, "ATUid_backup")
    handset.press()
    handset.choose(handset.press("3"), directory.area_name(db, "kairouan")["en"])
    mine = [refer(live.app, phone=person), refer(live.app, phone=person, need="health")]
    refer(live.app, phone=other)
    assert desk_client.sync(desk).received == 3
    assert db.execute("SELECT count(*) FROM subscribers WHERE phone = ?", [person]).fetchone()[0] == 1
    before = table_rows(backup(ctx.db_path, tmp_path / "before.db"))

    answer = phone.send("ERASE")
    assert answer == i18n.t("en", "help.erase.done_all")
    assert desk_client.sync(desk).erased == 2
    after = table_rows(backup(ctx.db_path, tmp_path / "after.db"))
    stranger = SmsPhone(live, "+21620555999")
    stranger.n = 100  # its own provider message ids
    assert stranger.send("ERASE") == answer  # nothing stored for this number: the same answer

    # the subscription, its consent history and the remembered language and governorate are gone
    assert not db.execute("SELECT count(*) FROM subscribers WHERE phone = ?", [person]).fetchone()[0]
    assert not [r for r in after["subscribers"] if person in r]
    assert len(after["consent_log"]) < len(before["consent_log"])
    assert len(after["contacts"]) == len(before["contacts"]) - 1
    # the diff names none of the person's referrals: no row about them changed, no "erased" event was logged
    refs = {ref_hash(s.referral_id) for s in mine} | {s.referral_id for s in mine}
    changed = {t: (before[t] ^ after[t]) for t in before}
    flat = repr({t: rows for t, rows in changed.items() if t not in ("subscribers", "consent_log", "contacts")})
    assert not [r for r in refs if r in flat]
    new_entries = [json_event(row[1]) for row in after["ledger_entries"] - before["ledger_entries"]]
    assert [e["event"] for e in new_entries] == ["erasure_requested"]
    assert after["delivered"] == before["delivered"]  # every delivered referral's state as it was
    # what stays for opt-out compliance lists no one: a 4-hex-digit mark, shared by ~1,500 numbers
    marks = [k for (k,) in after["opt_out_keys"] if k.startswith("mark:")]
    assert marks and all(re.fullmatch(r"mark:[0-9a-f]{4}", k) for k in marks)


def json_event(data: bytes) -> dict:
    import json
    return json.loads(data)
