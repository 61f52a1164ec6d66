"""Fake Twilio and Africa's Talking APIs on 127.0.0.1, answering in the shapes the providers document
(the recorded payloads in tests/payloads). No test talks to the internet.

    with FakeTwilio() as tw:                      # or tw = FakeTwilio().start() ... tw.stop()
        config = {"channels": {"twilio": tw.channel_config()}}
        ...
        tw.messages                               # accepted messages: [{"to", "body", "from", "id", ...}]
        tw.fail_next("throttle", times=2)         # the next 2 sends answer 429 / 20429
        tw.fail_always("error")                   # every send answers 500 until tw.clear()
        tw.fail_next("permanent", code=21610)     # a permanent error with this provider code
        tw.fail_next("hang")                      # the next send gets no answer for hang_seconds
        tw.fail_next("disconnect")                # the connection closes without an answer
        tw.down(); ...; tw.up()                   # connection refused, then back on the same port

Failure kinds: throttle, error, hang, disconnect, permanent, garbage (a 200 HTML page, as a captive portal).
A message is recorded the moment the fake accepts it, before the answer goes out, as a real provider would have
it: a client killed in between still sent it.
Run one alone with `python tests/fakes.py twilio|africastalking [port]` (the bench does, in another process).
"""
from __future__ import annotations

import base64
import copy
import json
import secrets
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

PAYLOADS = Path(__file__).parent / "payloads"
KINDS = ("throttle", "error", "hang", "disconnect", "permanent", "garbage")


def payload(name: str):
    return json.loads((PAYLOADS / name).read_text())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):  # a killed client is expected here
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        # headers and body leave in separate writes: without this, Nagle + delayed ACK cost 40 ms a request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        fake = self.server.fake
        body = self._body()
        if fake.is_down:
            self.close_connection = True
            return
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        answer = fake.respond(self.command, urlparse(self.path).path, self.headers, form)
        if answer is None:  # disconnect
            self.close_connection = True
            return
        status, content_type, data = answer
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = _handle
    do_GET = _handle


class FakeProvider:
    """What both fakes share: the server, the record of accepted messages and failure injection."""

    def __init__(self, port: int = 0, hang_seconds: float = 3.0):
        self.port = port
        self.hang_seconds = hang_seconds
        self.is_down = False
        self.requests = 0
        self._messages: list[dict] = []
        self._script: deque = deque()  # (kind, options) for the next requests
        self._always: tuple | None = None
        self._lock = threading.Lock()
        self._conns: set = set()
        self._server: _Server | None = None
        self._stopping = threading.Event()

    # -- life ------------------------------------------------------------------------------------------------

    def start(self):
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self.is_down = False
        self._stopping.clear()
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self):
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._drop_connections()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def down(self):
        """Connection refused from now on, and open connections cut, until ``up()``."""
        self.is_down = True
        self.stop()

    def up(self):
        return self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _track(self, conn):
        with self._lock:
            self._conns.add(conn)

    def _drop_connections(self):
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- what happened ---------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict]:
        with self._lock:
            return list(self._messages)

    def bodies(self) -> list[str]:
        return [m["body"] for m in self.messages]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.time() + timeout
        while len(self._messages) < count and time.time() < deadline:
            time.sleep(0.01)
        return self.messages

    def reset(self):
        with self._lock:
            self._messages.clear()
            self._script.clear()
            self._always = None
            self.requests = 0

    # -- failures --------------------------------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, **options):
        assert kind in KINDS, kind
        with self._lock:
            self._script.extend([(kind, options)] * times)

    def fail_always(self, kind: str, **options):
        assert kind in KINDS, kind
        self._always = (kind, options)

    def clear(self):
        with self._lock:
            self._script.clear()
            self._always = None

    def _next_failure(self):
        with self._lock:
            self.requests += 1
            if self._script:
                return self._script.popleft()
            return self._always

    # -- answering -------------------------------------------------------------------------------------------

    def respond(self, method: str, path: str, headers, form: dict):
        failure = self._next_failure()
        if failure:
            kind, options = failure
            if kind == "hang":
                self._stopping.wait(options.get("seconds", self.hang_seconds))
                return 503, "text/plain", b"hung"
            if kind == "disconnect":
                return None
            if kind == "garbage":
                return 200, "text/html", b"<html><body>Please log in to the office Wi-Fi</body></html>"
            return self.failure(kind, options)
        return self.accept(method, path, headers, form)

    def _record(self, message: dict) -> None:
        with self._lock:
            self._messages.append(message)

    def accept(self, method, path, headers, form):  # pragma: no cover - per provider
        raise NotImplementedError

    def failure(self, kind, options):  # pragma: no cover - per provider
        raise NotImplementedError


def _json(status: int, data) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(data).encode()


