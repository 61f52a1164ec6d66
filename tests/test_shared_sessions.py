"""Shared sessions in Valkey ([sessions] url): several `dalil serve` processes share the live USSD and SMS sessions.

Against a real redis-server started by the test (tests/valkey_server.py, nothing on disk) and the real gateway:
a USSD session whose hops alternate between two `dalil serve` processes reaches the same screens, in Arabic,
French and English, as one on a single process; sessions and resume places expire as configured; while a referral
is half-way, Valkey holds no number, no answer, no session id: only keyed names and ciphertext; Valkey killed under
live sessions gives each caller a short "try again" END screen in their language, never a 500, an SMS a 503 the
provider retries, and service comes back by itself when Valkey does; a server that keeps anything on disk, a
missing or malformed key, an unreachable URL stop the gateway with the key named.
"""
from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from flows import directory, shared_sessions
from flows.sessions import SessionsUnavailable
from gateway import create_app, initialize, outbox
from gateway.config import ConfigError, load
from gateway import store
from gateway.store import close_thread_connections
from harness import LiveServer, free_port
from messages import i18n
from messages.segments import fold, screen_length
from test_fuzz_support import ServerProcess, write_config
from test_referral_e2e import NOTE, secrets_of_the_person
from test_referral_support import add_cso
from valkey_server import KEY_ENV, ValkeyServer

ROOT = Path(__file__).resolve().parent.parent
AT_USSD = "/hooks/africastalking/at-token-3f9a/ussd"
AT_SMS = "/hooks/africastalking/at-token-3f9a/sms"
SESSIONS = {"key": f"env:{KEY_ENV}"}
LANGUAGE_CHOICE = {"ar": "1", "fr": "2", "en": "3"}
# first contact (the language, Kairouan), jobs and training, a programme, its summary, a wrong key, back twice,
# another programme, back, the main menu, help
WALK = ["1", "1", "1", "98", "7", "0", "0", "2", "0", "00", "4"]
NAME = re.compile(rb"^dalil:(ussd|sms|resume|ussd-lock|sms-lock):[a-z2-7]{32}$")


def post_hop(base: str, session: str, phone: str, inputs: list[str]):
    import requests
    return requests.post(base + AT_USSD, timeout=15, data={"sessionId": session, "phoneNumber": phone,
                                                           "serviceCode": "*216#", "text": "*".join(inputs)})


def walk(bases: list[str], session: str, phone: str, keys: list[str]) -> list[str]:
    """Dial and press ``keys``, hop n going to ``bases[n % len(bases)]``; every screen as the caller saw it."""
    screens, inputs = [], []
    for n, key in enumerate([None, *keys]):
        if key is not None:
            inputs.append(key)
        r = post_hop(bases[n % len(bases)], session, phone, inputs)
        assert r.status_code == 200, r.text
        screens.append(r.text)
    return screens


def shared_config_text(valkey, database: str = "dalil.db", **ussd) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in ussd.items())
    return f"""
[gateway]
database = "{database}"
keys_dir = "keys"
log_file = "dalil.log"

[ussd]
{extra}
[channels.africastalking]
enabled = true
webhook_token = "at-token-3f9a"

[dispatcher]
enabled = false

[sessions]
url = "{valkey.url}"
key = "env:{KEY_ENV}"
"""


@pytest.mark.slow  # two `dalil serve` processes
def test_hops_alternating_between_two_servers_reach_the_same_screens(tmp_path, valkey, template_database):
    config = write_config(tmp_path, shared_config_text(valkey))
    ctx = initialize(load(str(config)))
    directory.load_demo(ctx.db())
    close_thread_connections()
    # the reference: one gateway with its sessions in memory (the default), on a database of its own
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copyfile(template_database, reference / "dalil.db")
    memory = create_app({"gateway": {"database": str(reference / "dalil.db"), "keys_dir": str(reference / "keys"),
                                     "log_file": str(reference / "dalil.log")},
                         "channels": {"africastalking": {"webhook_token": "at-token-3f9a"}},
                         "dispatcher": {"enabled": False}})
    directory.load_demo(memory.extensions["dalil"].db())
    with ServerProcess(config, free_port()) as one, ServerProcess(config, free_port()) as other, \
            LiveServer(memory) as in_memory:
        for lang, choice in LANGUAGE_CHOICE.items():
            keys = [choice, *WALK]
            single = walk([in_memory.url], f"single-{lang}", f"+2162010000{choice}", keys)
            shared = walk([one.url, other.url], f"shared-{lang}", f"+2162020000{choice}", keys)
            assert shared == single, f"{lang}: the screens differ when hops alternate between two servers"
            assert walk([other.url], f"one-{lang}", f"+2162030000{choice}", keys) == single
            assert len(set(single)) >= 8, single  # a real walk, not one screen repeated
            assert single[-1].startswith("CON " + i18n.t(lang, "help.need.title")), single[-1]
            for screen in shared:
                encoding, units = screen_length(screen[4:])
                assert units <= (182 if encoding == "GSM-7" else 80), screen
        # a provider's retry racing the next hop on the other server: both answer, one after the other
        answers = []
        threads = [threading.Thread(target=lambda base: answers.append(
            post_hop(base, "race", "+21620399999", ["3"])), args=(base,)) for base in (one.url, other.url)]
        assert post_hop(one.url, "race", "+21620399999", []).status_code == 200
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in answers] == [200, 200]
        assert {r.text for r in answers} == {answers[0].text}  # the same screen: the hop was read once
    close_thread_connections()
    log = (tmp_path / "dalil.log").read_text()
    assert " ERROR " not in log and "Traceback" not in log, log[-2000:]


