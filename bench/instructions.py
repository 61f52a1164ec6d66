"""Instructions per USSD hop, counted by valgrind: Dalil's app against the bare Flask endpoint, in the same run.

    python3 bench/instructions.py [--sessions 20]

Throughput on a shared or busy machine moves with everything else running on it (bench/ussd.py interleaves its
rounds for that reason, and still wanders); the number of instructions a hop executes does not. Each app is called
as a WSGI application in this process, without a server, so the figure is the app's own cost: valgrind's callgrind
counts every instruction of two runs that differ only in the number of sessions walked (bench/ussd.py's session),
and the difference, divided by the hops, is the cost of one hop. A WSGI app that does nothing gives the cost of
building the requests, which is subtracted. Needs Debian's valgrind; takes about two minutes. (Counted the same
way around the whole server, waitress adds about 350k instructions to every request, bare or not: measured once,
docs/flows.md.)
"""
from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ussd import BROWSE, FIRST_CONTACT  # noqa: E402  (bench/ussd.py's session)

SESSION = [None] + FIRST_CONTACT + BROWSE
PATH = "/hooks/africastalking/tok/ussd"


def build(kind: str, folder: str):
    if kind == "null":
        def null(environ, start_response):
            start_response("200 OK", [])
            return [b"CON x"]
        return null
    if kind == "bare":
        from flask import Flask, Response
        app = Flask("bare")
        app.add_url_rule(PATH, "ussd", lambda: Response("CON Dalil\n1. Jobs and training\n2. Start a business",
                                                          mimetype="text/plain"), methods=["POST"])
        return app
    from flows import directory, engine
    from gateway import create_app
    # Under valgrind a hop takes ~50 times as long: the 30-s directory cache would expire 50 times as often per hop
    # as it does in real time, and how often would depend on the machine's load. An hour keeps it as it is in use.
    engine.DIRECTORY_CACHE_SECONDS = 3600.0
    app = create_app({"gateway": {"database": folder + "/bench.db", "keys_dir": folder + "/keys",
                                  "log_level": "WARNING"},
                      "channels": {"africastalking": {"webhook_token": "tok"}}, "dispatcher": {"enabled": False}})
    directory.load_demo(app.extensions["dalil"].db())
    return app


def environ(body: bytes) -> dict:
    return {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": PATH, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8080",
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False}


def walk(app, sessions: int, first: int) -> None:
    def start_response(status, headers, exc_info=None):
        if not status.startswith("200"):
            raise SystemExit(f"bad answer {status}")
    for n in range(first, first + sessions):
        inputs: list[str] = []
        for key in SESSION:
            if key is not None:
                inputs.append(key)
            body = urllib.parse.urlencode({"sessionId": f"s{n}", "phoneNumber": f"+2162{n:07d}",
                                           "serviceCode": "*216#", "text": "*".join(inputs)}).encode()
            b"".join(app(environ(body), start_response))


def child(kind: str, sessions: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = build(kind, folder)
        walk(app, 5, 9_000_000)  # warm-up: imports, caches
        walk(app, sessions, 0)


def instructions(kind: str, sessions: int) -> int:
    env = dict(os.environ, PYTHONPATH=os.getcwd(), PYTHONHASHSEED="0")  # the same dict layouts in every run
    run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          __file__, "--child", kind, "--sessions", str(sessions)],
                         env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", run.stderr).group(1))


def per_hop(kind: str, sessions: int) -> float:
    return (instructions(kind, 3 * sessions) - instructions(kind, sessions)) / (2 * sessions * len(SESSION))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.sessions)
    harness = per_hop("null", args.sessions)
    bare = per_hop("bare", args.sessions) - harness
    dalil = per_hop("dalil", args.sessions) - harness
    print(f"bare Flask endpoint : {bare / 1000:7.0f}k instructions per hop")
    print(f"Dalil USSD flows    : {dalil / 1000:7.0f}k instructions per hop   ({len(SESSION)}-hop sessions: "
          f"first contact, browse)")
    print(f"ratio               : {bare / dalil:.2f} (bare / Dalil, the apps alone: waitress's own work per request "
          f"comes on top of both under bench/ussd.py)")


if __name__ == "__main__":
    main()
