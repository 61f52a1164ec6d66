import shutil
import subprocess
from pathlib import Path

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
    main.write_text(main.read_text().replace('goto = "work" }', 'goto = "wrok" }'))
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
