"""Config sections owned by the polls package."""
from gateway.config import Key

SCHEMA = {
    "polls": {
        "small_cell": Key(int, 5, doc="results with fewer answers than this are suppressed (and the cells that "
                                      "would give them away)"),
        "close_check_minutes": Key(int, 10, doc="how often `dalil serve` closes polls whose last day has passed and, "
                                                "while one is open, truncates the WAL"),
    },
}
