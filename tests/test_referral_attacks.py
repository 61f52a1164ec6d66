"""An operator who writes to the server, against two CSOs and their two desks on the real server.

The operator can edit the database and the config, and read the gateway's key files, but runs the gateway's own
code. Each test replays one attack the audit made (issue 11): first as the audit made it, which the gateway now
refuses by itself; then the way that still works with the gateway's code, by configuring a coordinator key of the
operator's own. That one reads a referral or a notice (the window a server cannot close on its own), and each test
asserts that the desks' next sync raises an alert naming the log entry: in the sync's result (what `dalil desk
sync` prints, exiting 2), in the desk's alerts (its inbox page), and that the desk does not cosign.

Checkpoints are signed when the test says so, as the schedule ([referrals] checkpoint_minutes) would.
"""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from nacl.public import SealedBox

from gateway.cli import main
from referrals import csos, erasure, intake, ledger, relay, store, witness
from referrals.protocol import cso_keys, erasure_match, events, note, registry, sealing
from referrals.desk import client, home as desk_home, store as desk_store
from referrals.desk.web import create_desk_app
from referrals.keyring import coordinator_key, gateway_key
from test_referral_support import add_cso, log_entries, rewrite_log

PERSON = "+21620123456"


@pytest.fixture
def config(make_config):
    return make_config(referrals={"checkpoint_minutes": 60.0})


class Network:
    """Amal (legal, health in Kairouan) and Basma (legal, health everywhere), their desks synced and cosigning."""

    def __init__(self, live, tmp_path):
        self.live, self.app, self.tmp = live, live.app, tmp_path
        self.ctx = live.app.extensions["dalil"]
        self.db = self.ctx.db()
        self.amal = desk_home.load(add_cso(self.app, tmp_path, "amal", areas=("kairouan",), url=live.url,
                                           name="Association Amal"))
        self.basma = desk_home.load(add_cso(self.app, tmp_path, "basma", areas=("*",), url=live.url,
                                            name="Association Basma"))
        self.real_coordinator = self.ctx.config["referrals"]["coordinator_key"]
        self.tick()
        for desk in (self.amal, self.basma):
            result = client.sync(desk)
            assert result.ok and result.cosigned == 2, result

    def tick(self) -> int:
        """The scheduled checkpoint."""
        return relay.checkpoint_due(self.ctx, self.db, force=True)[0]

    def refer(self, need="legal", governorate="kairouan", delegation="kairouan_nord", phone=PERSON):
        """What the "Get help" flow does: route (the consent screen names the result), then seal."""
        cso = csos.route(self.db, need, governorate, delegation, coordinator_key(self.ctx))
        submitted = intake.submit(self.ctx, self.db, cso, phone=phone, lang="ar", channel="ussd", need=need,
                                  governorate=governorate, delegation=delegation,
                                  answers={"nationality": "sudanese", "status": "asylum"}, note="")
        return cso, submitted

    # --- what the operator holds or makes ----------------------------------------------------------------

    def operator_key(self):
        path = self.tmp / "operator" / "coordinator.key"
        if not path.exists():
            registry.keygen(path, "dalil-coordinator")  # the same name as the real one: only the key differs
        return registry.load_key(path)

    def trust_operator(self) -> None:
        """[referrals] coordinator_key edited to the operator's own key, and the gateway restarted."""
        name, key = self.operator_key()
        self.ctx.config["referrals"]["coordinator_key"] = note.verifier(name, bytes(key.verify_key)).vkey

    def operator_signs(self, record: dict) -> str:
        name, key = self.operator_key()
        return registry.sign(name, key, record)

    def attacker_cso_key(self):
        """(box secret, public line) of a CSO key pair the operator made."""
        path = self.tmp / "operator" / "cso.key"
        if not path.exists():
            (self.tmp / "operator" / "cso.pub").write_text(cso_keys.keygen(path))
        return cso_keys.load_keys(path)[0], (self.tmp / "operator" / "cso.pub").read_text()

    def record_of(self, cso_id: str) -> dict:
        return csos.signed_record(self.db, store.get_cso(self.db, cso_id))

    def read_envelope(self, referral_id: str, secret) -> dict:
        box = self.db.execute("SELECT envelope FROM referrals WHERE id = ?", [referral_id]).fetchone()[0]
        return json.loads(sealing._unpad(SealedBox(secret).decrypt(box)))

    def attacker_opens_nothing(self) -> None:
        secret, _ = self.attacker_cso_key()
        for (box,) in self.db.execute("SELECT envelope FROM referrals WHERE envelope IS NOT NULL UNION ALL "
                                      "SELECT sealed FROM erasure_notices"):
            with pytest.raises(Exception):  # noqa: B017 (any failure to decrypt)
                SealedBox(secret).decrypt(box)


