"""Config sections owned by the referrals package."""
SCHEMA: dict = {}
