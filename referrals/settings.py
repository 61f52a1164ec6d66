"""Config sections owned by the referrals package."""
from gateway.config import Key

SCHEMA = {
    "referrals": {
        "enabled": Key(bool, True, doc="offer \"Get help\" referrals; false: the route action says none is available"),
        "expiry_days": Key(int, 30, doc="an envelope no CSO desk acknowledged is deleted after this many days"),
        "expiry_check_minutes": Key(int, 60, doc="how often `dalil serve` looks for expired envelopes"),
        "request_window_seconds": Key(int, 300,
                                      doc="a desk request stamped further than this from the gateway's clock "
                                          "is refused (replay protection, with a nonce)"),
        "note_max_chars": Key(int, 300, doc="a free-text note longer than this is cut before sealing"),
        "notify_caseworkers": Key(bool, True, doc="SMS each CSO's caseworker \"new referral R-XXXX (category)\""),
        "small_cell": Key(int, 5, doc="report cells with fewer referrals than this are suppressed"),
        "municipality_token": Key(str, "", doc="bearer token of the municipality role (reports only); "
                                                "use env:NAME; empty disables the role"),
        "coordinator_token": Key(str, "", doc="bearer token of the CSO coordinator role (CSO registry, referral "
                                               "status by code); use env:NAME; empty disables the role"),
    },
}