@pytest.fixture
def net(live, tmp_path):
    return Network(live, tmp_path)


def entry_kinds(net) -> list[str]:
    return [json.loads(d)["event"] for d in log_entries(net.app)]


def assert_alert(desk, result, entry: int, kind: str, words: str) -> None:
    """The sync reported it, the desk's inbox holds it naming the entry, and the desk did not cosign."""
    assert any(f"log entry #{entry}" in a and words in a for a in result.alerts), result.alerts
    assert not result.ok and result.cosigned is None
    with desk_store.connect(desk.db_path) as conn:
        assert {"kind": kind, "entry": entry} in [{"kind": a["kind"], "entry": a["params"].get("entry")}
                                                  for a in desk_store.alerts(conn)]
    page = create_desk_app(desk).test_client().get("/", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert f"#{entry}" in page and "coordinator" in page


def both_desks_report(net, *findings) -> None:
    """The next checkpoint, then each desk's next sync reports every (entry, alert kind, words)."""
    net.tick()
    for desk in (net.amal, net.basma):
        result = client.sync(desk)
        for entry, kind, words in findings:
            assert_alert(desk, result, entry, kind, words)


# --- the attacks --------------------------------------------------------------------------------------------

def test_naive_key_swap(net):
    # as the audit did it: amal's key replaced in its registry row
    secret, public = net.attacker_cso_key()
    box_key, _ = cso_keys.parse_bundle(public)
    net.db.execute("UPDATE csos SET box_key = ? WHERE id = 'amal'", [box_key])
    cso, submitted = net.refer()
    assert cso["id"] == "basma"  # the edited row no longer matches amal's signed registration: not used
    net.attacker_opens_nothing()

    # what still works: a registration "signed" by the operator's own key, the config pointed at that key
    net.trust_operator()
    record = dict(net.record_of("amal"), seq=2, **registry.encode_keys(box_key, store.get_cso(net.db, "amal")
                                                                       ["verify_key"]))
    csos.update(net.db, coordinator_key(net.ctx), net.operator_signs(record))
    swap = store.ledger_size(net.db) - 1
    cso, submitted = net.refer()
    assert cso["id"] == "amal"
    assert net.read_envelope(submitted.referral_id, secret)["phone"] == PERSON  # read: the window
    created = store.get_referral(net.db, submitted.referral_id)["ledger_index"]
    both_desks_report(net, (swap, "registration", "is not signed by the coordinator"),
                      (created, "created", "no active registered organisation holds"))
    with desk_store.connect(net.amal.db_path) as conn:  # amal's own desk could not open it either
        assert not desk_store.referrals(conn)
    out = CliRunner().invoke(main, ["desk", "sync", "--home", str(net.amal.home)])
    assert out.exit_code == 2 and f"entry #{swap} failed this desk's checks" in out.output  # the alert stands


def test_laundered_key_swap_between_two_desks_syncs(net):
    before = store.ledger_size(net.db)  # both desks read and cosigned this much
    secret, public = net.attacker_cso_key()
    box_key, _ = cso_keys.parse_bundle(public)
    net.trust_operator()
    real = net.record_of("amal")
    csos.update(net.db, coordinator_key(net.ctx), net.operator_signs(
        dict(real, seq=2, **registry.encode_keys(box_key, real["verify_key"]))))
    cso, submitted = net.refer()
    content = net.read_envelope(submitted.referral_id, secret)
    assert content["phone"] == PERSON

    # amal's desk syncs now, before any checkpoint covers the swap: it reads the log's unsigned tail too
    first = client.sync(net.amal)
    assert_alert(net.amal, first, before, "registration", "is not signed by the coordinator")
    assert_alert(net.amal, first, before + 1, "created", "no active registered organisation holds")

    # the laundering: key and config restored, content re-sealed to amal's real key, the log rewritten from the
    # part no desk had cosigned, the checkpoint re-signed with the gateway's key from disk
    net.ctx.config["referrals"]["coordinator_key"] = net.real_coordinator
    registration = store.get_cso(net.db, "amal")["registration_index"]
    box, signature = sealing.seal(gateway_key(net.ctx), "amal", real["box_key"], submitted.referral_id, content)
    entries = log_entries(net.app)[:before]
    entries.append(events.encode_event("created", json.loads(log_entries(net.app)[before + 1])["day"],
                                       ref=events.ref_hash(submitted.referral_id),
                                       envelope=__import__("hashlib").sha256(box).hexdigest(),
                                       key=registry.key_fingerprint(real["box_key"])))
    rewrite_log(net.app, entries)
    net.db.execute("UPDATE referrals SET envelope = ?, signature = ?, ledger_index = ? WHERE id = ?",
                   [box, signature, before, submitted.referral_id])
    net.db.execute("UPDATE csos SET box_key = ?, registration_index = 0 WHERE id = 'amal'", [real["box_key"]])
    assert registration == before
    assert ledger.verify(net.db, ledger.log_verifier(net.ctx.config["referrals"]["log_origin"],
                                                     gateway_key(net.ctx))).ok  # the gateway's own check: OK

    # basma never saw the swapped entries: its view is consistent (that is the window, see docs/privacy.md)
    assert client.sync(net.basma).ok
    # amal read them: the rewrite is a fork at the entry it changed, at its next sync
    again = client.sync(net.amal)
    assert_alert(net.amal, again, before, "fork", "changed after this desk read it")


def test_fake_cso_named_like_a_real_one(net):
    secret, public = net.attacker_cso_key()
    fake = csos.new_record("amal-tunis", name="Association Amal", contact="+216 71 000 000",
                           needs=list(csos.NEEDS), areas=["kairouan_nord", "kairouan", "*"], public_bundle=public)
    # the coordinator never signed it: the gateway refuses it, naming the coordinator's key
    with pytest.raises(csos.RegistryError, match="not signed by the coordinator key"):
        csos.register(net.db, coordinator_key(net.ctx), net.operator_signs(fake), capacity=10 ** 6)
    # written straight into the table instead: not routed to
    box_key, verify_key = cso_keys.parse_bundle(public)
    store.insert_cso(net.db, {"id": "amal-tunis", "name": "Association Amal", "contact": "x", "notify_phone": None,
                              "language": "fr", "box_key": box_key, "verify_key": verify_key, "token_hash": b"",
                              "needs": list(csos.NEEDS), "areas": ["kairouan_nord"], "capacity": 10 ** 6,
                              "active": True, "registration_index": None})
    assert net.refer()[0]["id"] == "amal"
    net.db.execute("DELETE FROM csos WHERE id = 'amal-tunis'")

    net.trust_operator()
    csos.register(net.db, coordinator_key(net.ctx), net.operator_signs(fake), capacity=10 ** 6)
    registered = store.ledger_size(net.db) - 1
    cso, submitted = net.refer()
    assert (cso["id"], cso["name"]) == ("amal-tunis", "Association Amal")  # what the consent screen says
    assert net.read_envelope(submitted.referral_id, secret)["phone"] == PERSON
    created = store.get_referral(net.db, submitted.referral_id)["ledger_index"]
    both_desks_report(net, (registered, "registration", "'amal-tunis' is not signed by the coordinator"),
                      (created, "created", "no active registered organisation holds"))


def test_registration_without_a_coordinator_signature(net):
    _, public = net.attacker_cso_key()
    record = csos.new_record("nour", name="Association Nour", contact="+216 71 000 000", needs=["legal"],
                             areas=["kairouan_nord"], public_bundle=public)
    unsigned = registry.record_text(record)
    for text in (unsigned, unsigned + "\n"):  # the bare record, or a note with no signature line
        with pytest.raises(csos.RegistryError, match="not a registration file"):
            csos.register(net.db, coordinator_key(net.ctx), text, capacity=5)
    # appended to the log and the table directly, as the gateway's own code would have
    index = ledger.append(net.db, "registration", cso="nour", note=unsigned + "\n— dalil-coordinator AAAAAAAA\n")
    box_key, verify_key = cso_keys.parse_bundle(public)
    store.insert_cso(net.db, {"id": "nour", "name": "Association Nour", "contact": "x", "notify_phone": None,
                              "language": "fr", "box_key": box_key, "verify_key": verify_key, "token_hash": b"",
                              "needs": ["legal"], "areas": ["kairouan_nord"], "capacity": 5, "active": True,
                              "registration_index": index})
    assert net.refer()[0]["id"] == "amal"  # the gateway does not route to it
    net.attacker_opens_nothing()
    both_desks_report(net, (index, "registration", "'nour' is not signed by the coordinator"))


def test_erasure_notice_to_an_inactive_cso(net):
    secret, public = net.attacker_cso_key()
    # cinq was registered by the coordinator, then taken out by the coordinator
    signer, key = registry.load_key(net.tmp / "coordinator" / "coordinator.key")
    record = csos.new_record("cinq", name="Association Cinq", contact="+216 71 000 000", needs=["legal"],
                             areas=["tataouine"], public_bundle=public)
    csos.register(net.db, coordinator_key(net.ctx), registry.sign(signer, key, record), capacity=5)
    csos.update(net.db, coordinator_key(net.ctx), registry.sign(signer, key, dict(record, seq=2, active=False)))

    # as the audit did it: the row switched back on in the database; the notice does not go to it
    net.db.execute("UPDATE csos SET active = 1 WHERE id = 'cinq'")
    assert erasure.request(net.ctx, net.db, "+21620111111") == 2
    assert {c for (c,) in net.db.execute("SELECT cso_id FROM erasure_notices")} == {"amal", "basma"}
    net.attacker_opens_nothing()

    # what still works: a reactivation signed by the operator's key
    net.trust_operator()
    csos.update(net.db, coordinator_key(net.ctx), net.operator_signs(dict(record, seq=3, active=True)))
    reactivated = store.ledger_size(net.db) - 1
    # with the config trusting the operator's key, amal's and basma's real registrations no longer count
    assert erasure.request(net.ctx, net.db, PERSON) == 1
    requested = store.ledger_size(net.db) - 1
    sealed = net.db.execute("SELECT sealed FROM erasure_notices WHERE cso_id = 'cinq'").fetchone()[0]
    notice = json.loads(sealing._unpad(SealedBox(secret).decrypt(sealed)))
    assert erasure_match.matches(PERSON, notice)  # the blind value, matched against a list of numbers
    both_desks_report(net, (reactivated, "registration", "'cinq' is not signed by the coordinator"),
                      (requested, "erasure", "no active registered organisation holds"))


def test_rollback_of_the_log(net):
    net.refer()
    net.refer(phone="+21620999888")
    net.tick()
    for desk in (net.amal, net.basma, net.amal, net.basma):  # amal's acknowledgements are entries too
        assert client.sync(desk).ok
    size = store.ledger_size(net.db)
    rewrite_log(net.app, log_entries(net.app)[:size - 2])
    for desk in (net.amal, net.basma):
        assert_alert(desk, client.sync(desk), size - 2, "rollback", "are gone")


def test_fork_of_the_log(net):
    _, first = net.refer()
    net.refer(phone="+21620999888")
    net.tick()
    assert client.sync(net.amal).received == 2  # its acknowledgements are two more entries
    size = net.tick()
    for desk in (net.amal, net.basma):
        assert client.sync(desk).cosigned == size
    entries = log_entries(net.app)
    # the referral's row is gone once its desk has it (issue 10): find its "created" entry by its hashed id
    from referrals.protocol.events import ref_hash
    index = next(i for i, e in enumerate(entries)
                 if json.loads(e).get("event") == "created" and json.loads(e).get("ref") == ref_hash(first.referral_id))
    event = json.loads(entries[index])
    event["day"] = "2000-01-01"
    entries[index] = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    rewrite_log(net.app, entries)
    for desk in (net.amal, net.basma):
        assert_alert(desk, client.sync(desk), index, "fork", "rewritten or forked")
    # and the gateway keeps the cosignatures the desks gave before: evidence of what the log was
    cosigned = witness.cosigned(net.db, coordinator_key(net.ctx))
    assert cosigned == {"amal": len(entries), "basma": len(entries)}


# --- the window ---------------------------------------------------------------------------------------------

def test_delivery_can_wait_for_a_cosigned_checkpoint(net):
    net.ctx.config["referrals"]["hold_until_cosigned"] = True
    _, submitted = net.refer()
    net.tick()
    first = client.sync(net.amal)  # cosigns the checkpoint covering the "created" entry, gets nothing yet
    assert first.ok and first.received == 0 and first.cosigned == store.ledger_size(net.db)
    second = client.sync(net.amal)
    assert second.received == 1
    with desk_store.connect(net.amal.db_path) as conn:
        assert [r["code"] for r in desk_store.referrals(conn)] == [submitted.code]


def test_status_shows_which_desks_cosigned_which_size(net, tmp_path):
    gw = net.ctx.config["gateway"]
    cfg = tmp_path / "status.toml"
    cfg.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n'
                   f'[referrals]\ncoordinator_key = "{net.real_coordinator}"\n')
    net.refer()
    net.tick()
    client.sync(net.amal)
    out = CliRunner().invoke(main, ["--config", str(cfg), "status"]).output
    assert re.search(r"Referral log: 4 entries, checkpoint at size 3; 1 desk\(s\) cosigned size 3; "
                     r"1 desk\(s\) cosigned size 2", out), out
