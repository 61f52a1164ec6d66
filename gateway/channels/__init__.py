"""The channels, one module per provider, each exposing one ``Channel`` (common.py): its webhooks' blueprint, its
sender, the config keys it needs and whether a device must be heard from. The app registers their blueprints,
routing and health read this list, and the dispatcher sends through it.

``ROUTED`` is also the fallback order for a message no rule places: Twilio, Africa's Talking, Kannel, the GSM
modem, then the SMSSync phone (which takes only what its prefixes or a rule give it).
"""
from __future__ import annotations

from gateway.channels import africastalking, gammu, generic_ussd, kannel, smssync, twilio
from gateway.channels.common import Channel

ALL: tuple[Channel, ...] = (twilio.CHANNEL, africastalking.CHANNEL, kannel.CHANNEL, gammu.CHANNEL,
                            smssync.CHANNEL, generic_ussd.CHANNEL)
ROUTED: tuple[Channel, ...] = tuple(c for c in ALL if c.routed)
_BY_NAME = {c.name: c for c in ALL}


def get(name: str) -> Channel:
    """The channel called ``name``; KeyError for a name no module registers."""
    return _BY_NAME[name]


def names(*, push: bool | None = None, polled: bool | None = None) -> tuple[str, ...]:
    """The routed channels' names, in fallback order, optionally only push (or pull) or polled ones."""
    return tuple(c.name for c in ROUTED
                 if (push is None or c.push == push) and (polled is None or c.polled == polled))


__all__ = ["ALL", "ROUTED", "Channel", "get", "names"]
