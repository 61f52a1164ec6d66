"""SQL of the referrals package."""

MIGRATIONS: list[str] = []
