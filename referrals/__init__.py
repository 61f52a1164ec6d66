"""Referrals: a person on a basic phone asks a civil-society organisation (CSO) for help, and the gateway that
carries the request cannot read it. The privacy model is in docs/design.md; the module map and the
decisions are in docs/referrals.md."""
