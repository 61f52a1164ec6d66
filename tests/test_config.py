import tomllib
from pathlib import Path

import pytest

from gateway.config import ConfigError, load, schema

ROOT = Path(__file__).parent.parent


def test_example_config_is_valid_and_documents_every_key():
    load(ROOT / "config.example.toml")
    text = tomllib.loads((ROOT / "config.example.toml").read_text())
    for section, keys in schema().items():
        table = text
        for part in section.split("."):
            table = table[part]
        assert set(keys) == set(table), f"[{section}] in config.example.toml differs from the schema"


def write(tmp_path, body):
    p = tmp_path / "dalil.toml"
    p.write_text(body)
    return p


def test_unknown_key_names_file_and_key(tmp_path):
    p = write(tmp_path, "[gateway]\ndatabse = 'x.db'\n")
    with pytest.raises(ConfigError, match=r"dalil.toml: \[gateway\] unknown key 'databse'"):
        load(p)


def test_wrong_type_names_expected(tmp_path):
    p = write(tmp_path, "[gateway]\nport = 'eighty'\n")
    with pytest.raises(ConfigError, match=r"\[gateway\] port: expected an integer, got 'eighty'"):
        load(p)


def test_missing_environment_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    p = write(tmp_path, "[channels.twilio]\nauth_token = 'env:NO_SUCH_TOKEN'\n")
    with pytest.raises(ConfigError, match=r"\[channels.twilio\] auth_token: environment variable NO_SUCH_TOKEN"):
        load(p)


def test_secret_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TW_TOKEN", "s3cret")
    p = write(tmp_path, "[channels.twilio]\nauth_token = 'env:TW_TOKEN'\n")
    assert load(p)["channels.twilio"]["auth_token"] == "s3cret"


def test_unknown_section_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown section \[gatway\]"):
        load(write(tmp_path, "[gatway]\n"))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(write(tmp_path, "[gateway\n"))


def test_database_path_is_relative_to_the_config_file(tmp_path):
    p = write(tmp_path, "[gateway]\ndatabase = 'data/d.db'\n")
    assert load(p)["gateway"]["database"] == str(tmp_path / "data" / "d.db")


def test_cli_reports_bad_config(tmp_path):
    import subprocess
    p = write(tmp_path, "[gateway]\nport = true\n")
    r = subprocess.run(["dalil", "--config", str(p), "init"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "dalil.toml: [gateway] port: expected an integer" in r.stderr
    assert "Traceback" not in r.stderr
