"""A shared runner for table-driven webhook tests (after nyaruka/courier's handler tests): each case in a payload
file is one request as the provider sends it and what Dalil must answer, and whether anything is stored."""
from __future__ import annotations

import json
from urllib.parse import urlencode

from harness import PAYLOADS

STORED_TABLES = ("inbound_seen", "outbox", "subscribers", "consent_log")


def load_cases(name: str) -> list[dict]:
    return json.loads((PAYLOADS / name).read_text())["cases"]


def stored(db) -> dict[str, int]:
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in STORED_TABLES}  # noqa: S608 (fixed names)


def run_case(client, db, case: dict, base: str, token: str):
    """Send one case to {base with its token}/{path}; assert the status, the reason and what was stored."""
    before = stored(db)
    url = f"{base.format(token=case.get('token', token))}/{case['path']}?{urlencode(case.get('query', {}))}"
    body = bytes.fromhex(case["body_hex"]) if "body_hex" in case else case.get("body", "").encode()
    headers = {"Content-Type": case["content_type"]} if "content_type" in case else {}
    response = client.post(url, data=body, headers=headers)
    assert response.status_code == case["status"], (case["name"], response.get_data(as_text=True))
    if "reason" in case:
        assert response.json["reason"] == case["reason"], case["name"]
    if "reason_starts" in case:
        assert response.json["reason"].startswith(case["reason_starts"]), case["name"]
    after = stored(db)
    if case["stores"]:
        assert after["inbound_seen"] == before["inbound_seen"] + 1, case["name"]
    else:
        assert after == before, case["name"]
    return response
