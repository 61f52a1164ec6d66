"""Fuzzing the staff console's forms, signed in as an administrator (the role that reaches them all).

The forms are read from the pages themselves (every <form method="post"> with its inputs, selects and textareas),
so a field added to a template is fuzzed without touching this file. Values are the form's own options and
defaults, or junk: any script, control characters, lone surrogates on the wire, injection strings, huge texts.
The fetch endpoints (campaign audience, simulator) get random JSON. Whatever is posted: never a 5xx, never a
traceback in the log, the database consistent, and the signed-in session still valid.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from flows import directory
from test_console_support import add_accounts, csrf, locale_copy, login  # noqa: F401  (locale_copy: a fixture)
from test_fuzz_support import assert_clean_log, assert_consistent, fuzz_examples

FUZZ = settings(max_examples=fuzz_examples(120), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
OK = {200, 302, 303, 400, 403, 404, 409, 413, 422, 429}


class Forms(HTMLParser):
    """Every POST form of a page: its action and, per field name, the values the page offers."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url, self.forms, self._form = page_url, [], None
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or self.page_url, "fields": {},
                          "multipart": "multipart" in (a.get("enctype") or "")}
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select") and a.get("name"):
            values = self._form["fields"].setdefault(a["name"], [])
            if tag == "input" and a.get("value") is not None:
                values.append(a["value"])
            if tag == "select":
                self._select = values
            if tag == "textarea":
                self._textarea = values
                values.append("")
        elif tag == "option" and self._select is not None and a.get("value") is not None:
            self._select.append(a["value"])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@pytest.fixture
def console(demo_app, locale_copy):  # noqa: F811  (catalog edits go to a copy, never the repository's)
    add_accounts(demo_app)
    client = demo_app.test_client()
    assert login(client, "admin").status_code == 303
    db = demo_app.extensions["dalil"].db()
    sid = directory.list_all(db, "services")[0]["id"]
    oid = directory.list_all(db, "organizations")[0]["id"]
    lid = directory.list_all(db, "locations")[0]["id"]
    pages = ["/console/campaigns/new", "/console/directory/services/new", f"/console/directory/services/{sid}",
             "/console/directory/organizations/new", f"/console/directory/organizations/{oid}",
             "/console/directory/locations/new", f"/console/directory/locations/{lid}",
             "/console/flows/texts/menu.main.work", "/console/subscribers", "/console/users",
             "/console/directory/import", "/console/directory", "/console/polls/new"]
    forms, kinds = [], set()
    for page in pages:
        r = client.get(page)
        assert r.status_code == 200, page
        parser = Forms(page)
        parser.feed(r.get_data(as_text=True))
        for form in parser.forms:
            # keep the administrator signed in: no sign-out, no change to the admin's own account
            if form["action"].endswith(("/logout", "/users/1")) or "/language" in form["action"]:
                continue
            kind = re.sub(r"/[^/]*\d[^/]*(?=/|$)", "/ID", form["action"])  # one retire form, not one per service
            if kind not in kinds:
                kinds.add(kind)
                forms.append(form)
    assert len(forms) >= 10, [f["action"] for f in forms]
    return demo_app, client, forms


junk = st.one_of(
    st.text(max_size=60), st.text(st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "0", "-1", "99999999999999999999", "1e400", "NaN", "²", "١٢", "x" * 5000,
                     "'; DROP TABLE outbox;--", "{{7*7}}", "{0}", "{lang}", "{", "}", "%s", "<script>alert(1)</script>",
                     "\x00", "\r\n", "kairouan", "tataouine", "jobs", "ar", "fr", "en", "2026-03-02T09:00",
                     "2020-01-01T00:00", "0 9 * * mon", "* * *", "+21620123456", "20123456", "admin", "municipality"]))
wire_junk = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)  # sent as invalid UTF-8


