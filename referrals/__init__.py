"""referrals package."""