# -- one server in process, with the shared stores --------------------------------------------------------------

def shared_app(make_config, template_database, valkey, **sections):
    cfg = make_config(sessions={"url": valkey.url, **SESSIONS}, **sections)
    if store.is_file(cfg["gateway"]["database"]):
        shutil.copyfile(template_database, cfg["gateway"]["database"])
    app = create_app(cfg)
    directory.load_demo(app.extensions["dalil"].db())
    return app


@pytest.fixture
def live_shared(make_config, template_database, valkey):
    with LiveServer(shared_app(make_config, template_database, valkey)) as server:
        yield server
    close_thread_connections()


def test_sessions_and_resume_places_expire_as_configured(make_config, template_database, valkey):
    app = shared_app(make_config, template_database, valkey, ussd={"session_seconds": 1, "resume_seconds": 3})
    with LiveServer(app) as live:
        phone, base = "+21620400001", live.url
        screens = walk([base], "E1", phone, ["3", "1", "1"])  # English, Kairouan, jobs and training
        jobs = screens[-1]
        ttls = {key: valkey.client().pttl(key) for key in valkey.keyspace()}
        assert sorted(k.split(b":")[1] for k in ttls) == [b"resume", b"ussd"], ttls
        assert all(0 < ttl <= 3000 for ttl in ttls.values()), ttls
        assert all(ttl <= 1000 for key, ttl in ttls.items() if key.startswith(b"dalil:ussd:")), ttls
        time.sleep(1.3)  # the session is gone, its place is not: the next hop offers to continue
        resumed = post_hop(base, "E1", phone, ["3", "1", "1", "1"]).text
        assert resumed.startswith("CON " + i18n.t("en", "resume.title")), resumed
        assert post_hop(base, "E1", phone, ["3", "1", "1", "1", "1"]).text == jobs  # "Continue where I was"
        time.sleep(3.3)  # both gone
        assert valkey.keyspace() == {}
        fresh = post_hop(base, "E2", phone, []).text
        assert fresh.startswith("CON Dalil\n1. " + i18n.t("en", "menu.main.work")), fresh
    close_thread_connections()


def test_valkey_holds_only_ciphertext_while_a_referral_is_half_way(make_config, template_database, valkey,
                                                                    tmp_path):
    app = shared_app(make_config, template_database, valkey, referrals={"ask_optional_questions": True})
    with LiveServer(app) as live:
        half_way_referral(live, valkey, tmp_path)
    close_thread_connections()