@st.composite
def form_posts(draw, forms):
    """Half the time the form as the page fills it with one field spoilt (so the checks behind the first one are
    reached and some posts succeed); otherwise any field may be junk or missing."""
    form = draw(st.sampled_from(forms))
    names = [n for n in form["fields"] if n != "csrf_token"]
    spoilt = draw(st.sampled_from(names)) if names and draw(st.booleans()) else None
    data = {}
    for name, offered in form["fields"].items():
        if spoilt is not None and name != spoilt and name != "csrf_token":
            if offered:
                data[name] = [offered[0]]
            continue
        if name == "csrf_token" or draw(st.integers(0, 9)) == 0:
            continue  # a field left out
        choices = st.sampled_from(offered) if offered else junk
        count = draw(st.integers(1, 3)) if name in ("categories", "locations", "governorates", "delegations",
                                                    "languages", "interests") else 1
        data[name] = [draw(st.one_of(choices, junk, wire_junk)) for _ in range(count)]
    extra = draw(st.dictionaries(st.sampled_from(["id", "status", "role", "action", "sample", "national", "x"]),
                                 junk, max_size=2))
    for k, v in extra.items():
        data.setdefault(k, [v])
    return form, data


def encode(data: dict, token: str) -> bytes:
    pairs = [("csrf_token", token)] + [(k, v) for k, values in data.items() for v in values]
    return urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in pairs]).encode()


@FUZZ
@given(data=st.data())
def test_any_form_post_is_answered_without_a_server_error(console, data):
    app, client, forms = console
    form, fields = data.draw(form_posts(forms))
    if form["multipart"]:
        upload = data.draw(st.one_of(st.binary(max_size=400), st.sampled_from([
            b'{"services": [{"id": "x"}]}', b"[]", b"{}", b'{"organizations": "x"}', b"\xff\xfe", b"null",
            json.dumps({"services": [{"id": "a", "name": "\ud800"}]}).encode(),
            json.dumps(directory.export_hsds(app.extensions["dalil"].db())).encode()])))
        body = {k: v[0].encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in fields.items()
                if k != "file"}
        from io import BytesIO
        r = client.post(form["action"], data={**body, "csrf_token": csrf(client),
                                              "file": (BytesIO(upload), "upload.json")},
                        content_type="multipart/form-data")
    else:
        r = client.post(form["action"], data=encode(fields, csrf(client)),
                        content_type="application/x-www-form-urlencoded")
    assert r.status_code in OK, (form["action"], r.status_code, r.get_data(as_text=True)[:300])
    assert client.get("/console/dashboard").status_code == 200, "the administrator was signed out"
    assert_clean_log(app.extensions["dalil"].config["gateway"]["log_file"])
    assert_consistent(app.extensions["dalil"].db())


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | junk,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(junk, inner, max_size=3),
                           max_leaves=10)


@FUZZ
@given(path=st.sampled_from(["/console/campaigns/audience", "/console/simulator/hop", "/console/simulator/hangup",
                             "/console/simulator/sms"]),
       body=st.one_of(st.dictionaries(st.sampled_from(["governorates", "delegations", "interests", "languages",
                                                        "active_since", "phone", "text", "session", "x"]),
                                       json_values, max_size=5), json_values))
def test_fetch_endpoints_take_any_json(console, path, body):
    app, client, _ = console
    raw = json.dumps(body, allow_nan=True)
    r = client.post(path, data=raw, content_type="application/json",
                    headers={"X-CSRF-Token": csrf(client), "Accept": "application/json"})
    assert r.status_code in OK, (path, r.status_code, r.get_data(as_text=True)[:300])
    assert r.is_json
    assert_clean_log(app.extensions["dalil"].config["gateway"]["log_file"])


@FUZZ
@given(action=st.one_of(st.sampled_from(["pause", "resume", "cancel", "send", "delete", "", "results"]), junk),
       campaign=st.sampled_from([1, 2, 999]))
def test_campaign_actions_with_any_name_and_id(console, action, campaign):
    app, client, _ = console
    path = f"/console/campaigns/{campaign}/{re.sub(r'[/?#%]', '', action) or 'x'}"
    r = client.post(path, data={"csrf_token": csrf(client)})
    assert r.status_code in OK, (path, r.status_code)
    assert_clean_log(app.extensions["dalil"].config["gateway"]["log_file"])
