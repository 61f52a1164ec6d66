"""Helpers for the hardening tests (fuzz, faults, security, soak); no tests here.

What an operator would check after a storm of hostile requests or a fault: SQLite says the file is sound, every
foreign key points somewhere, no row is half-written (the invariants below), and the log holds no traceback.
"""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

import dbscan
from harness import free_port  # noqa: F401 (one allocator for every worker's ports; imported from here too)

ROOT = Path(__file__).resolve().parent.parent
FINAL_STATES = ("sent", "delivered", "failed", "expired")
STATES = ("queued", "sending", *FINAL_STATES)


def fuzz_examples(default: int) -> int:
    """DALIL_FUZZ_EXAMPLES=2000 runs every fuzz test longer (the suite's default keeps CI within budget)."""
    return int(os.environ.get("DALIL_FUZZ_EXAMPLES", default))


def _connect(db) -> sqlite3.Connection:
    if isinstance(db, (str, os.PathLike)):
        return sqlite3.connect(db)
    return getattr(db, "conn", db)


def _file_problems(q) -> list[str]:
    """SQLite's own checks of the file; PostgreSQL checks every foreign key at each write and has no one file."""
    problems = []
    integrity = q("PRAGMA integrity_check")
    if integrity != [("ok",)]:
        problems.append(f"integrity_check: {integrity[:5]}")
    dangling = q("PRAGMA foreign_key_check")
    if dangling:
        problems.append(f"foreign_key_check: {dangling[:5]}")
    return problems


def consistency_problems(db) -> list[str]:
    """Everything wrong with the database, as sentences; empty when it is sound."""
    conn = _connect(db)
    q = lambda sql, *p: conn.execute(sql, p).fetchall()  # noqa: E731
    problems = [] if dbscan.is_postgresql(db) else _file_problems(q)
    # the outbox: a known state; a message waiting to go has a number and a text; a leased one has its lease;
    # a sensitive one in a final state has neither number nor text
    marks = ", ".join("?" for _ in STATES)
    for sql, why in [
        (f"SELECT id, state FROM outbox WHERE state NOT IN ({marks})", "unknown state"),
        ("SELECT id FROM outbox WHERE state IN ('queued', 'sending') AND (to_number IS NULL OR body IS NULL "
         "OR body = '')", "waiting without number or text"),
        ("SELECT id FROM outbox WHERE state = 'sending' AND (lease_owner IS NULL OR lease_until IS NULL)",
         "sending without a lease"),
        ("SELECT id FROM outbox WHERE sensitive = 1 AND state IN ('sent', 'delivered', 'failed', 'expired') "
         "AND (to_number IS NOT NULL OR body IS NOT NULL)", "sensitive row not wiped at its final state"),
        ("SELECT id FROM outbox WHERE idempotency_key IS NULL OR segments < 1 OR (segments IS NULL AND NOT "
         "(sensitive = 1 AND state IN ('sent', 'delivered', 'failed', 'expired')))", "no idempotency key or segments"),
        ("SELECT id FROM outbox WHERE state IN ('sent', 'delivered') AND sent_at IS NULL AND channel != 'smssync'",
         "sent without a time"),
    ]:
        rows = q(sql, *STATES) if "?" in sql else q(sql)
        if rows:
            problems.append(f"outbox: {why}: {rows[:5]}")
    # every inbound SMS recorded as handled queued a reply in the same transaction: not checkable from the file
    # any more, on purpose (a reply's key is blinded, so no row joins an inbound message to its answer); the
    # sealed rows are checked above, and test_attack_referrals checks that the join is gone
    tables = set(dbscan.tables(db if hasattr(db, "execute") else conn))
    replies = q("SELECT count(*) FROM outbox WHERE kind = 'reply'")[0][0]
    inbound = q("SELECT count(*) FROM inbound_seen")[0][0]
    if replies < inbound:
        problems.append(f"inbound_seen: {inbound} inbound message(s) recorded but only {replies} replies")
    if "subscribers" in tables:
        silent = q("SELECT id FROM subscribers s WHERE NOT EXISTS (SELECT 1 FROM consent_log c "
                   "WHERE c.subscriber_id = s.id)")
        if silent:
            problems.append(f"subscribers without a consent record: {silent[:5]}")
        bad = q("SELECT id, status FROM subscribers WHERE status NOT IN ('active', 'opted_out')")
        if bad:
            problems.append(f"subscribers in an unknown state: {bad[:5]}")
    if "campaign_runs" in tables:
        short = q("SELECT * FROM (SELECT r.id, r.queued, (SELECT count(*) FROM outbox o WHERE o.campaign_id = "
                  "r.campaign_id AND o.idempotency_key LIKE 'blast:' || r.campaign_id || ':' || r.id || ':%') AS n "
                  "FROM campaign_runs r) AS counted WHERE n != queued")
        if short:
            problems.append(f"campaign runs whose queued count disagrees with the outbox: {short[:5]}")
    if "referrals" in tables:
        entries = q("SELECT count(*) FROM ledger_entries")[0][0]
        leaves = q("SELECT count(*) FROM ledger_nodes WHERE level = 0")[0][0]
        signed = q("SELECT max(tree_size) FROM ledger_checkpoint")[0][0] or 0
        if entries != leaves or signed > entries:
            problems.append(f"ledger: {entries} entries, {leaves} leaf hashes, a checkpoint covering {signed}")
        beyond = q("SELECT id FROM referrals WHERE ledger_index >= ?", entries)
        if beyond:
            problems.append(f"referrals pointing past the log: {beyond[:5]}")
        half = q("SELECT id FROM referrals WHERE envelope IS NULL OR signature IS NULL")
        if half:
            problems.append(f"referrals with half an envelope: {half[:5]}")
    return problems


