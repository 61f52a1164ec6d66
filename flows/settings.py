"""Config sections owned by the flows package."""
from gateway.config import Key

SCHEMA = {
    "flows": {
        "directory": Key(str, "", doc="folder of the menu flows (*.toml), relative to the config file; empty: the "
                                      "flows Dalil ships (flows/definitions). The gateway refuses to start on a "
                                      "flow `dalil flows check` rejects"),
    },
}
