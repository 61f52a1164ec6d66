"""Malformed or hostile USSD requests get a clear answer, never a 500 and never a corrupted session."""
from __future__ import annotations

import pytest

from messages import i18n
from messages.segments import screen_length

AT = "/hooks/africastalking/at-token-3f9a"
AGG = "/hooks/ussd/agg-token-77"


def hop(client, text="", session="S1", phone="+21620222001", path=AT + "/ussd"):
    return client.post(path, data={"sessionId": session, "phoneNumber": phone, "serviceCode": "*216#",
                                   "text": text})


def set_up_english_caller(client, session="S1", phone="+21620222001"):
    """First contact: English, then Tataouine; returns the main menu."""
    hop(client, "", session, phone)
    screen = hop(client, "3", session, phone).get_data(as_text=True)
    number = next(line.split(".")[0] for line in screen.splitlines() if line.endswith(". Tataouine"))
    return hop(client, f"3*{number}", session, phone).get_data(as_text=True)


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def test_invalid_utf8_is_answered_with_a_reprompt(client):
    main = set_up_english_caller(client)
    r = client.post(AT + "/ussd", data=b"sessionId=S1&phoneNumber=%2B21620222001&text=3*3*%ff%fe",
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert body.startswith("CON " + i18n.t("en", "nav.invalid"))
    assert body.endswith(main[4:].split("\n", 1)[1])  # the same choices are offered again


def test_a_10kb_text_reprompts_without_harm(client):
    set_up_english_caller(client)
    r = hop(client, "3*3*" + "9" * 10_000)
    assert r.status_code == 200
    assert r.get_data(as_text=True).startswith("CON Invalid choice.")
    assert hop(client, "3*3*" + "9" * 10_000 + "*1").get_data(as_text=True).startswith("CON Jobs and training")


def test_a_star_typed_by_the_caller_is_one_wrong_answer_not_two_moves(client):
    set_up_english_caller(client)
    r = hop(client, "3*3*1*2")  # the caller typed "1*2" at the main menu
    assert r.get_data(as_text=True).startswith("CON Invalid choice.")
    assert hop(client, "3*3*1*2*1").get_data(as_text=True).startswith("CON Jobs and training")


def test_out_of_range_and_non_numeric_choices_reprompt(client):
    main = set_up_english_caller(client)
    for text in ("3*3*8", "3*3*8*0", "3*3*8*0*abc", "3*3*8*0*abc*-1"):
        body = hop(client, text).get_data(as_text=True)
        assert body == "CON Invalid choice.\n" + main[4:].split("\n", 1)[1]  # the hint in the title's place
        assert screen_length(body[4:])[1] <= 182


def test_an_unknown_session_mid_way_starts_at_the_beginning(client):
    set_up_english_caller(client, session="S1")
    # a sessionId never seen, with inputs as if it were mid-session (say, after a restart)
    body = hop(client, "1*1*2", session="S-never-seen").get_data(as_text=True)
    assert body.startswith("CON Dalil\n1. Jobs and training")  # the caller is known: straight to the main menu
    assert hop(client, "1*1*2*1", session="S-never-seen").get_data(as_text=True).startswith("CON Jobs and training")


def test_a_session_id_reused_by_another_number_does_not_see_the_first_callers_screen(client):
    set_up_english_caller(client, session="S1", phone="+21620222001")
    hop(client, "3*3*4", session="S1", phone="+21620222001")  # first caller is in the help flow
    other = hop(client, "3*3*4*1", session="S1", phone="+21620222099").get_data(as_text=True)
    assert other.startswith("CON " + i18n.t("ar", "lang.title"))  # a fresh first contact


def test_end_of_session_notification_forgets_the_session(client, demo_app):
    set_up_english_caller(client)
    sessions = demo_app.extensions["dalil"].services.ussd_sessions
    assert sessions.get("africastalking:S1") is not None
    r = client.post(AT + "/ussd-end", data={"sessionId": "S1", "serviceCode": "*216#", "phoneNumber":
                                               "+21620222001", "status": "Success", "hopsCount": "3"})
    assert r.status_code == 200
    assert sessions.get("africastalking:S1") is None
    assert client.post(AT + "/ussd-end", data={}).status_code == 400


def test_generic_aggregator_with_last_input_only_and_json_replies(make_config):
    from gateway import create_app
    from flows import directory
    app = create_app(make_config(channels={"generic_ussd": {
        "token": "agg-token-77", "session_field": "SESSION_ID", "phone_field": "MSISDN", "text_field": "USSD_STRING",
        "input_mode": "last", "response_format": "json"}}))
    directory.load_demo(app.extensions["dalil"].db())
    client = app.test_client()

    def send(text):
        r = client.post(AGG, json={"SESSION_ID": 77, "MSISDN": "21620222003", "USSD_STRING": text})
        assert r.status_code == 200
        return r.get_json()

    assert send("*216#") == {"action": "continue", "message": "\n".join(
        [i18n.t("ar", "lang.title"), "1. العربية", "2. Français", "3. English"])}
    assert send("2")["message"].startswith(i18n.t("fr", "area.home.title"))
    assert send("3")["message"].startswith("Dalil\n1. Emploi et formation")
    assert client.post(AGG, json={"MSISDN": "21620222003"}).get_json()["reason"] == "missing field: SESSION_ID"
    assert client.post(AGG, data="[1, 2]", content_type="application/json").status_code == 400
    assert client.post("/hooks/ussd/wrong", json={}).status_code == 404


def test_generic_aggregator_text_markers(make_config):
    from gateway import create_app
    app = create_app(make_config(channels={"generic_ussd": {
        "token": "agg-token-77", "continue_marker": "1|", "end_marker": "0|"}}))
    r = app.test_client().get(AGG, query_string={"sessionId": "g1", "msisdn": "20222004", "text": ""})
    assert r.get_data(as_text=True).startswith("1|" + i18n.t("ar", "lang.title"))


def test_raw_bytes_that_are_not_utf8_are_400_with_the_reason(client):
    """Percent-encoded bytes are the caller's (re-prompted above); raw non-UTF-8 bytes are a broken sender."""
    r = client.post(AT + "/ussd", data=b"sessionId=S1&phoneNumber=%2B21620222001&text=\xff",
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400
    assert "not UTF-8" in r.get_json()["reason"]


def test_a_body_over_the_request_limit_is_413(client):
    r = client.post(AT + "/ussd", data=b"sessionId=S1&phoneNumber=%2B21620222001&text=" + b"1" * 300_000,
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code == 413


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded; charset=UTF-8",
                                          "multipart/form-data"])
def test_the_form_reads_the_same_whatever_the_encoding(client, content_type):
    """The short path for small URL-encoded forms and Werkzeug's own parser give the caller the same screen."""
    fields = {"sessionId": "S9", "phoneNumber": "+21620222009", "serviceCode": "*216#", "text": ""}
    if content_type.startswith("multipart"):
        r = client.post(AT + "/ussd", data=fields, content_type=content_type)
    else:
        from urllib.parse import urlencode
        r = client.post(AT + "/ussd", data=urlencode(fields), content_type=content_type)
    assert r.status_code == 200
    assert r.get_data(as_text=True).startswith("CON ")
    assert "English" in r.get_data(as_text=True)  # the empty text field was kept: a first hop, language choice
