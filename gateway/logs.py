"""Logging that cannot leak a phone number.

Code must not log numbers in the first place; this filter is the belt to that braces. It masks any run of
eight or more digits, however they are written (+, spaces, dots, hyphens, slashes, brackets between them), in
the message, its arguments and any formatted traceback, because a Tunisian number is 8 digits and +216 prefixes
it. The line's own timestamp is added after masking, so it stays readable. A value taken from a request goes
through ``field``: cut to a few characters, control characters escaped, numbers masked.
"""
from __future__ import annotations

import logging
import re
import sys

# "20 123 456", "20.123.456", "55-123-456", "(+216) 20/123/456": up to two separators between digits
PHONE_LIKE = re.compile(r"\+?\(?\+?\d(?:[\s.\-/()]{0,2}\d){7,}")
FIELD_CHARS = 40


def redact(text: str) -> str:
    return PHONE_LIKE.sub("[number]", text)


def field(value, limit: int = FIELD_CHARS) -> str:
    """A request field fit for a log line: bounded, printable, no number."""
    text = str(value)
    cut = text[:limit].encode("unicode_escape").decode("ascii")
    return repr(redact(cut)) + (f"+{len(text) - limit} chars" if len(text) > limit else "")


class RedactingFormatter(logging.Formatter):
    """Masks the message and any traceback, then adds the time: the timestamp's digits are not a number."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = redact(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for extra in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if extra:
                text += "\n" + redact(extra)
        return text


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


ERROR_CHARS = 200  # a provider error as stored and logged


def clean_error(text: str) -> str:
    """Provider error texts often quote the number ('The To number +216... is invalid'): mask it, keep it short."""
    return redact(" ".join(str(text).split()))[:ERROR_CHARS]
