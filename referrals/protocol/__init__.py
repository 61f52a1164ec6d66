"""The referral protocol, as both the gateway and the CSO desk speak it: sealed envelopes (sealing), the
transparency log's entries (events), Merkle proofs (merkle), signed notes and checkpoints (note), the
coordinator's registrations (registry), witness cosignatures (witness), signed desk requests (desk_auth), a CSO's
key file (cso_keys), erasure-notice matching (erasure_match) and UTC days (days).

Nothing here imports gateway/ or the gateway's side of referrals/ (SQL, the app, the CLI): the desk, which must
never run the gateway's code, imports only this package (tests/test_layers.py checks it in a fresh interpreter).
"""
