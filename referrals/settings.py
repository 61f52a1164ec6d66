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
        "notify_caseworkers": Key(bool, True, doc="SMS each CSO's caseworker a digest \"N new referrals\" (no code, "
                                                   "no need) at a random moment in each notice window"),
        "notice_window_minutes": Key(int, 360, doc="caseworker digests go once per window, at a random moment in "
                                                   "it, never at the moment of a referral"),
        "person_sms_delay_seconds": Key(list, [30, 300], doc="[low, high]: the person's reference SMS waits a random "
                                                             "time in this range (the code is on their screen "
                                                             "already), so its send time does not date the referral"),
        "sms_held_by_csos": Key(bool, False, doc="true only where the SMS channel (the SMSSync phone) is held by the "
                                                  "CSOs, not the operator: the person's SMS then also names the "
                                                  "organisation and its public contact"),
        "ask_optional_questions": Key(bool, False, doc="also ask nationality, situation and (over SMS) a free-text "
                                                       "note. The USSD aggregator and the SMS provider see every "
                                                       "key pressed and every word: turn on only with "
                                                       "sms_held_by_csos and an aggregator the CSOs trust"),
        "small_cell": Key(int, 5, doc="report values under this are hidden (0 to 4 look the same); the rest are "
                                      "randomly rounded to 5"),
        "municipality_token": Key(str, "", doc="bearer token of the municipality role (reports only); "
                                                "use env:NAME; empty disables the role"),
        "coordinator_token": Key(str, "", doc="bearer token of the CSO coordinator role (the CSO registry); "
                                               "use env:NAME; empty disables the role"),
        "coordinator_key": Key(str, "", doc="the CSO network coordinator's public key, the line `dalil coordinator "
                                            "keygen` printed; CSO registrations must carry its signature"),
        "log_origin": Key(str, "dalil.local/referrals",
                          doc="the transparency log's name: the first line of its checkpoints and the name of the "
                              "gateway's checkpoint key (no spaces or '+'); desks pin it at connect"),
        "checkpoint_minutes": Key(float, 10.0, doc="how often a checkpoint of the log is signed (by `dalil serve`, or "
                                                   "at a desk's sync once the last is this old; only if the log "
                                                   "grew; 0: at every desk sync): a head per event would time "
                                                   "each referral"),
        "hold_until_cosigned": Key(bool, False, doc="hand a referral to its CSO's desk only once a checkpoint "
                                                    "covering its \"created\" entry is cosigned by a desk"),
    },
}
