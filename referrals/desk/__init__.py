"""The CSO desk: runs on the caseworker's machine with the CSO's secret key, never on the gateway.

home.py     where the desk keeps its key, its settings and its own SQLite file
store.py    that SQLite file: the opened referrals, what is waiting to be sent, the last log head seen, alerts
client.py   signed requests to the gateway and the sync (fetch, check, open, acknowledge, push status)
web.py      the local inbox, served by waitress on 127.0.0.1
"""
