"""A new installer's first minutes, from a fresh clone: the README's first command brings up the console, a second
instance on the same port says so in one line, and the checkout is left holding no key and no database."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from flows.store import GOVERNORATES

from test_fuzz_support import free_port

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The indented command lines of the README's "Two commands" section, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ") and line.strip()]


def test_the_readme_has_two_commands_and_ci_runs_exactly_the_second():
    first, test = readme_commands()
    assert first.endswith("dalil demo") and "python3 -m venv .venv" in first
    # every test on SQLite, then again on PostgreSQL but for those reading the SQLite file itself
    assert "lint-imports && python3 -m pytest -n auto && " in test
    assert test.endswith("DALIL_TEST_DATABASE=postgresql python3 -m pytest -n auto -m 'not sqlite_only'")
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_no_file_of_the_project_points_outside_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    outside = re.compile(r"\.\./shared|shared/DESIGN|/work/")
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".md", ".py", ".toml", ".html", ".txt", "") or not path.is_file():
            continue
        if name == "tests/test_first_hour.py":
            continue  # the pattern itself
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not outside.search(text), f"{name} points outside the repository: {outside.search(text).group(0)}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for named in re.findall(r"`((?:docs|gateway|flows|messages|referrals|tests|bench)/[\w./-]+\.\w+)`", readme):
        assert (ROOT / named).exists(), f"the README names {named}, which the repository does not have"
    assert (ROOT / "docs" / "design.md").exists()


def _wait_for_console(url: str, proc: subprocess.Popen, log: Path, timeout: float) -> requests.Response:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError("the README's first command stopped:\n" + log.read_text(errors="replace")[-3000:])
        try:
            return requests.get(url, timeout=2)
        except requests.RequestException:
            time.sleep(0.5)
    raise AssertionError("the console did not answer in time:\n" + log.read_text(errors="replace")[-3000:])


@pytest.mark.slow  # a clone, a venv and pip
def test_a_fresh_clone_runs_the_readme_command_and_keeps_no_state_in_the_checkout(tmp_path):
    clone = tmp_path / "dalil"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    first, _ = readme_commands()
    # The one change: the venv also sees the packages this machine already has, so pip installs Dalil and its
    # build backend without downloading every dependency again (CI's own venv, in .ci/run, is a plain one).
    command = first.replace("python3 -m venv .venv", "python3 -m venv --system-site-packages .venv", 1)
    assert command != first
    # The platform's data folder (XDG_DATA_HOME on Linux) is the home; a config there moves the port off 8080.
    data = tmp_path / "xdg-data"
    home = data / "dalil"
    home.mkdir(parents=True)
    port = free_port()
    (home / "dalil.toml").write_text(f"[gateway]\nport = {port}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DALIL_HOME", "DALIL_CONFIG", "PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env.update(XDG_DATA_HOME=str(data), PYTHONUNBUFFERED="1")
    log = tmp_path / "first-command.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", "-c", command], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        page = _wait_for_console(f"http://127.0.0.1:{port}/", proc, log, timeout=300)
        assert page.status_code == 200 and urlsplit(page.url).path == "/console/login", page.url
        assert 'name="password"' in page.text
        which = [str(clone / ".venv" / "bin" / "python"), "-c", "import gateway; print(gateway.__file__)"]
        installed = subprocess.run(which, cwd=tmp_path, env=env, capture_output=True, text=True,
                                   check=True).stdout.strip()
        assert installed.startswith(str(clone)), f"the venv runs {installed}, not the clone"

        second = subprocess.run([str(clone / ".venv" / "bin" / "dalil"), "demo"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stdout + second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"port {port}" in lines[0] and "[gateway] port" in lines[0], lines[0]
        assert "Traceback" not in second.stdout + second.stderr and second.stdout == ""
        assert requests.get(f"http://127.0.0.1:{port}/console/login", timeout=5).status_code == 200  # first still up
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    banner = log.read_text(errors="replace")
    assert f"database: {home / 'dalil.db'}" in banner
    assert (home / "dalil.db").exists() and (home / "keys" / "gateway-signing.key").exists()

    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", f"the checkout changed:\n{status}"
    state = [p for p in clone.rglob("*") if p.suffix in (".key", ".db", ".db-wal", ".db-shm")
             and ".venv" not in p.parts and ".git" not in p.parts]
    assert not state, f"state written into the checkout: {state}"
    assert not (clone / "dalil.toml").exists() and not (clone / "keys").exists()


def dalil(*args, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DALIL_CONFIG"}
    env.update(DALIL_HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "gateway.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_every_command_uses_the_one_home_and_only_init_creates_a_database(tmp_path):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = dalil("user", "list", home=home, cwd=elsewhere)
    assert refused.returncode == 1
    assert f"no Dalil database at {home / 'dalil.db'}" in refused.stderr and "dalil init" in refused.stderr
    assert not (home / "dalil.db").exists() and not list(elsewhere.iterdir())
    made = dalil("init", home=home, cwd=elsewhere)
    assert made.returncode == 0 and f"database ready: {home / 'dalil.db'}" in made.stdout
    for cwd in (elsewhere, tmp_path):  # the same database from any folder
        listed = dalil("user", "list", home=home, cwd=cwd)
        assert listed.returncode == 0 and listed.stderr.strip() == f"database: {home / 'dalil.db'}"
    assert not list(elsewhere.iterdir()), "nothing is written where a command runs"
    assert (home / "keys" / "gateway-signing.key").exists()


def test_a_busy_port_is_one_line_and_exit_2_for_serve_and_the_desk(tmp_path, app):
    import socket
    from test_referral_support import add_cso
    home = tmp_path / "home"
    assert dalil("init", home=home, cwd=tmp_path).returncode == 0
    desk = add_cso(app, tmp_path)  # a connected desk folder, as `dalil desk connect` leaves it
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for args, key in ((("serve", "--port", str(port)), "[gateway] port"),
                          (("desk", "serve", "--home", str(desk), "--port", str(port)), "--port")):
            started = time.monotonic()
            r = dalil(*args, home=home, cwd=tmp_path)
            assert r.returncode == 2, (args, r.stdout, r.stderr)
            error = [line for line in r.stderr.splitlines() if not line.startswith("database: ")]
            assert len(error) == 1 and f"port {port}" in error[0] and key in error[0], r.stderr
            assert "Traceback" not in r.stderr and r.stdout == "", (r.stdout, r.stderr)
            assert "dispatcher" not in r.stderr and time.monotonic() - started < 30  # nothing started


# -- the command line's rough edges ----------------------------------------------------------------------------

def _walk(command, path):
    import click
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, [*path, name])
    else:
        yield path, command


def test_every_command_and_option_has_a_help_text():
    import click
    from gateway.cli import main
    missing = [f"{' '.join(path)} {p.opts[0]}" for path, command in _walk(main, ["dalil"])
               for p in command.params if isinstance(p, click.Option) and not p.help]
    missing += [" ".join(path) for path, command in _walk(main, ["dalil"]) if not command.help]
    assert not missing, f"no help text: {missing}"


@pytest.fixture
def cli(tmp_path, monkeypatch, app):
    """`dalil` against the app's database, through a config file in its home."""
    from click.testing import CliRunner
    from gateway.cli import main
    gw = app.extensions["dalil"].config["gateway"]
    config = tmp_path / "dalil.toml"
    config.write_text(f'[gateway]\ndatabase = "{gw["database"]}"\nkeys_dir = "{gw["keys_dir"]}"\n'
                      'default_language = "fr"\n', encoding="utf-8")
    monkeypatch.setenv("DALIL_CONFIG", str(config))
    return lambda *args, **kw: CliRunner().invoke(main, list(args), **kw)


