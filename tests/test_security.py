"""Security across the whole gateway: every route, replays, injection, secrets, the municipality's reach.

- Every URL rule of the app is walked (app.url_map): each state-changing one refuses a request without its
  token, signature or session with the documented answer (404 for a wrong token in the path, 403 for a bad
  Twilio signature or SMSSync secret, 401 for the desk and role APIs, the sign-in page for the console), never a
  200, and the database is untouched. A route this test does not know fails it: a new endpoint must be
  classified here, with the way it is protected.
- The same walk signed in as each console role: a role refused an area gets 403 on its actions and nothing moves.
- A replayed Twilio request (same MessageSid, validly signed) queues nothing more, even after the first reply was
  sent and wiped; a replayed status callback changes nothing.
- SQL and template injection strings in every text field are stored and shown literally: tables survive, texts
  come back byte for byte, HTML pages escape them, "{{7*7}}" never becomes 49.
- Secrets (webhook tokens, provider keys, the SMSSync secret, CSO and role tokens, the Flask key, a staff
  password) never appear in the log or in any answer, errors and crashes included.
- The municipality role reaches no referral data, through the API or the console.
"""
from __future__ import annotations

import io
import time

import pytest
from twilio.request_validator import RequestValidator

from fakes import FakeAfricasTalking, FakeTwilio
from gateway import create_app, outbox
from gateway.dispatcher import Dispatcher
from gateway.store import close_thread_connections, transaction
import dbscan
from test_console_support import PASSWORD, add_accounts, csrf, login
from test_fuzz_support import assert_consistent, database_digest

SECRETS = {
    "at_token": "at-hook-7f3kq9zv2m",
    "at_key": "atsk_5d8e1f0a9c7b6e3d2f1a",
    "twilio_token": "twtok_9a8b7c6d5e4f3a2b1c0d",
    "sync_secret": "sync-secret-4pq8xw2n",
    "agg_token": "agg-hook-2h7d9k4s1x",
    "muni_token": "muni-role-8x2m5q7w3z9t",
    "coord_token": "coord-role-3k9v2p8d6f1g",
    "flask_key": "flask-key-6t4r2e8w0q9y7u5i3o1p",
}
PUBLIC = "https://dalil.example.tn"
INJECTIONS = ["'; DROP TABLE outbox;--", "{{7*7}}", "<script>alert(1)</script>", "${7*7}", "{0.__class__}",
              "%(x)s %s", "\" onmouseover=\"alert(1)"]


@pytest.fixture
def fakes():
    with FakeTwilio(auth_token=SECRETS["twilio_token"]) as tw, FakeAfricasTalking(api_key=SECRETS["at_key"]) as at:
        yield tw, at


