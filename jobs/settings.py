"""Config sections owned by the jobs package."""
from gateway.config import Key

SCHEMA = {
    "jobs": {
        "profile_days": Key(int, 90, doc="a skills profile is deleted this many days after it was made or last "
                                         "renewed"),
        "reminder_days": Key(int, 7, doc="this many days before it ends, the person gets an SMS: reply 1 to keep "
                                         "the profile"),
        "follow_up_days": Key(int, 7, doc="this many days after a YES, one SMS asks whether the employer called "
                                          "(answers are counted, not kept); 0: never ask"),
        "rate_per_minute": Key(int, 0, doc="alerts of one offer sent at most this many a minute, over open hours "
                                           "only (0: as fast as the channels allow)"),
        "small_cell": Key(int, 5, doc="counts below this are hidden in the reports (and the cells that would "
                                      "give them away)"),
        "check_minutes": Key(int, 60, doc="how often `dalil serve` deletes expired profiles and sends reminders "
                                          "and follow-ups"),
    },
}
