"""Conversions between zero-concentrated DP (ρ) and (ε, δ)-DP.

Uses the bound of Canonne, Kamath and Steinke (NeurIPS 2020, Prop. 12), as private-pgm's MST
and AIM do: tighter than the textbook ε = ρ + 2·sqrt(ρ·ln(1/δ)).
"""

from __future__ import annotations

import math

__all__ = ["delta_from_rho", "epsilon_from_rho", "rho_from_epsilon"]

_ITERATIONS = 200


def delta_from_rho(rho: float, epsilon: float) -> float:
    """Smallest δ such that ρ-zCDP implies (ε, δ)-DP."""
    if rho < 0 or epsilon < 0:
        raise ValueError("rho and epsilon must be non-negative")
    if rho == 0:
        return 0.0
    low, high = 1.01, (epsilon + 1) / (2 * rho) + 2
    for _ in range(_ITERATIONS):
        alpha = (low + high) / 2
        derivative = (2 * alpha - 1) * rho - epsilon + math.log1p(-1.0 / alpha)
        if derivative < 0:
            low = alpha
        else:
            high = alpha
    alpha = (low + high) / 2
    exponent = (alpha - 1) * (alpha * rho - epsilon) + alpha * math.log1p(-1 / alpha)
    delta = math.exp(min(exponent, 700.0)) / (alpha - 1.0)
    return min(delta, 1.0)


def epsilon_from_rho(rho: float, delta: float) -> float:
    """Smallest ε such that ρ-zCDP implies (ε, δ)-DP."""
    if not 0 < delta < 1:
        raise ValueError("delta must lie in (0, 1)")
    if rho <= 0:
        return 0.0
    low, high = 0.0, rho + 2 * math.sqrt(rho * math.log(1 / delta))
    for _ in range(_ITERATIONS):
        epsilon = (low + high) / 2
        if delta_from_rho(rho, epsilon) <= delta:
            high = epsilon
        else:
            low = epsilon
    return high


def rho_from_epsilon(epsilon: float, delta: float) -> float:
    """Largest ρ whose zCDP guarantee implies (ε, δ)-DP."""
    if epsilon <= 0 or not 0 < delta < 1:
        raise ValueError("need epsilon > 0 and delta in (0, 1)")
    low, high = 0.0, epsilon + 1
    for _ in range(_ITERATIONS):
        rho = (low + high) / 2
        if delta_from_rho(rho, epsilon) <= delta:
            low = rho
        else:
            high = rho
    return low
