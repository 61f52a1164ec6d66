"""The request class of the gateway's Flask app: Werkzeug's, with a short way to read a small webhook form."""
from __future__ import annotations

from io import BytesIO
from urllib.parse import parse_qsl

import werkzeug.urls  # noqa: F401  (registers the "werkzeug.url_quote" codec error handler used below)
from flask import Request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

URLENCODED = "application/x-www-form-urlencoded"
SMALL_FORM_BYTES = 16 * 1024


class GatewayRequest(Request):
    """Every USSD hop is a URL-encoded POST of a few hundred bytes. Werkzeug's form loading, built for uploads and
    streams of unknown length, wraps the body in a limited stream and a parser object before it splits it: on the
    USSD hot path that was a fifth of Dalil's own time per hop (bench/ussd.py). A body of known, small length is
    read and split here with the same parse (blank values kept, the same decoding and error handling, the same
    size limit); anything else goes through Werkzeug unchanged."""

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        length = self._small_urlencoded_length()
        if length is None:
            return super()._load_form_data()
        body = self.environ["wsgi.input"].read(length)
        try:
            form = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
        except UnicodeDecodeError:  # Werkzeug would hand back an empty form, and the caller a vaguer 400
            raise BadRequest("the form body is not UTF-8 (percent-encode other bytes)") from None
        d = self.__dict__
        d["stream"], d["form"], d["files"] = BytesIO(), self.parameter_storage_class(form), \
            self.parameter_storage_class()

    def _small_urlencoded_length(self) -> int | None:
        env = self.environ
        if env.get("CONTENT_TYPE", "").partition(";")[0].strip().lower() != URLENCODED:
            return None
        if env.get("HTTP_TRANSFER_ENCODING", "") or self.method not in ("POST", "PUT", "PATCH"):
            return None
        try:
            length = int(env.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if length < 0 or length > SMALL_FORM_BYTES:
            return None
        limit = self.max_content_length
        if limit is not None and length > limit:
            raise RequestEntityTooLarge()
        return length
