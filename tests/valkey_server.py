"""A throwaway Valkey for tests and benchmarks: Debian's redis-server (bookworm has no valkey-server; the protocol
and the settings Dalil checks are the same), on a free loopback port, in a temp folder, keeping nothing on disk.

    with ValkeyServer(tmp_path) as valkey:
        config = {"sessions": {"url": valkey.url, "key": "env:DALIL_SESSIONS_KEY"}}
        valkey.kill()      # SIGKILL, as a crash
        valkey.start()     # again on the same port: a gateway reconnects by itself

The ``valkey`` fixture (tests/conftest.py) gives one per test, with ``$DALIL_SESSIONS_KEY`` set; two `dalil
serve` processes given the same url share its sessions. Stopped by its own process id, never by name.
"""
from __future__ import annotations

import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

from harness import free_port

SERVER = shutil.which("redis-server") or shutil.which("valkey-server")
KEY_ENV = "DALIL_SESSIONS_KEY"


def new_key() -> str:
    """A [sessions] key as an operator makes one: 32 random bytes, hex."""
    return secrets.token_hex(32)


class ValkeyServer:
    def __init__(self, folder: Path, port: int | None = None, *extra: str, persistent: bool = False):
        self.folder = Path(folder) / "valkey"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        # persistent: the server's own defaults (RDB snapshots on), to check that Dalil refuses it
        self.args = ([] if persistent else ["--save", "", "--appendonly", "no"]) + list(extra)
        self.proc: subprocess.Popen | None = None
        self.log = self.folder / "server.log"

    def start(self, timeout: float = 15.0) -> "ValkeyServer":
        assert SERVER, "redis-server is not installed (.ci/run installs Debian's redis-server)"
        self.proc = subprocess.Popen([SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                                      str(self.folder), "--daemonize", "no", "--logfile", str(self.log), *self.args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited at start:\n{self.log.read_text(errors='replace')}")
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("redis-server did not answer PING")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL, as a crash or an operator pulling the plug; then wait until the port answers nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", self.port)) != 0

    def keyspace(self) -> dict[bytes, bytes]:
        """Every key and its value (a string's bytes; a lock's token), for what a reader of its memory sees."""
        client = self.client()
        found = {}
        for key in client.scan_iter(count=1000):
            if client.type(key) == b"string":
                found[key] = client.get(key) or b""
            else:
                found[key] = repr(client.dump(key)).encode()
        return found

    def __enter__(self) -> "ValkeyServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
