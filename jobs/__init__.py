"""Skills profiles and job alerts: job seekers registered by what they can do, matched to offers, their number
shared with an employer only after a YES (docs/jobs.md).

Modules: ``taxonomy`` (trades, levels, travel, availability), ``profiles`` (a person's profile, keyed by the
contact key, the number sealed), ``offers`` (what staff enter, checked against the screen and segment budget),
``matching`` (which profiles an offer reaches, the alerts, YES/NO and the follow-up), ``report`` (counts with small
cells hidden), ``flow_actions`` and ``keywords`` (the two ways in), ``console`` (pages), ``cli``, ``runtime`` (the
expiry, reminder and follow-up job), ``store`` (all the SQL).
"""
