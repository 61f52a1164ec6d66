"""Property-based tests: whatever a provider or a flow author sends, the answer is a clear one, never a 500."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from flows.definitions import FlowError, parse_screen
from messages.segments import GSM7_BASIC, GSM7_EXTENSION, count

AT_USSD = "/hooks/africastalking/at-token-3f9a/ussd"
AGGREGATOR = "/hooks/ussd/agg-token-77"

any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)
keypad = st.text(alphabet="0123456789*#", max_size=40)
phones = st.one_of(st.sampled_from(["+21620123456", "21698765432", "0021650111222", "20123456"]), any_text)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def client(demo_app):
    return demo_app.test_client()


def assert_clear_answer(response):
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 400:
        assert response.get_json()["reason"]
    else:
        assert response.get_data(as_text=True)[:4] in ("CON ", "END ")


@FUZZ
@given(session=st.one_of(any_text, st.sampled_from(["S1", "S2"])), phone=phones,
       texts=st.lists(st.one_of(keypad, any_text), min_size=1, max_size=6))
def test_at_ussd_never_fails(client, demo_app, session, phone, texts):
    for text in texts:
        assert_clear_answer(client.post(AT_USSD, data={"sessionId": session, "phoneNumber": phone, "text": text}))


@FUZZ
@given(body=st.one_of(st.binary(max_size=400), any_text.map(str.encode)),
       content_type=st.sampled_from(["application/x-www-form-urlencoded", "application/json", "text/plain",
                                     "multipart/form-data; boundary=x"]))
def test_raw_bodies_never_fail(client, body, content_type):
    for path in (AT_USSD, AGGREGATOR):
        response = client.post(path, data=body, content_type=content_type)
        assert response.status_code in (200, 400), (path, body, response.get_data(as_text=True))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["sessionId", "msisdn", "text", "serviceCode", "other"]),
                              st.one_of(any_text, st.integers(), st.none(), st.lists(st.integers(), max_size=2)),
                              max_size=5))
def test_aggregator_json_never_fails(client, fields):
    assert_clear_answer(client.post(AGGREGATOR, json=fields))


def test_nothing_unhandled_was_logged(client, config):
    """After a burst of hostile requests the log holds no traceback (see the fuzz tests above for the burst)."""
    for text in ["\x00", "*" * 5000, "١٢٣", "\ud7ff", "1" * 50]:
        client.post(AT_USSD, data={"sessionId": "log", "phoneNumber": "+21620123456", "text": text})
    log = open(config["gateway"]["log_file"], encoding="utf-8").read()
    assert "Traceback" not in log and "unhandled error" not in log


toml_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), any_text),
                           lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(any_text, inner, max_size=3)), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(raw=st.dictionaries(st.sampled_from(["type", "text", "options", "goto", "var", "level", "on_enter",
                                            "categories", "allow_skip", "sms_only", "colour"]),
                           toml_values, max_size=6))
def test_flow_parser_raises_only_flow_errors(raw):
    try:
        parse_screen("x", raw, "fuzz.toml")
    except FlowError as e:
        assert str(e).startswith("fuzz.toml: screen 'x'")


GSM_CHARS = [c for c in GSM7_BASIC if c != "\x1b"]


@settings(max_examples=500, deadline=None)
@given(basic=st.text(alphabet=GSM_CHARS, max_size=700))
def test_plain_gsm7_segments_follow_03_38(basic):
    s = count(basic)
    assert s.encoding == "GSM-7" and s.characters == len(basic)
    assert s.segments == (0 if not basic else 1 if len(basic) <= 160 else math.ceil(len(basic) / 153))


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet=GSM_CHARS + list(GSM7_EXTENSION), max_size=700))
def test_extension_characters_cost_two_septets_and_are_never_split(text):
    s = count(text)
    ext = sum(c in GSM7_EXTENSION for c in text)
    assert s.encoding == "GSM-7" and s.characters == len(text) + ext
    # pack septets into 153-septet parts by hand, never splitting an escape pair
    parts, used = 1, 0
    for c in text:
        w = 2 if c in GSM7_EXTENSION else 1
        if used + w > 153:
            parts, used = parts + 1, 0
        used += w
    assert s.segments == (0 if not text else 1 if s.characters <= 160 else parts)


@settings(max_examples=500, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400))
def test_anything_outside_gsm7_is_ucs2_counted_in_utf16_units(text):
    s = count(text)
    if all(c in GSM_CHARS or c in GSM7_EXTENSION for c in text):
        assert s.encoding == "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        assert s.encoding == "UCS-2" and s.characters == units
        assert s.segments >= (1 if units <= 70 else math.ceil(units / 67))
