"""What a channel is (``Channel``: one object per provider module, listed in ``gateway.channels``), and the small
pieces every channel's webhooks and senders share."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

import requests
from flask import Blueprint, Response, abort

if TYPE_CHECKING:
    from gateway.context import Dalil
    from gateway.outbox import Outgoing


class Sender(Protocol):
    """A push channel's sender: made once per dispatcher from the context, then one ``send`` per message,
    returning the provider's id or raising outbox.Transient / outbox.Permanent."""

    def send(self, msg: "Outgoing") -> str: ...


@dataclass(frozen=True)
class Channel:
    """One provider channel, as the gateway assembles, routes and watches it.

    ``needs`` are the keys of its [channels.<name>] section that must be set before it may send (an enabled
    channel without them is left out of routing). A *push* channel is sent to by the dispatcher through
    ``sender``; the SMSSync phone pulls its messages instead. A *polled* channel sits behind a device that must
    be heard from within ``offline_after_seconds`` (the phone polls, gammu-smsd's modem writes a heartbeat);
    ``poll`` reads such a device's side once per dispatcher cycle. ``routed`` is False for USSD-only
    endpoints, which answer in the request and never send."""
    name: str
    blueprint: Blueprint | None = None
    sender: Callable[["Dalil"], Sender] | None = None
    needs: tuple[str, ...] = ()
    polled: bool = False
    poll: Callable[["Dalil"], None] | None = None
    routed: bool = True

    @property
    def section(self) -> str:
        return f"channels.{self.name}"

    @property
    def push(self) -> bool:
        return self.sender is not None

    def ready(self, config: dict) -> bool:
        """Enabled, and given what it needs to send."""
        section = config.get(self.section, {})
        return bool(section.get("enabled")) and all(section.get(key) for key in self.needs)


def provider_session(url: str) -> requests.Session:
    """A kept-alive session for one provider host, with the proxy and CA settings read from the environment
    once. requests re-reads them on every call, which costs a third of a send on a fast link."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))  # honours no_proxy for this host
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


def required_fields(form, *names: str) -> dict[str, str]:
    """The named fields, or 400 naming the missing ones (never a KeyError and a 500)."""
    missing = [n for n in names if not (form.get(n) or "").strip()]
    if missing:
        abort(400, description=f"missing field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    return {n: form[n].strip() for n in names}


def ussd_response(reply, continue_marker: str, end_marker: str) -> Response:
    marker = end_marker if reply.end else continue_marker
    return Response(marker + reply.text, mimetype="text/plain", headers={"Cache-Control": "no-store"})


def storable(data) -> bool:
    """False for parsed JSON holding a lone surrogate (a "\\ud800" escape is valid JSON): no UTF-8 database,
    log or reply can hold it, so such a body is treated as malformed rather than failing later with a 500."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError):
        return False
    return True
