"""Empirical privacy audit: canary (worst-case) and population membership-inference attacks."""