class FakeTwilio(FakeProvider):
    """POST /2010-04-01/Accounts/<sid>/Messages.json with HTTP basic auth, as api.twilio.com."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "fake-auth-token",
                 from_number: str = "+15005550006", **kw):
        super().__init__(**kw)
        self.account_sid, self.auth_token, self.from_number = account_sid, auth_token, from_number
        self._created = payload("twilio_message_created.json")

    def channel_config(self, **extra) -> dict:
        return {"enabled": True, "account_sid": self.account_sid, "auth_token": self.auth_token,
                "from_number": self.from_number, "base_url": self.url, **extra}

    def _authorized(self, headers) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return headers.get("Authorization", "") == f"Basic {expected}"

    def accept(self, method, path, headers, form):
        if method != "POST" or path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
            return _json(404, {"code": 20404, "message": "The requested resource was not found",
                               "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404})
        if not self._authorized(headers):
            return _json(401, payload("twilio_error_20003.json"))
        if not form.get("To"):
            return _json(400, {"code": 21604, "message": "A 'To' phone number is required.",
                               "more_info": "https://www.twilio.com/docs/errors/21604", "status": 400})
        if not form.get("Body"):
            return _json(400, {"code": 21602, "message": "Message body is required.",
                               "more_info": "https://www.twilio.com/docs/errors/21602", "status": 400})
        sid = "SM" + secrets.token_hex(16)
        self._record({"id": sid, "to": form["To"], "body": form["Body"], "from": form.get("From"),
                      "messaging_service_sid": form.get("MessagingServiceSid"),
                      "status_callback": form.get("StatusCallback")})
        resource = copy.deepcopy(self._created)
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        resource.update(sid=sid, account_sid=self.account_sid, to=form["To"], body=form["Body"],
                        uri=base + ".json", subresource_uris={"media": base + "/Media.json"},
                        messaging_service_sid=form.get("MessagingServiceSid"))
        resource["from"] = form.get("From") or self.from_number
        return _json(201, resource)

    def failure(self, kind, options):
        if kind == "throttle":
            return _json(429, payload("twilio_error_20429.json"))
        if kind == "error":
            return _json(options.get("status", 500), payload("twilio_error_20500.json"))
        code = options.get("code", 21211)
        name = f"twilio_error_{code}.json"
        body = payload(name) if (PAYLOADS / name).exists() else {
            "code": code, "message": "rejected", "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": 400}
        return _json(body["status"], body)


class FakeAfricasTalking(FakeProvider):
    """POST /version1/messaging with the apiKey header, as api.africastalking.com (the SDK's bulk send)."""

    def __init__(self, username: str = "dalil", api_key: str = "fake-at-key", **kw):
        super().__init__(**kw)
        self.username, self.api_key = username, api_key
        self._sent = payload("at_sms_send_response.json")

    def channel_config(self, **extra) -> dict:
        return {"enabled": True, "username": self.username, "api_key": self.api_key, "base_url": self.url,
                **extra}

    def accept(self, method, path, headers, form):
        if method != "POST" or path != "/version1/messaging":
            return 404, "text/plain", b"Not Found"
        if headers.get("apiKey") != self.api_key:
            return 401, "text/plain", b"The supplied authentication is invalid"
        if form.get("username") != self.username or not form.get("to") or not form.get("message"):
            return 400, "text/plain", b"Request is missing required form field"
        recipients = []
        for number in form["to"].split(","):
            message_id = "ATXid_" + secrets.token_hex(16)
            self._record({"id": message_id, "to": number, "body": form["message"], "from": form.get("from"),
                          "bulk": form.get("bulkSMSMode")})
            recipients.append({"statusCode": 101, "number": number, "status": "Success", "cost": "TND 0.0300",
                               "messageId": message_id})
        data = copy.deepcopy(self._sent)
        data["SMSMessageData"].update(Message=f"Sent to {len(recipients)}/{len(recipients)} Total Cost: TND 0.0300",
                                      Recipients=recipients)
        return _json(201, data)

    def failure(self, kind, options):
        if kind == "throttle":
            return 429, "text/plain", b"Too Many Requests"
        if kind == "error":
            return options.get("status", 500), "text/plain", b"Internal Server Error"
        code = options.get("code", 403)
        name = {403: "at_sms_send_invalid_number.json", 406: "at_sms_send_blacklisted.json"}.get(code)
        data = payload(name) if name else {"SMSMessageData": {"Message": "Sent to 0/1 Total Cost: 0", "Recipients": [
            {"statusCode": code, "number": "", "status": options.get("status", "Rejected"), "cost": "0",
             "messageId": "None"}]}}
        return _json(201, data)


FAKES = {"twilio": FakeTwilio, "africastalking": FakeAfricasTalking}


def serve(kind: str, port: int = 0, ready=None, counter=None) -> None:
    """Run one fake in this process until killed; for a benchmark that keeps the fake off its own GIL.
    ``ready`` gets the port; ``counter`` (a multiprocessing.Value) counts accepted messages."""
    fake = FAKES[kind](port=port)
    if counter is not None:
        record = fake._record

        def counting(message):
            record(message)
            with counter.get_lock():
                counter.value += 1
        fake._record = counting
    fake.start()
    if ready is not None:
        ready.put(fake.port)
    else:
        print(fake.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
