"""Referral loops: two-way referrals between members and the county hospital, followed to their end."""
