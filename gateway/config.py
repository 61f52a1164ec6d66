"""Configuration: a TOML file (or a mapping of the same shape), checked against a schema before anything starts.

Each package declares the sections it owns in its own ``settings`` module as ``SCHEMA``; ``schema()`` lists
those modules and merges them. A string value ``"env:NAME"`` is read from the environment variable NAME, which
is how secrets stay out of the file.
"""
from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping


class ConfigError(Exception):
    """A config problem, always naming the file and the key."""


@dataclass(frozen=True)
class Key:
    type: type | tuple[type, ...]
    default: Any = None
    required: bool = False
    choices: tuple | None = None
    doc: str = ""


def schema() -> dict[str, dict[str, Key]]:
    """Every package's sections. The settings modules are data (only ``Key`` declarations), so this core module
    may list them; a new package's settings are added here."""
    from flows import settings as flows_settings
    from gateway import settings as gateway_settings
    from jobs import settings as jobs_settings
    from messages import settings as messages_settings
    from polls import settings as polls_settings
    from referrals import settings as referrals_settings
    merged: dict[str, dict[str, Key]] = {}
    for package in (gateway_settings, flows_settings, messages_settings, referrals_settings, polls_settings,
                    jobs_settings):
        for section, keys in package.SCHEMA.items():
            merged.setdefault(section, {}).update(keys)
    return merged


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(_type_name(x) for x in t)
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list", dict: "a table"}.get(t, t.__name__)


def _resolve_env(value, where: str):
    if isinstance(value, str) and value.startswith("env:"):
        var = value[4:]
        if var not in os.environ:
            raise ConfigError(f"{where}: environment variable {var} is not set")
        return os.environ[var]
    return value


def _check_value(value, key: Key, where: str):
    value = _resolve_env(value, where)
    expected = key.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, expected) and not (isinstance(value, bool) and expected in (int, float))
    if not ok:
        raise ConfigError(f"{where}: expected {_type_name(expected)}, got {value!r}")
    if key.choices and value not in key.choices:
        raise ConfigError(f"{where}: expected one of {', '.join(map(str, key.choices))}, got {value!r}")
    return value


def _flatten(raw: Mapping, spec: Mapping, source: str) -> dict:
    """[channels.twilio] arrives as raw["channels"]["twilio"]; the schema names it "channels.twilio"."""
    flat = {}
    for section, value in raw.items():
        nested = [s for s in spec if s.startswith(section + ".")]
        if section not in spec and nested and isinstance(value, Mapping):
            for sub, table in value.items():
                flat[f"{section}.{sub}"] = table
        else:
            flat[section] = value
    return flat


def validate(raw: Mapping[str, Any], source: str = "<mapping>") -> dict[str, dict[str, Any]]:
    """Return a complete config (defaults filled in) or raise ConfigError naming the file and the key."""
    spec = schema()
    raw = _flatten(raw, spec, source)
    out: dict[str, dict[str, Any]] = {}
    for section in raw:
        if section not in spec:
            raise ConfigError(f"{source}: unknown section [{section}]; known: {', '.join(sorted(spec))}")
        if not isinstance(raw[section], Mapping):
            raise ConfigError(f"{source}: [{section}] must be a table")
    for section, keys in spec.items():
        given = raw.get(section, {})
        for name in given:
            if name not in keys:
                raise ConfigError(f"{source}: [{section}] unknown key '{name}'")
        values = {}
        for name, key in keys.items():
            where = f"{source}: [{section}] {name}"
            if name in given:
                values[name] = _check_value(given[name], key, where)
            elif key.required:
                raise ConfigError(f"{where}: missing, expected {_type_name(key.type)} ({key.doc})")
            else:
                values[name] = copy.deepcopy(key.default)
        out[section] = values
    return out


def home() -> Path:
    """Dalil's one home when no config file names the paths: $DALIL_HOME, else the platform's data folder
    (~/.local/share/dalil on Linux, %LOCALAPPDATA%\\dalil on Windows), never the folder a command runs in."""
    if os.environ.get("DALIL_HOME"):
        return Path(os.environ["DALIL_HOME"]).expanduser().resolve()
    import platformdirs
    return Path(platformdirs.user_data_dir("dalil", appauthor=False))


def find_config() -> Path | None:
    """$DALIL_CONFIG, else dalil.toml in the home, else None (built-in defaults, state in the home)."""
    if os.environ.get("DALIL_CONFIG"):
        return Path(os.environ["DALIL_CONFIG"])
    candidate = home() / "dalil.toml"
    return candidate if candidate.exists() else None


def _anchor(cfg: dict, base: Path) -> dict:
    """Relative paths are relative to the config file's folder (or the home), not the folder a command runs in."""
    db = cfg["gateway"]["database"]
    if db != ":memory:" and "://" not in db and not Path(db).is_absolute():
        cfg["gateway"]["database"] = str(base / db)
    for section, key in (("gateway", "log_file"), ("gateway", "keys_dir"), ("flows", "directory")):
        value = cfg.get(section, {}).get(key)
        if value and not Path(value).is_absolute():
            cfg[section][key] = str(base / value)
    return cfg


def load(config: str | os.PathLike | Mapping | None) -> dict[str, dict[str, Any]]:
    """Load from a TOML path, a mapping, or (None) the built-in demo defaults with their files in the home."""
    if config is None:
        return _anchor(validate({}, "<defaults>"), home())
    if isinstance(config, Mapping):
        return validate(config, "<mapping>")
    path = Path(config)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return _anchor(validate(raw, str(path)), path.resolve().parent)