def half_way_referral(live_shared, valkey, tmp_path):
    from test_referral_e2e import Handset, SmsPhone
    ctx = live_shared.app.extensions["dalil"]
    add_cso(live_shared.app, tmp_path, "amal", needs=("legal",), areas=("kairouan",), name="Association Amal")
    t = lambda key, **kw: i18n.t("en", key, **kw)  # noqa: E731
    phone = "+21620123456"
    ussd = Handset(live_shared, phone, "ATUid_valkey_1")
    ussd.press()
    screen = ussd.choose(ussd.choose(ussd.press("3"), "Kairouan"), t("menu.main.help"))
    screen = ussd.choose(ussd.choose(screen, t("help.need.legal")), t("help.where.home"))
    consent = ussd.choose(ussd.choose(screen, t("help.nat.sudanese")), t("help.status.nopapers"))
    assert consent.startswith("CON " + t("help.consent.title", org="Association Amal"))
    sms = SmsPhone(live_shared, phone)
    text = sms.choose(sms.send("menu"), t("menu.main.help"))
    text = sms.choose(sms.choose(text, t("help.need.legal")), t("help.where.home"))
    text = sms.choose(sms.choose(text, t("help.nat.sudanese")), t("help.status.nopapers"))
    assert sms.send(NOTE).startswith(t("help.consent.title", org="Association Amal"))

    space = valkey.keyspace()
    kinds = sorted(NAME.match(key).group(1).decode() for key in space)
    assert kinds == ["sms", "ussd"], space.keys()  # the two conversations; no lock left held, no place kept
    words = [*secrets_of_the_person(), "legal", "help_need", "ATUid_valkey_1", "kairouan", "Association Amal",
             ctx.services.ussd_sessions.get(f"africastalking:{ussd.session_id}").contact_key]
    for key, value in space.items():
        for word in words:
            for encoded in (word.encode(), word.encode("utf-16-le")):
                assert encoded.lower() not in key.lower() and encoded.lower() not in value.lower(), (key, word)
        assert (len(value) - 40) % shared_sessions.PAD == 0, len(value)  # nonce + MAC + padded plaintext
    # the scan would have seen them: opened with the key, the same values hold the answers and the note
    shared = ctx.services.sms_sessions.shared
    opened = [str(shared.unseal(key.decode(), value)) for key, value in space.items()]
    assert any("sudanese" in o and NOTE in o for o in opened) and any("nopapers" in o for o in opened)

    done = ussd.choose(consent, t("help.consent.yes"))
    assert done.startswith("END ")
    assert sorted(NAME.match(key).group(1).decode() for key in valkey.keyspace()) == ["sms"]


def test_valkey_down_asks_each_caller_to_try_again_and_service_comes_back(live_shared, valkey):
    base, db = live_shared.url, live_shared.app.extensions["dalil"].db()
    inputs = {}
    for lang, choice in LANGUAGE_CHOICE.items():
        inputs[lang] = [choice, "1", "1"]
        walk([base], f"down-{lang}", f"+2162050000{choice}", inputs[lang])
    valkey.kill()
    for lang, choice in LANGUAGE_CHOICE.items():
        r = post_hop(base, f"down-{lang}", f"+2162050000{choice}", [*inputs[lang], "1"])
        expected = i18n.t(lang, "sessions.try_again")
        assert r.status_code == 200, r.text
        assert r.text == "END " + (fold(expected) if lang == "fr" else expected), r.text
        encoding, units = screen_length(r.text[4:])
        assert units <= (80 if encoding == "UCS-2" else 182) and (encoding == "UCS-2") == (lang == "ar"), r.text
        assert units <= 80, "the try-again screen fits the smallest (UCS-2) screen in every language"
    # a caller the line does not know yet: the default language
    r = post_hop(base, "down-new", "+21620599999", [])
    assert r.text == "END " + i18n.t("ar", "sessions.try_again")
    # the aggregator's end-of-session notice, and an SMS: the provider retries a 503; nothing is recorded
    end = live_shared.post("/hooks/africastalking/at-token-3f9a/ussd-end", data={"sessionId": "down-ar"})
    assert end.status_code == 200
    before = db.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0]
    form = {"from": "+21620500003", "to": "85000", "text": "menu", "id": "ATXid_down_1",
            "date": "2026-11-23 10:00:00"}
    r = live_shared.post(AT_SMS, data=form)
    assert r.status_code == 503 and r.json()["reason"] == "sessions unavailable, try again", r.text
    assert list(outbox.readable(db, before)) == []

    valkey.start()  # the same port: the gateway reconnects by itself
    fresh = walk([base], "after-1", "+2162050000" + "3", [])
    assert fresh[0].startswith("CON Dalil\n1. " + i18n.t("en", "menu.main.work")), fresh
    assert post_hop(base, "after-1", "+21620500003", ["1"]).text.startswith("CON " + i18n.t("en", "list.work.title"))
    assert live_shared.post(AT_SMS, data=form).status_code == 200  # the provider's retry
    replies = [r["body"] for r in outbox.readable(db, before) if r["to_number"] == "+21620500003"]
    assert replies and replies[0].startswith("Dalil\n1. " + i18n.t("en", "menu.main.work")), replies


# -- refusals at start --------------------------------------------------------------------------------------------

