"""A throwaway PostgreSQL for the tests: initdb in a temp folder, one server per pytest-xdist worker on a free
loopback port, a migrated template database, and a fresh database per test made from it.

``DALIL_TEST_DATABASE=postgresql`` runs the suite's apps on it (tests/conftest.py); the multi-host tests use it
whatever that says. As root (CI), the server runs as the ``postgres`` user, since PostgreSQL refuses root.
"""
from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from harness import free_port

BACKEND = os.environ.get("DALIL_TEST_DATABASE", "sqlite")


def bin_dir() -> Path | None:
    """Debian's server programs (initdb, pg_ctl), newest version first; None when PostgreSQL is not installed."""
    for found in sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True):
        return found.parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    """In its own temp folder (pytest's are root's alone, which the postgres user cannot enter), removed at stop."""

    def __init__(self, fsync: bool = False):
        self.fsync = fsync  # off for tests (a crash of the test server loses nothing anyone needs); on for benches
        self.folder = Path(tempfile.mkdtemp(prefix="dalil-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.bin = bin_dir()
        self._ids = itertools.count(1)
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql); .ci/run installs it")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*as_user, *args], check=check, capture_output=True, text=True, timeout=120)

    def running(self) -> bool:
        return self.pg_ctl("status", check=False).returncode == 0

    def start(self) -> "PostgresServer":
        if self.data.exists() and self.running():
            return self
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        if not self.data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--locale=C.UTF-8")
        self.pg_ctl("start", "-w", "-l", str(self.folder / "server.log"), "-o",
                    f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                    + ("" if self.fsync else "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"))
        return self

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *args, check=check)

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode, "-w", check=False)

    def wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def sql(self, statement: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, template: str | None = None) -> str:
        """A fresh empty database (or a copy of ``template``), by URL."""
        name = f"t{os.getpid()}_{next(self._ids)}"
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
