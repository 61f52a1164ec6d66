"""Config sections owned by the flows package."""
from gateway.config import Key

SCHEMA = {
    "flows": {
        "directory": Key(str, "", doc="folder of the menu flows (*.toml), relative to the config file; empty: the "
                                      "flows Dalil ships (flows/definitions). The gateway refuses to start on a "
                                      "flow `dalil flows check` rejects"),
    },
    "sessions": {
        "url": Key(str, "", doc="redis://HOST:PORT/DB of a Valkey (or Redis) server that keeps the live USSD and SMS "
                                "sessions and the resume places, sealed, so that several `dalil serve` share them; "
                                "it must keep nothing on disk (save \"\", appendonly no: checked at start); "
                                "empty: sessions in this process's memory; use env:NAME"),
        "key": Key(str, "", doc="with url: the 32-byte key (64 hex digits or base64) that seals sessions in Valkey "
                                "and keys their names, the same on every gateway host; never written to a file by "
                                "Dalil; use env:NAME"),
        "timeout_seconds": Key(float, 0.5, doc="a Valkey call that takes longer fails: the caller is asked to try "
                                               "again"),
    },
}
