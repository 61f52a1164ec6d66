"""Polls and consultations: anonymous questions to residents and migrants over USSD and SMS.

Modules: ``model`` (a poll as data, parsed), ``screens`` (what a respondent reads, matching replies, the checks
that keep a poll from opening), ``lifecycle`` (create, open, close, the SMS invitation), ``answers`` (once per
person, counters, the sealed request for the result SMS), ``results`` (suppressed tables, the headline, CSV),
``flow_actions`` and ``keywords`` (the two ways in), ``console`` (pages), ``cli``, ``runtime`` (the closing
job), ``store`` (all the SQL).
"""