def test_serve_refuses_a_valkey_that_keeps_sessions_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "ab" * 32)
    with ValkeyServer(tmp_path, persistent=True) as persistent:  # redis-server's own defaults: RDB snapshots
        config = write_config(tmp_path, shared_config_text(persistent))
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "gateway.cli", "--config", str(config)]
        subprocess.run([*command, "init"], env=env, check=True, capture_output=True, timeout=60)
        run = subprocess.run([*command, "serve", "--port", str(free_port())], env=env, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode != 0
        assert f"[sessions] url {persistent.url}: the server writes snapshots to disk" in run.stderr, run.stderr
        assert 'save ""' in run.stderr and "Traceback" not in run.stderr
        persistent.client().config_set("save", "")
        persistent.client().config_set("appendonly", "yes")
        with pytest.raises(ConfigError, match=r"\[sessions\] url .*appendonly yes.*run it with appendonly no"):
            create_app(load(str(config)))
        persistent.client().config_set("appendonly", "no")
        create_app(load(str(config)))  # and once it keeps nothing, the gateway starts
    close_thread_connections()


def test_a_valkey_without_config_command_starts_with_a_warning(make_config, template_database, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "cd" * 32)
    with ValkeyServer(tmp_path, None, "--rename-command", "CONFIG", "") as renamed:
        shared_app(make_config, template_database, renamed)
    log = Path(make_config()["gateway"]["log_file"]).read_text()
    assert "cannot read the server's persistence settings" in log and 'save ""' in log, log
    close_thread_connections()


@pytest.mark.parametrize("key,message", [
    ("", r"\[sessions\] key: missing"),
    ("0123", r"\[sessions\] key: expected a 32-byte key"),
    ("zz" * 32, r"\[sessions\] key: expected a 32-byte key"),
    ("env:DALIL_NO_SUCH_KEY", r"\[sessions\] key: environment variable DALIL_NO_SUCH_KEY is not set"),
])
def test_a_missing_or_malformed_key_is_refused_with_its_name(make_config, valkey, key, message):
    with pytest.raises(ConfigError, match=message) as refused:
        create_app(make_config(sessions={"url": valkey.url, "key": key}))
    assert "zz" * 8 not in str(refused.value)  # the value itself is never shown


def test_an_unreachable_valkey_is_refused_with_the_url_and_no_password(make_config, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "ef" * 32)
    port = free_port()
    with pytest.raises(ConfigError, match=rf"\[sessions\] url redis://:\*\*\*@127\.0\.0\.1:{port}/0: cannot reach"
                       ) as refused:
        create_app(make_config(sessions={"url": f"redis://:hunter2pw@127.0.0.1:{port}/0", **SESSIONS}))
    assert "hunter2pw" not in str(refused.value)
    with pytest.raises(ConfigError, match=r"\[sessions\] url: not a redis:// URL"):
        create_app(make_config(sessions={"url": f"http://127.0.0.1:{port}/0", **SESSIONS}))
    assert shared_sessions.parse_key(base64.b64encode(b"k" * 32).decode(), "k") == b"k" * 32  # base64 as well as hex


# -- the lock ----------------------------------------------------------------------------------------------------

def test_the_session_lock_holds_across_processes_and_is_bounded(valkey, monkeypatch):
    key = bytes(range(32))
    one, two = (shared_sessions.Shared(valkey.url, key, 0.5) for _ in range(2))  # two pools: two processes
    name = one.name("ussd-lock", "africastalking:S1")
    assert name == two.name("ussd-lock", "africastalking:S1")
    order = []

    def second():
        with two.lock(name):
            order.append("two")
    with one.lock(name):
        waiter = threading.Thread(target=second)
        waiter.start()
        time.sleep(0.3)
        order.append("one released")
    waiter.join(5)
    assert order == ["one released", "two"]  # the second waited for the first
    assert valkey.keyspace() == {}  # and released it
    # a process that died holding the lock: the next hop waits a bounded time, then the lock expires by itself
    valkey.client().set(name, "a-dead-process", px=int(shared_sessions.LOCK_SECONDS * 1000))
    monkeypatch.setattr(shared_sessions, "LOCK_WAIT_SECONDS", 0.2)
    t0 = time.monotonic()
    with pytest.raises(SessionsUnavailable, match="holds its lock"):
        with one.lock(name):
            pass
    assert time.monotonic() - t0 < 1
    assert 0 < valkey.client().pttl(name) <= shared_sessions.LOCK_SECONDS * 1000
    assert valkey.client().get(name) == b"a-dead-process"  # a lock that is not ours is never deleted
