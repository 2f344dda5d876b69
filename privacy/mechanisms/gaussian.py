"""Gaussian noise calibrated to zCDP: σ = Δ₂ / sqrt(2ρ) gives ρ-zCDP (Bun & Steinke 2016).

Counts get the discrete Gaussian (Canonne, Kamath, Steinke 2020), sampled exactly by
diffprivlib's `GaussianDiscrete`; real-valued sums get diffprivlib's `Gaussian` sampler.
Both draw from `secrets.SystemRandom` unless a test passes a random state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from diffprivlib.mechanisms import Gaussian, GaussianDiscrete

from ..accountant import Charge
from .base import Mechanism, MechanismError

__all__ = ["DiscreteGaussianCounts", "GaussianSums", "sigma_for_rho"]


def sigma_for_rho(rho: float, l2_sensitivity: float) -> float:
    if not (np.isfinite(rho) and rho > 0):
        raise MechanismError("rho must be a positive number")
    return float(l2_sensitivity / np.sqrt(2 * rho))


class _ScaledDiscreteGaussian(GaussianDiscrete):
    """diffprivlib's exact discrete Gaussian sampler, with σ set directly from ρ."""

    def __init__(self, *, scale: float, random_state: Any = None) -> None:
        super().__init__(epsilon=1.0, delta=0.5, sensitivity=1, random_state=random_state)
        self._scale = scale


class _ScaledGaussian(Gaussian):
    def __init__(self, *, scale: float, random_state: Any = None) -> None:
        super().__init__(epsilon=1.0, delta=0.5, sensitivity=1.0, random_state=random_state)
        self._scale = scale


class DiscreteGaussianCounts(Mechanism):
    """ρ-zCDP for integer counts with L2 sensitivity `sensitivity` (1 for a histogram)."""

    def __init__(self, *, rho: float, sensitivity: float = 1.0, random_state: Any = None) -> None:
        super().__init__(sensitivity=sensitivity, random_state=random_state)
        self.rho = float(rho)
        self.sigma = sigma_for_rho(rho, self.sensitivity)
        self._mechanism = _ScaledDiscreteGaussian(scale=self.sigma, random_state=random_state)

    def randomise(self, values: np.ndarray) -> np.ndarray:
        flat = np.asarray(values, dtype=np.int64).ravel()
        noisy = np.fromiter((self._mechanism.randomise(int(v)) for v in flat), dtype=np.int64, count=flat.size)
        return noisy.reshape(np.shape(values)).astype(float)

    def variance(self) -> float:
        # The discrete Gaussian's variance is below σ² and within 1e-12 of it for σ ≥ 1.
        support = np.arange(-int(12 * self.sigma) - 2, int(12 * self.sigma) + 3)
        weights = np.exp(-(support.astype(float) ** 2) / (2 * self.sigma**2))
        return float(np.sum(weights * support**2) / np.sum(weights))

    def charge(self, label: str) -> Charge:
        return Charge(label, rho=self.rho)

    def tail_threshold(self, delta: float) -> int:
        """Smallest integer t >= 0 with P(noise >= t) <= delta, from the exact discrete distribution.

        Thresholded releases must use this rather than σ·Φ⁻¹(1 − δ): the discrete Gaussian puts a
        whole lattice point's mass just above a continuous quantile, so P(noise > σ·z) can be
        several times δ when σ is near 1. Public: depends on σ and δ only.
        """
        if not (np.isfinite(delta) and 0 < delta < 1):
            raise MechanismError("delta must lie in (0, 1)")
        sigma2 = self.sigma**2
        # Past `half` every weight is below δ·e^-40; that mass is added back as an upper bound.
        half = int(np.ceil(self.sigma * np.sqrt(2 * np.log(1 / delta) + 80))) + 2
        support = np.arange(-half, half + 1)
        weights = np.exp(-(support.astype(float) ** 2) / (2 * sigma2))
        omitted = sigma2 / half * np.exp(-(half**2) / (2 * sigma2))  # >= the sum of weights beyond half
        tail = (np.cumsum(weights[::-1])[::-1] + omitted) / weights.sum()  # >= P(noise >= support[i])
        return int(support[np.argmax((tail <= delta) & (support >= 0))])


class GaussianSums(Mechanism):
    """ρ-zCDP for a real vector whose L2 sensitivity is `sensitivity`."""

    def __init__(self, *, rho: float, sensitivity: float, random_state: Any = None) -> None:
        super().__init__(sensitivity=sensitivity, random_state=random_state)
        self.rho = float(rho)
        self.sigma = sigma_for_rho(rho, self.sensitivity)
        self._mechanism = _ScaledGaussian(scale=self.sigma, random_state=random_state)

    def randomise(self, values: np.ndarray) -> np.ndarray:
        flat = np.asarray(values, dtype=float).ravel()
        noisy = np.fromiter((self._mechanism.randomise(float(v)) for v in flat), dtype=float, count=flat.size)
        return noisy.reshape(np.shape(values))

    def variance(self) -> float:
        return self.sigma**2

    def charge(self, label: str) -> Charge:
        return Charge(label, rho=self.rho)
