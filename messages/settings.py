"""Config sections owned by the messages package: subscribers and campaigns.

Times of day are local to [gateway] timezone (Africa/Tunis by default).
"""
from gateway.config import Key

SCHEMA = {
    "campaigns": {
        "price_per_segment": Key(float, 0.0, doc="estimated cost of one segment, for previews"),
        "currency": Key(str, "TND"),
        "quiet_hours": Key(list, ["21:00", "08:00"],
                           doc="[start, end] in local time: nothing is sent between; equal times: no quiet hours"),
        "max_segments": Key(int, 3, doc="a campaign text longer than this many segments is refused"),
        "staff_numbers": Key(list, [], doc="numbers that receive test sends"),
        "sender_name": Key(str, "Dalil", doc="who is sending, named in the HELP reply"),
        "expiry_hours": Key(float, 48.0,
                            doc="default: a campaign's messages not sent this long after it starts are dropped"),
        "rate_per_minute": Key(int, 0,
                               doc="default campaign pace in messages a minute; 0: as fast as the channels allow"),
        "misfire_grace_minutes": Key(int, 60,
                                     doc="a scheduled run missed while the gateway was down still goes this late; "
                                         "later, it is skipped and logged"),
        "check_seconds": Key(int, 30,
                             doc="how often `dalil serve` looks for campaigns scheduled from another process"),
        "queue_batch": Key(int, 10000, doc="subscribers queued per statement (progress is reported between)"),
    },
}