@pytest.fixture
def app(make_config, fakes):
    tw, at = fakes
    app = create_app(make_config(
        gateway={"public_url": PUBLIC, "secret_key": SECRETS["flask_key"]},
        channels={"africastalking": {**at.channel_config(timeout_seconds=1.0), "webhook_token": SECRETS["at_token"]},
                  "twilio": tw.channel_config(timeout_seconds=1.0),
                  "smssync": {"enabled": True, "secret": SECRETS["sync_secret"], "prefixes": ["+21699"]},
                  "generic_ussd": {"token": SECRETS["agg_token"]}},
        referrals={"municipality_token": SECRETS["muni_token"], "coordinator_token": SECRETS["coord_token"]},
        dispatcher={"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.02, "circuit_failures": 100}))
    from flows import directory
    directory.load_demo(app.extensions["dalil"].db())
    add_accounts(app)
    yield app
    close_thread_connections()


def db_of(app):
    return app.extensions["dalil"].db()


def all_tables(db) -> list[str]:
    return [t for t in dbscan.tables(db) if t != "login_attempts"]


def twilio_post(client, path, params, token=SECRETS["twilio_token"]):
    signature = RequestValidator(token).compute_signature(PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


# -- every route ------------------------------------------------------------------------------------------------

ARGS = {"token": "not-the-token", "code": "R-XXXXXX", "campaign_id": 1, "action": "pause", "lid": "x", "oid": "x",
        "sid": "x", "key": "menu.title", "job_id": "x", "user_id": 1, "filename": "console.css", "poll_id": 1,
        "step": "open", "offer_id": 1}
# a body that would do something if the request were let through
BODY = {"from": "+21620123456", "text": "JOIN", "id": "sec-1", "sessionId": "sec", "phoneNumber": "+21620123456",
        "status": "Success", "MessageSid": "SM" + "0" * 32, "From": "+21620123456", "Body": "JOIN",
        "MessageStatus": "delivered", "message": "JOIN", "msisdn": "+21620123456", "username": "admin",
        "password": PASSWORD, "role": "admin", "name": "x", "phone": "+21620123456", "referrals": "[]"}
CONSOLE_PUBLIC_POST = {"console.login", "console.set_language"}  # refused without the form's CSRF token
PUBLIC_GET = {"health.healthz", "referrals.ledger_head", "console.login", "console.static", "static"}


def expected_without_credentials(rule, method: str) -> set[int]:
    """The documented refusal of each route, for a request that carries no credentials at all."""
    path = rule.rule
    if path.startswith(("/hooks/africastalking/<token>", "/hooks/ussd/<token>", "/hooks/kannel/<token>")):
        return {404}  # AT and Kannel sign nothing: the unguessable token in the path is the credential
    if path.startswith("/hooks/twilio/"):
        return {403}  # X-Twilio-Signature
    if path == "/hooks/smssync":
        return {403}  # the shared secret
    if path.startswith("/api/desk/"):
        return {401}  # bearer token + signed request
    if path.startswith("/api/"):
        return {401}  # role tokens
    if path == "/":
        return {302}  # to the console, which asks for a sign-in
    if path.startswith("/console/"):
        if method == "POST" and rule.endpoint in CONSOLE_PUBLIC_POST:
            return {400}  # the CSRF token
        return {302, 303, 401}  # to the sign-in page; 401 to a fetch call (JSON)
    raise AssertionError(f"route {method} {path} ({rule.endpoint}) is not classified by the security test: "
                         f"say how it is protected and what it answers without credentials")


def routes(app, methods):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & methods):
            values = {name: ARGS.get(name, "x") for name in rule.arguments}
            yield rule, method, app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def test_every_state_changing_route_refuses_a_request_without_credentials(app):
    client = app.test_client()
    db = db_of(app)
    before = database_digest(db, all_tables(db))
    seen = 0
    for rule, method, url in routes(app, {"POST", "PUT", "PATCH", "DELETE"}):
        for body in ({"data": BODY}, {"json": BODY}):
            r = client.open(url, method=method, **body)
            allowed = expected_without_credentials(rule, method)
            assert r.status_code in allowed, (method, url, r.status_code, r.get_data(as_text=True)[:200])
            if r.status_code in (302, 303):
                assert r.headers["Location"].startswith("/console/login"), (url, r.headers["Location"])
            seen += 1
    assert seen >= 40
    assert database_digest(db, all_tables(db)) == before, "an unauthenticated request changed the database"


def test_every_private_page_and_api_refuses_a_request_without_credentials(app):
    client = app.test_client()
    for rule, method, url in routes(app, {"GET"}):
        r = client.get(url)
        if rule.endpoint in PUBLIC_GET:
            assert r.status_code in (200, 404), url  # /static has no files
            continue
        allowed = expected_without_credentials(rule, method)
        assert r.status_code in allowed, (url, r.status_code, r.get_data(as_text=True)[:200])


def test_wrong_role_tokens_and_sessions_are_refused_and_change_nothing(app):
    db = db_of(app)
    tables = [t for t in all_tables(db) if t != "users"]  # signing in stamps users.last_login
    before = database_digest(db, tables)
    # a role token is not a desk credential, and the municipality is not the coordinator
    muni = {"Authorization": f"Bearer {SECRETS['muni_token']}"}
    for path in ("/api/desk/ack", "/api/desk/events"):
        assert app.test_client().post(path, json={}, headers=muni).status_code == 403
    # signed-in roles against console actions outside their areas, with a valid CSRF token
    refused = {"muni": ("/console/campaigns/new", "/console/campaigns/1/send", "/console/campaigns/1/pause",
                        "/console/campaigns/audience", "/console/directory/services/new",
                        "/console/directory/services/x/retire", "/console/directory/import",
                        "/console/directory/organizations/new", "/console/directory/locations/new",
                        "/console/flows/texts/menu.title", "/console/subscribers", "/console/subscribers/opt-out",
                        "/console/users", "/console/users/1", "/console/simulator/hop",
                        "/console/simulator/hangup", "/console/simulator/sms", "/console/polls/new",
                        "/console/polls/1/edit", "/console/polls/1/open", "/console/polls/1/close",
                        "/console/polls/1/invite", "/console/employment/offers", "/console/employment/offers/1/open",
                        "/console/employment/offers/1/close", "/console/employment/trades"),
               "staff": ("/console/users", "/console/users/1")}
    for name, paths in refused.items():
        client = app.test_client()
        assert login(client, name).status_code == 303
        for path in paths:
            r = client.post(path, data={**BODY, "csrf_token": csrf(client)})
            assert r.status_code == 403, (name, path, r.status_code)
        # the same with a forged CSRF token: refused before the role is even looked at
        r = client.post(paths[0], data={**BODY, "csrf_token": "forged"})
        assert r.status_code == 400
    assert database_digest(db, tables) == before


# -- replays ------------------------------------------------------------------------------------------------------

def test_a_replayed_twilio_sms_queues_nothing_more_even_after_the_reply_was_sent_and_wiped(app):
    client = app.test_client()
    db = db_of(app)
    params = {"MessageSid": "SM" + "7" * 32, "From": "+21620123456", "Body": "JOIN", "To": "+15005550006"}
    assert twilio_post(client, "/hooks/twilio/sms", params).status_code == 200
    first = db.execute("SELECT id, idempotency_key FROM outbox ORDER BY id").fetchall()
    assert first
    for msg_id, _ in first:  # the replies went out: number and text wiped, only the key is left
        with transaction(db):
            db.execute("UPDATE outbox SET state = 'sending', channel = 'twilio', lease_owner = 't', "
                       "lease_until = 1e12 WHERE id = ?", [msg_id])
            outbox.mark_sent(db, msg_id, f"SMreply{msg_id}")
    for replay in (params, {**params, "Body": "STOP"}, {**params, "From": "+21698765432"}):
        assert twilio_post(client, "/hooks/twilio/sms", replay).status_code == 200
    assert db.execute("SELECT id, idempotency_key FROM outbox ORDER BY id").fetchall() == first
    assert db.execute("SELECT count(*) FROM subscribers WHERE status = 'opted_out'").fetchone()[0] == 0
    # a signature made for the status callback does not open the SMS webhook
    signature = RequestValidator(SECRETS["twilio_token"]).compute_signature(PUBLIC + "/hooks/twilio/status", params)
    assert client.post("/hooks/twilio/sms", data={**params, "MessageSid": "SM" + "8" * 32},
                       headers={"X-Twilio-Signature": signature}).status_code == 403


def test_a_replayed_status_callback_changes_nothing(app):
    client = app.test_client()
    db = db_of(app)
    msg = outbox.enqueue(db, "+21620123456", "news", kind="notice")
    with transaction(db):
        db.execute("UPDATE outbox SET state = 'sending', channel = 'twilio', lease_owner = 't', lease_until = 1e12 "
                   "WHERE id = ?", [msg])
        outbox.mark_sent(db, msg, "SM" + "9" * 32)
    delivered = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered"}
    assert twilio_post(client, "/hooks/twilio/status", delivered).status_code == 204
    row = db.execute("SELECT state, delivered_at, error FROM outbox WHERE id = ?", [msg]).fetchone()
    assert row[0] == "delivered"
    time.sleep(0.01)
    assert twilio_post(client, "/hooks/twilio/status", delivered).status_code == 204
    assert db.execute("SELECT state, delivered_at, error FROM outbox WHERE id = ?", [msg]).fetchone()[0] == "delivered"


# -- injection --------------------------------------------------------------------------------------------------

def schema(db) -> list:
    return dbscan.schema(db)


def test_injection_strings_in_inbound_texts_are_inert(app):
    client = app.test_client()
    db = db_of(app)
    shape = schema(db)
    for i, text in enumerate(INJECTIONS):
        assert client.post(f"/hooks/africastalking/{SECRETS['at_token']}/sms",
                           data={"from": "+21620123456", "text": text, "id": f"inj-{i}"}).status_code == 200
        assert twilio_post(client, "/hooks/twilio/sms", {"MessageSid": f"SMinj{i:030d}", "From": "+21620123457",
                                                         "Body": text}).status_code == 200
        assert client.post("/hooks/smssync", data={"from": "+21620123458", "message": text, "message_id": f"i{i}",
                                                   "secret": SECRETS["sync_secret"]}).status_code == 200
        for hook, fields in ((f"/hooks/africastalking/{SECRETS['at_token']}/ussd",
                              {"sessionId": text, "phoneNumber": "+21620123459", "text": text}),
                             (f"/hooks/ussd/{SECRETS['agg_token']}", {"sessionId": text, "msisdn": "+21620123460",
                                                                       "text": text})):
            r = client.post(hook, data=fields)
            assert r.status_code == 200 and "49" not in r.get_data(as_text=True)
    assert schema(db) == shape, "a table or index changed"
    assert db.execute("SELECT count(*) FROM inbound_seen").fetchone()[0] == 3 * len(INJECTIONS)
    assert_consistent(db)


def test_injection_strings_in_directory_texts_come_back_literally_and_escaped(app):
    from flows import directory
    db = db_of(app)
    shape = schema(db)
    service = directory.list_all(db, "services")[0]
    short = {"ar": "{{7*7}} <b>", "fr": "'; DROP TABLE x;--", "en": "<script>x"}
    names = {"ar": INJECTIONS[2], "fr": INJECTIONS[0] + " " + INJECTIONS[1], "en": INJECTIONS[3]}
    service["name"] = names["fr"]
    service["x-dalil"]["translations"]["name"] = {"ar": names["ar"], "en": names["en"]}
    service["x-dalil"]["short_name"] = short
    directory.import_hsds(db, {"services": [service]})
    assert schema(db) == shape
    stored = directory.service(db, service["id"])
    assert stored["name"] == names and stored["short_name"] == short
    # callers get them literally (plain text: there is no markup to escape on a phone)
    from flows.engine import service_text
    assert names["fr"] in service_text(db, service["id"], "fr") and names["ar"] in service_text(db, service["id"], "ar")
    # the console shows them escaped, never as markup
    client = app.test_client()
    login(client, "admin")
    page = client.get(f"/console/directory/services/{service['id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{7*7}}" in page or "{{7*7}}" in page.replace("&#123;", "{")
    listing = client.get("/console/directory").get_data(as_text=True)
    assert "<script>x" not in listing and "<script>alert" not in listing


def test_injection_strings_in_campaigns_and_subscribers_are_stored_and_sent_literally(app):
    from messages import campaigns, subscribers
    from messages.importer import import_csv
    db = db_of(app)
    shape = schema(db)
    ctx = app.extensions["dalil"]
    csv_text = "phone,consent,consent_source\n" + "".join(
        f'2011100{i},yes,"{text.replace(chr(34), chr(34) * 2)}"\n' for i, text in enumerate(INJECTIONS))
    report = import_csv(ctx, db, io.StringIO(csv_text, newline=""))
    assert report.added == len(INJECTIONS)
    vias = {r[0] for r in db.execute("SELECT via FROM consent_log")}
    assert {f"csv: {t}" for t in INJECTIONS} <= vias
    text = "Salon {{7*7}} '; DROP TABLE outbox;-- <script>"
    cid = campaigns.create(ctx, db, name=INJECTIONS[0] + INJECTIONS[1], texts={"fr": text}, fallback_language="fr",
                           now=time.time())
    campaigns.send(ctx, db, campaigns.load(db, cid))
    bodies = {r[0] for r in db.execute("SELECT body FROM outbox WHERE kind = 'blast'")}
    assert bodies == {text}
    assert schema(db) == shape
    client = app.test_client()
    login(client, "staff")
    for path in ("/console/campaigns", f"/console/campaigns/{cid}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and "&lt;script&gt;" in page or path.endswith("campaigns"), path
        assert "'; DROP TABLE outbox;--{{7*7}}" in page.replace("&#39;", "'"), path
    search = client.post("/console/subscribers", data={"phone": INJECTIONS[0] + INJECTIONS[2],
                                                        "csrf_token": csrf(client)})
    assert search.status_code in (200, 400, 422) and "<script>alert(1)" not in search.get_data(as_text=True)
    assert subscribers.counts(db).get("status:active") == len(INJECTIONS)
    assert_consistent(db)


def test_injection_strings_in_a_referral_note_reach_the_desk_literally_and_escaped(app, tmp_path):
    from harness import LiveServer
    from referrals import intake, store
    from referrals.desk import client as desk_client, home as desk_home, store as desk_store
    from referrals.desk.web import create_desk_app
    from test_referral_support import add_cso, point_desk
    home = add_cso(app, tmp_path, "amal", needs=("legal",))
    db = db_of(app)
    note = " ".join(INJECTIONS)
    submitted = intake.submit(app.extensions["dalil"], db, store.get_cso(db, "amal"), phone="+21620123456",
                              lang="fr", channel="sms", need="legal", governorate="kairouan",
                              delegation="kairouan_nord", answers={"nationality": "prefer_not", "status": "prefer_not"},
                              note=note)
    with LiveServer(app) as live:
        point_desk(home, live.url)
        assert desk_client.sync(desk_home.load(home)).received == 1
    desk = desk_home.load(home)
    with desk_store.connect(desk.db_path) as conn:
        opened = desk_store.referral(conn, submitted.referral_id)
    assert opened["content"]["note"] == note, "the note changed on the way"
    web = create_desk_app(desk).test_client()
    page = web.get(f"/r/{submitted.referral_id}", base_url="http://127.0.0.1:8765").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "{{7*7}}" in page


# -- secrets ------------------------------------------------------------------------------------------------------

def responses_of_a_busy_day(app, fakes, tmp_path) -> list[str]:
    """Good and bad requests on every surface, provider failures while sending, and crashes inside webhooks."""
    tw, at = fakes
    client = app.test_client()
    db = db_of(app)
    bodies = []
    keep = lambda r: bodies.append(r.get_data(as_text=True)) or r  # noqa: E731
    at_hooks = f"/hooks/africastalking/{SECRETS['at_token']}"
    keep(client.post(f"{at_hooks}/sms", data={"from": "+21620123456", "text": "JOIN", "id": "s-1"}))
    keep(client.post(f"{at_hooks}/sms", data={"from": "not a number", "text": "x", "id": "s-2"}))
    keep(client.post(f"{at_hooks}/ussd", data={"sessionId": "u", "phoneNumber": "+21620123456", "text": ""}))
    keep(client.post(f"{at_hooks[:-3]}xyz/ussd", data={"sessionId": "u", "phoneNumber": "+21620123456"}))
    keep(client.post(f"/hooks/ussd/{SECRETS['agg_token']}", json=[1, 2]))
    keep(twilio_post(client, "/hooks/twilio/sms", {"MessageSid": "SMsec", "From": "+21620123457", "Body": "HELP"}))
    keep(twilio_post(client, "/hooks/twilio/sms", {"MessageSid": "SMsec2", "From": "+216"}, token="wrong"))
    # (an authenticated task=send answer carries the secret back by design: the phone checks the server with it)
    assert SECRETS["sync_secret"] in client.get(f"/hooks/smssync?task=send&secret={SECRETS['sync_secret']}").text
    keep(client.get("/hooks/smssync?task=send&secret=wrong"))
    keep(client.get("/api/reports/referrals", headers={"Authorization": f"Bearer {SECRETS['muni_token']}"}))
    keep(client.get("/api/csos", headers={"Authorization": f"Bearer {SECRETS['muni_token']}"}))
    keep(client.get("/api/csos", headers={"Authorization": "Bearer guess"}))
    keep(client.get("/healthz"))
    keep(client.post("/console/login", data={"username": "admin", "password": "wrong " + PASSWORD,
                                             "csrf_token": csrf(client)}))
    # typed in the wrong field: the form shows the name field back to whoever typed it (no-store), the log must not
    wrong_field = client.post("/console/login", data={"username": PASSWORD, "password": "admin",
                                                      "csrf_token": csrf(client)})
    assert wrong_field.status_code == 401 and wrong_field.headers["Cache-Control"] == "no-store"
    keep(login(client, "admin"))
    for path in ("/console/dashboard", "/console/users", "/console/nowhere", "/console/campaigns/999"):
        keep(client.get(path))
    # crashes inside webhooks: a bug anywhere must not print a credential
    import gateway.channels.africastalking as at_channel
    hooks = app.extensions["dalil"].hooks  # the USSD menus, as the aggregator's endpoint calls them
    real_receive, real_hop = at_channel.receive_sms, hooks.ussd_hop
    try:
        at_channel.receive_sms = lambda *a, **k: 1 / 0
        hooks.ussd_hop = lambda *a, **k: 1 / 0
        keep(client.post(f"{at_hooks}/sms", data={"from": "+21620123456", "text": "x", "id": "crash"}))
        keep(client.post(f"/hooks/ussd/{SECRETS['agg_token']}", data={"sessionId": "c", "msisdn": "+21620123456"}))
    finally:
        at_channel.receive_sms, hooks.ussd_hop = real_receive, real_hop
    # sending, with the providers failing in every way
    for kind in ("error", "throttle", "permanent", "garbage", "disconnect"):
        tw.fail_next(kind)
        at.fail_next(kind)
    for i in range(12):
        outbox.enqueue(db, "+21620123456", f"notice {i}", kind="notice", channel=("twilio", "africastalking")[i % 2])
    dispatcher = Dispatcher(app.extensions["dalil"])
    deadline = time.time() + 10
    while not outbox.is_empty(db) and time.time() < deadline:
        dispatcher.run_once()
        time.sleep(0.03)
    keep(client.get("/healthz"))
    return bodies


def test_secrets_never_appear_in_the_log_or_any_answer(app, fakes, tmp_path):
    bodies = responses_of_a_busy_day(app, fakes, tmp_path)
    log_text = open(app.extensions["dalil"].config["gateway"]["log_file"], encoding="utf-8").read()
    assert "unhandled error" in log_text  # the crashes were logged ...
    for name, secret in {**SECRETS, "password": PASSWORD}.items():
        assert secret not in log_text, f"{name} is in the log"  # ... without the credential in their path
        for body in bodies:
            assert secret not in body, f"{name} is in an answer: {body[:200]}"
    flask_key_file = app.extensions["dalil"].config["gateway"]["keys_dir"]
    assert flask_key_file not in "\n".join(bodies)


# -- the municipality -------------------------------------------------------------------------------------------

def test_the_municipality_reaches_no_referral_data(app, tmp_path):
    from referrals import store
    from test_referral_support import add_cso, refer
    add_cso(app, tmp_path, "amal", needs=("legal", "health"), areas=("kairouan",), name="Association Amal")
    made = [refer(app, "amal", need="legal", note="my note", nationality="sudanese", status="asylum")
            for _ in range(3)]
    db = db_of(app)
    referral_ids = [r[0] for r in db.execute("SELECT id FROM referrals")]
    forbidden = [*(m.code for m in made), *referral_ids, "Association Amal", "amal", "+21620123456", "20123456",
                 "sudanese", "asylum", "my note", "+21698000111"]
    seen = []
    # the API with the municipality's token
    api = app.test_client()
    muni = {"Authorization": f"Bearer {SECRETS['muni_token']}"}
    for _, _, url in routes(app, {"GET"}):
        if not url.startswith("/api/"):
            continue
        url = url.replace("R-XXXXXX", made[0].code)
        r = api.get(url, headers=muni)
        if r.status_code == 200:
            seen.append((url, r.get_data(as_text=True)))
        else:
            assert r.status_code in (401, 403), (url, r.status_code)
    # the console signed in as the municipality: every page it may open
    client = app.test_client()
    assert login(client, "muni").status_code == 303
    for rule, _, url in routes(app, {"GET"}):
        if not url.startswith("/console/") or rule.endpoint == "console.static":
            continue
        r = client.get(url)
        if r.status_code == 200:
            seen.append((url, r.get_data(as_text=True)))
        else:
            assert r.status_code in (302, 403, 404), (url, r.status_code)
    opened = {url for url, _ in seen}
    assert "/api/reports/referrals" in opened and "/console/reports" in opened
    for url, body in seen:
        for item in forbidden:
            assert item.lower() not in body.lower(), f"{url} shows {item!r}"
    assert store.get_cso(db, "amal") is not None
