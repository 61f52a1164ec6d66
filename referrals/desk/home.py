"""A desk's folder: cso.key (from `dalil cso keygen`), desk.toml (from `dalil desk connect`), desk.db.

desk.toml pins two keys given out of band: the gateway's checkpoint key (its vkey names the log) and the
coordinator's key, which every registration in the log must carry. Neither is ever taken from the gateway's
answers: an operator who changed them on the server would only be proving the desk's point.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey, VerifyKey

from messages.i18n import LANGUAGES
from referrals.protocol import cso_keys, note

KEY_FILE, CONFIG_FILE, DB_FILE = "cso.key", "desk.toml", "desk.db"


class DeskError(Exception):
    pass


@dataclass
class Desk:
    home: Path
    gateway_url: str
    cso_id: str
    token: str
    log_key: note.Verifier
    coordinator: note.Verifier
    box_secret: PrivateKey
    sign_key: SigningKey
    language: str = "fr"

    @property
    def db_path(self) -> str:
        return str(self.home / DB_FILE)

    @property
    def gateway_key(self) -> VerifyKey:
        """The same Ed25519 key signs checkpoints and envelopes."""
        return VerifyKey(self.log_key.public)


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _vkey(text: str, what: str) -> note.Verifier:
    try:
        return note.parse_vkey(text)
    except note.NoteError as e:
        raise DeskError(f"{what}: {e}") from None


def connect(home: str | os.PathLike, gateway_url: str, cso_id: str, token: str, gateway_vkey: str,
            coordinator_vkey: str, language: str = "fr") -> Path:
    """Write desk.toml next to the key file (0600: it holds the desk's token)."""
    home = Path(home)
    if not (home / KEY_FILE).exists():
        raise DeskError(f"{home / KEY_FILE}: no key file; run `dalil cso keygen --home {home}` first")
    _vkey(gateway_vkey, "gateway key (the line `dalil cso add` printed)")
    _vkey(coordinator_vkey, "coordinator key (the line `dalil coordinator keygen` printed)")
    if language not in LANGUAGES:
        raise DeskError("language: ar, fr or en")
    text = "\n".join([
        "# The CSO desk's settings, written by `dalil desk connect`. Keep this file private: it holds the token.",
        f"gateway_url = {_toml_str(gateway_url.rstrip('/'))}",
        f"cso_id = {_toml_str(cso_id)}",
        f"token = {_toml_str(token)}",
        f"gateway_key = {_toml_str(gateway_vkey.strip())}",
        f"coordinator_key = {_toml_str(coordinator_vkey.strip())}",
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
        box, sign = cso_keys.load_keys(home / KEY_FILE)
    except cso_keys.RegistryError as e:
        raise DeskError(str(e)) from None
    try:
        return Desk(home=home, gateway_url=cfg["gateway_url"], cso_id=cfg["cso_id"], token=cfg["token"],
                    log_key=_vkey(cfg["gateway_key"], f"{home / CONFIG_FILE}: gateway_key"),
                    coordinator=_vkey(cfg["coordinator_key"], f"{home / CONFIG_FILE}: coordinator_key"),
                    box_secret=box, sign_key=sign, language=cfg.get("language", "fr"))
    except KeyError as e:
        raise DeskError(f"{home / CONFIG_FILE}: missing key {e}") from None
