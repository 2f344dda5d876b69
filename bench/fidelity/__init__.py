"""Fidelity benchmark: synthgate's models against the MST baseline (see harness.py)."""