def test_a_text_in_an_unknown_language_blames_the_text_not_the_fallback(cli):
    made = cli("campaign", "create", "X", "--text", "de=hello")
    assert made.exit_code == 1
    assert "text (de): unknown language; expected one of ar, fr, en" in made.output
    assert "fallback" not in made.output


def test_dispatch_with_no_channel_says_how_to_configure_one_instead_of_waiting(cli, tmp_path):
    started = time.monotonic()
    run = cli("dispatch", "--until-empty")
    assert run.exit_code == 1 and time.monotonic() - started < 20
    assert "no channel is configured to send" in run.output and "[channels.twilio]" in run.output
    assert str(tmp_path / "dalil.toml") in run.output  # the file to edit


def test_the_report_names_needs_and_governorates_in_the_chosen_language(cli, app, tmp_path, monkeypatch):
    from referrals import notices
    from referrals.protocol import days
    from test_referral_support import add_cso, refer
    add_cso(app, tmp_path, needs=("legal",), areas=("*",), capacity=1000)
    places = GOVERNORATES[:12]
    monkeypatch.setattr(days, "today", lambda: "2026-10-05")
    for code, *_ in places:
        for _ in range(5):
            refer(app, "amal", need="legal", governorate=code, delegation=None)
    monkeypatch.setattr(days, "today", lambda: "2026-11-20")  # October is closed: its report is published
    notices.flush(app.extensions["dalil"], app.extensions["dalil"].db())
    fr = cli("report").stdout  # [gateway] default_language
    assert "Aide juridique" in fr and "Kairouan" in fr and "legal" not in fr and "kairouan" not in fr
    # 24 governorates do not fit 80 columns: piped output is as wide as the table, nothing is cut to "…"
    assert "…" not in fr and all(name in fr for _, _, name, _ in places)
    ar = cli("report", "--lang", "ar").stdout
    assert "مساعدة قانونية" in ar and "القيروان" in ar


def test_the_demo_banner_asks_for_a_first_account_only_while_there_is_none(app):
    from gateway.commands import _first_account_hint
    from test_console_support import add_accounts
    ctx = app.extensions["dalil"]
    assert "dalil user add" in _first_account_hint(ctx)
    add_accounts(app)
    assert _first_account_hint(ctx) == ""


def test_status_and_user_list_show_local_times_without_seconds(cli, app):
    from test_console_support import add_accounts
    add_accounts(app)
    db = app.extensions["dalil"].db()
    db.execute("UPDATE users SET last_login = 1767225600")  # 2026-01-01 00:00 UTC, 01:00 in Tunis
    listed = cli("user", "list").stdout
    assert "2026-01-01 01:00 (Africa/Tunis)" in listed

