"""Logging that cannot leak a phone number.

Code must not log numbers in the first place; this filter is the belt to that braces. It masks any run of
eight or more digits (optionally with +, single spaces or dots between them) in the message, its arguments
and any formatted traceback, because a Tunisian number is 8 digits and +216 prefixes it.
"""
from __future__ import annotations

import logging
import re
import sys

# Spaces and dots are how numbers are written ("20 123 456", "20.123.456"); hyphens and colons are left out
# so that the log's own timestamps ("2026-11-23 00:48:46") stay readable.
PHONE_LIKE = re.compile(r"\+?\d(?:[ .]?\d){7,}")


def redact(text: str) -> str:
    return PHONE_LIKE.sub("[number]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup(level: str = "INFO", log_file: str = "") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_dalil", False):
            root.removeHandler(handler)
            handler.close()
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler._dalil = True
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    # APScheduler reports every job run at INFO; a small office log wants only its warnings
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
