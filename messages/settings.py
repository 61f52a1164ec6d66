"""Config sections owned by the messages package: subscribers and campaigns."""
from gateway.config import Key

SCHEMA = {
    "campaigns": {
        "price_per_segment": Key(float, 0.0, doc="estimated cost of one segment, for previews"),
        "currency": Key(str, "TND"),
        "quiet_hours": Key(list, ["21:00", "08:00"], doc="[start, end] in local time: nothing is sent between"),
        "max_segments": Key(int, 3, doc="a campaign text longer than this many segments is refused"),
        "staff_numbers": Key(list, [], doc="numbers that receive test sends"),
    },
}