def assert_consistent(db) -> None:
    problems = consistency_problems(db)
    assert not problems, "database inconsistent:\n" + "\n".join(problems)


def database_digest(db, tables: list[str]) -> dict[str, list]:
    """Every row of the named tables, to compare before and after something that must change nothing."""
    conn = _connect(db)
    return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}  # noqa: S608


def log_problems(path, allowed: tuple[str, ...] = ()) -> list[str]:
    """Lines of the log an operator would have to investigate: tracebacks, unhandled errors, ERROR lines that
    are not in ``allowed`` (regular expressions of expected errors, e.g. a storage fault the test caused)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    bad = []
    for line in text.splitlines():
        if "Traceback" in line or "unhandled error" in line or " CRITICAL " in line or \
                (" ERROR " in line and not any(re.search(a, line) for a in allowed)):
            bad.append(line)
    return bad


def assert_clean_log(path, allowed: tuple[str, ...] = ()) -> None:
    bad = log_problems(path, allowed)
    assert not bad, "the log holds errors:\n" + "\n".join(bad[:10])


# -- a gateway in its own process, as `dalil serve` runs it -------------------------------------------------------

def write_config(folder: Path, text: str) -> Path:
    path = folder / "dalil.toml"
    path.write_text(text, encoding="utf-8")
    return path


class ServerProcess:
    """`dalil --config FILE serve` in a subprocess on a free loopback port; stderr collected in memory (a pipe,
    not a file, so a file-size limit set on the process for a fault test does not touch it)."""

    def __init__(self, config: Path, port: int, command: str = "serve"):
        self.config, self.port, self.command = config, port, command
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None
        self.output: list[str] = []
        self.session = requests.Session()

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        if self.command == "serve":  # `serve` never creates a database: `init` does, as an operator would
            subprocess.run([sys.executable, "-m", "gateway.cli", "--config", str(self.config), "init"], env=env,
                           cwd=str(ROOT), check=True, capture_output=True, timeout=60)
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", "--config", str(self.config),
                                      self.command, "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited at start:\n" + self.text())
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("server did not answer /healthz:\n" + self.text())

    def _read(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.output.append(line.decode("utf-8", "replace"))

    def text(self) -> str:
        return "".join(self.output)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def post(self, path, **kw):
        return self.session.post(self.url + path, timeout=kw.pop("timeout", 15), **kw)

    def get(self, path, **kw):
        return self.session.get(self.url + path, timeout=kw.pop("timeout", 15), **kw)

    def stop(self, sig=None, timeout: float = 30.0) -> int:
        """Send ``sig`` (SIGTERM by default) and wait; returns the exit code."""
        import signal
        self.session.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not stop within {timeout}s:\n" + self.text()) from None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        self.session.close()
