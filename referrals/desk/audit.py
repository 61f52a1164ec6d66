"""What a desk checks in every log entry, for every CSO, not only its own.

Entries are read in order, once each, and the desk keeps the registry they build (referrals.desk.store):
- a registration must verify with the coordinator key pinned at connect, name the CSO it is filed under, and be
  the next version of that CSO's record; this desk's own registration must carry this desk's keys;
- a "created" entry must name the fingerprint of a key an active, validly registered CSO holds at that point;
- an erasure request must have gone only to such keys.
A failed check is a finding naming the entry; the registry is changed only by registrations that pass.
"""
from __future__ import annotations

from dataclasses import dataclass

from referrals.desk import store
from referrals.desk.home import Desk
from referrals.protocol import events, registry


@dataclass
class Finding:
    kind: str  # desk.alert.<kind> in the catalogs
    params: dict
    text: str  # the same, in English, for `dalil desk sync`


def _short(value, limit: int = 40) -> str:
    return str(value)[:limit]


def check(conn, desk: Desk, index: int, data: bytes) -> list[Finding]:
    try:
        event = events.decode_event(data)
    except ValueError:
        return [Finding("entry", {"entry": index}, f"log entry #{index} is not a valid event")]
    kind = event["event"]
    if kind == "registration":
        return _registration(conn, desk, index, event)
    if kind == "created" and not store.active_key(conn, str(event.get("key"))):
        key = _short(event.get("key"))
        return [Finding("created", {"entry": index, "fingerprint": key},
                        f"log entry #{index}: a referral was sealed to key {key}, which no active registered "
                        "organisation holds")]
    if kind == "erasure_requested":
        keys = event.get("keys")
        strangers = [k for k in keys if not store.active_key(conn, str(k))] if isinstance(keys, list) else ["?"]
        if strangers:
            key = _short(strangers[0])
            return [Finding("erasure", {"entry": index, "fingerprint": key},
                            f"log entry #{index}: an erasure notice went to key {key}, which no active registered "
                            "organisation holds")]
    return []


def _registration(conn, desk: Desk, index: int, event: dict) -> list[Finding]:
    filed_as = _short(event.get("cso"))
    try:
        record = registry.verify(str(event.get("note")), desk.coordinator)
    except registry.RegistrationError:
        return [Finding("registration", {"entry": index, "cso": filed_as},
                        f"log entry #{index}: the registration of '{filed_as}' is not signed by the coordinator "
                        "key this desk pinned")]
    if record["cso"] != event.get("cso"):
        return [Finding("registration", {"entry": index, "cso": filed_as},
                        f"log entry #{index}: a registration of '{_short(record['cso'])}' is filed as '{filed_as}'")]
    previous = store.registry_entry(conn, record["cso"])
    expected = previous["seq"] + 1 if previous else 1
    if record["seq"] != expected:
        return [Finding("registration_seq", {"entry": index, "cso": filed_as},
                        f"log entry #{index}: registration version {record['seq']} of '{filed_as}' replays or skips "
                        f"a version (the next is {expected})")]
    key = registry.key_fingerprint(record["box_key"])
    store.save_registration(conn, record["cso"], record["seq"], record["active"], key, record["name"], index)
    mine = (bytes(desk.box_secret.public_key), bytes(desk.sign_key.verify_key))
    if record["cso"] == desk.cso_id and (record["box_key"], record["verify_key"]) != mine:
        return [Finding("own_key", {"entry": index},
                        f"log entry #{index}: this organisation's registration carries keys that are not this "
                        "desk's")]
    return []
