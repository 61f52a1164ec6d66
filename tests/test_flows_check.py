import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flows.check import check
from flows.definitions import DEFINITIONS_DIR


def dalil_flows_check(folder) -> subprocess.CompletedProcess:
    return subprocess.run(["dalil", "flows", "check", "--dir", str(folder)], capture_output=True, text=True)


def test_shipped_flows_pass():
    result = dalil_flows_check(DEFINITIONS_DIR)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def copy_flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    shutil.copytree(DEFINITIONS_DIR, folder)
    return folder


def test_dangling_choice_fails(tmp_path):
    folder = copy_flows(tmp_path)
    main = folder / "main.toml"
    main.write_text(main.read_text().replace('goto = "work_list" }', 'goto = "wrok" }'))
    result = dalil_flows_check(folder)
    assert result.returncode == 1
    assert "main.toml: screen 'main': option 1 goes to unknown screen 'wrok'" in result.stderr


def test_missing_translation_and_unknown_action_fail(tmp_path):
    folder = copy_flows(tmp_path)
    (folder / "extra.toml").write_text(
        '[screens.extra]\ntext = "no.such.key"\n'
        'options = [{ label = "nav.back", action = "no.such.action" }, { label = "nav.main" }]\n')
    _, problems = check(folder)
    assert "extra.toml: screen 'extra': text 'no.such.key' missing in ar, fr, en" in problems
    assert "extra.toml: screen 'extra': option 1 names unknown action 'no.such.action'" in problems
    assert "extra.toml: screen 'extra': option 2 leads nowhere (no goto, no action)" in problems


def test_end_screen_longer_than_one_screen_fails(tmp_path):
    folder = copy_flows(tmp_path)
    (folder / "extra.toml").write_text('[screens.extra]\ntype = "end"\ntext = "detail.body"\n')
    _, problems = check(folder)
    assert any(p.startswith("extra.toml: screen 'extra': [ar] an end screen must fit one USSD screen")
               for p in problems), problems


def test_malformed_toml_and_unknown_keys_fail(tmp_path):
    folder = copy_flows(tmp_path)
    (folder / "broken.toml").write_text("[screens.x\n")
    assert "broken.toml: not valid TOML" in dalil_flows_check(folder).stderr
    (folder / "broken.toml").write_text('[screens.x]\ntext = "nav.back"\ncolour = "red"\n')
    assert "broken.toml: screen 'x': unknown key(s) colour" in dalil_flows_check(folder).stderr


def test_the_check_measures_french_screens_with_their_accents_folded(tmp_path, monkeypatch):
    """[ussd] fold_accents (French by default) is how the screen will be sent, so it is what the check measures:
    one "ê" would otherwise cut a 120-character French screen to the 80 characters of UCS-2."""
    from messages import i18n
    from flows.render import Budget
    text = "Vous êtes inscrit. " + "Votre conseiller vous appellera dans la semaine pour fixer un rendez-vous. "
    assert 80 < len(text) < 182
    monkeypatch.setitem(i18n.catalogs()["fr"], "test.long", text)
    for lang in ("ar", "en"):
        monkeypatch.setitem(i18n.catalogs()[lang], "test.long", "ok")
    folder = copy_flows(tmp_path)
    (folder / "extra.toml").write_text('[screens.extra]\ntype = "end"\ntext = "test.long"\n')
    _, folded = check(folder, Budget(182, 80), ("fr",))
    _, unfolded = check(folder, Budget(182, 80), ())
    assert not [p for p in folded if "'extra'" in p]
    extra = [p for p in unfolded if "'extra'" in p]
    assert len(extra) == 1 and extra[0].startswith(
        "extra.toml: screen 'extra': [fr] an end screen must fit one USSD screen"), extra


def dangling_goto(tmp_path: Path) -> Path:
    folder = copy_flows(tmp_path)
    main = folder / "main.toml"
    main.write_text(main.read_text().replace('goto = "work_list" }', 'goto = "wrok" }'))
    return folder


def test_the_app_refuses_to_start_on_a_flow_the_check_rejects(tmp_path, make_config):
    from gateway import create_app
    from gateway.config import ConfigError
    folder = dangling_goto(tmp_path)
    with pytest.raises(ConfigError) as refused:
        create_app(make_config(flows={"directory": str(folder)}))
    assert str(folder) in str(refused.value)
    assert "main.toml: screen 'main': option 1 goes to unknown screen 'wrok'" in str(refused.value)
    create_app(make_config(flows={"directory": str(copy_flows(tmp_path / "intact"))}))  # the same folder, intact


def test_dalil_serve_stops_naming_the_file_and_the_screen(tmp_path):
    """`dalil serve` with a config whose [flows] directory (relative to the config file) has a dangling goto:
    exit status 1 and the problem on stderr, before it serves anything."""
    dangling_goto(tmp_path)
    (tmp_path / "dalil.toml").write_text('[gateway]\ndatabase = "dalil.db"\n[flows]\ndirectory = "flows"\n')
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = lambda *args: subprocess.run([sys.executable, "-m", "gateway.cli", "--config", "dalil.toml", *args],  # noqa: E731
                                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert run("init").returncode == 0
    served = run("serve", "--port", "0")
    assert served.returncode == 1, served.stdout + served.stderr
    assert "main.toml: screen 'main': option 1 goes to unknown screen 'wrok'" in served.stderr
    checked = run("flows", "check")  # the configured folder is what `dalil flows check` checks too
    assert checked.returncode == 1 and "goes to unknown screen 'wrok'" in checked.stderr
