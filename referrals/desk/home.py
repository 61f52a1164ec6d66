"""A desk's folder: cso.key (from `dalil cso keygen`), desk.toml (from `dalil desk connect`), desk.db."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from referrals import csos

KEY_FILE, CONFIG_FILE, DB_FILE = "cso.key", "desk.toml", "desk.db"


class DeskError(Exception):
    pass


@dataclass
class Desk:
    home: Path
    gateway_url: str
    cso_id: str
    token: str
    gateway_key: VerifyKey
    box_secret: PrivateKey
    sign_key: SigningKey
    language: str = "fr"

    @property
    def db_path(self) -> str:
        return str(self.home / DB_FILE)


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def connect(home: str | os.PathLike, gateway_url: str, cso_id: str, token: str, gateway_key_hex: str,
            language: str = "fr") -> Path:
    """Write desk.toml next to the key file (0600: it holds the desk's token)."""
    home = Path(home)
    if not (home / KEY_FILE).exists():
        raise DeskError(f"{home / KEY_FILE}: no key file; run `dalil cso keygen --home {home}` first")
    try:
        if len(bytes.fromhex(gateway_key_hex)) != 32:
            raise ValueError
    except ValueError:
        raise DeskError("gateway key: 64 hex characters, as `dalil cso add` printed it") from None
    if language not in ("ar", "fr", "en"):
        raise DeskError("language: ar, fr or en")
    text = "\n".join([
        "# The CSO desk's settings, written by `dalil desk connect`. Keep this file private: it holds the token.",
        f"gateway_url = {_toml_str(gateway_url.rstrip('/'))}",
        f"cso_id = {_toml_str(cso_id)}",
        f"token = {_toml_str(token)}",
        f"gateway_key = {_toml_str(gateway_key_hex)}",
        f"language = {_toml_str(language)}",
        "",
    ])
    path = home / CONFIG_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def load(home: str | os.PathLike) -> Desk:
    home = Path(home)
    try:
        cfg = tomllib.loads((home / CONFIG_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeskError(f"{home / CONFIG_FILE}: missing; run `dalil desk connect` first") from None
    except tomllib.TOMLDecodeError as e:
        raise DeskError(f"{home / CONFIG_FILE}: not valid TOML: {e}") from None
    try:
        box, sign = csos.load_keys(home / KEY_FILE)
    except csos.RegistryError as e:
        raise DeskError(str(e)) from None
    try:
        return Desk(home=home, gateway_url=cfg["gateway_url"], cso_id=cfg["cso_id"], token=cfg["token"],
                    gateway_key=VerifyKey(bytes.fromhex(cfg["gateway_key"])), box_secret=box, sign_key=sign,
                    language=cfg.get("language", "fr"))
    except (KeyError, ValueError) as e:
        raise DeskError(f"{home / CONFIG_FILE}: missing or bad key {e}") from None
