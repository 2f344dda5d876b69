"""Gaussian noise calibrated to zCDP: σ = Δ₂ / sqrt(2ρ) gives ρ-zCDP (Bun & Steinke 2016).

Counts get the discrete Gaussian (Canonne, Kamath, Steinke 2020). Real-valued sums must lie on a
public grid (integer multiples of `grid`, e.g. quantized scores' products): they are noised as
integers on that grid with the discrete Gaussian of scale σ/grid, which is ρ-zCDP for the grid-scaled
sensitivity Δ₂/grid, i.e. the same ρ, and the result is scaled back. The discrete Gaussian on an
integer vector with L2 sensitivity Δ is Δ²/(2σ²)-zCDP (CKS20, Thm. 14), so no float noise is drawn.

Production draws come from OpenDP (`_exact.py`): exact rational arithmetic, vectorised, OS entropy.
A `random_state` (tests only) switches to diffprivlib's seeded reference samplers instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from diffprivlib.mechanisms import Gaussian, GaussianDiscrete

from ..accountant import Charge
from ._exact import add_discrete_gaussian
from .base import Mechanism, MechanismError

__all__ = ["DEFAULT_GRID", "DiscreteGaussianCounts", "GaussianSums", "discrete_gaussian_variance", "on_grid",
           "randomise_on_grid", "sigma_for_rho"]

DEFAULT_GRID = 2.0**-20  # public resolution of noisy sums: the product grid of scores quantized to 2^-10
_EXACT_SUM_LIMIT = 2**53  # integers on the grid stay exactly representable as float64 below this


def sigma_for_rho(rho: float, l2_sensitivity: float) -> float:
    if not (np.isfinite(rho) and rho > 0):
        raise MechanismError("rho must be a positive number")
    return float(l2_sensitivity / np.sqrt(2 * rho))


def discrete_gaussian_variance(sigma: float) -> float:
    """Exact variance of the discrete Gaussian with parameter σ: below σ² for small σ, and equal
    to σ² in float64 from σ ≈ 2 on (the gap is of order σ²·exp(-2π²σ²))."""
    if sigma >= 100:
        return sigma**2
    support = np.arange(-int(12 * sigma) - 2, int(12 * sigma) + 3)
    weights = np.exp(-(support.astype(float) ** 2) / (2 * sigma**2))
    return float(np.sum(weights * support**2) / np.sum(weights))


class _ScaledDiscreteGaussian(GaussianDiscrete):  # type: ignore[misc]  # diffprivlib has no type information
    """diffprivlib's discrete Gaussian sampler (the test reference), with σ set directly."""

    def __init__(self, *, scale: float, random_state: Any = None) -> None:
        super().__init__(epsilon=1.0, delta=0.5, sensitivity=1, random_state=random_state)
        self._scale = scale


class _ScaledGaussian(Gaussian):  # type: ignore[misc]  # diffprivlib has no type information
    def __init__(self, *, scale: float, random_state: Any = None) -> None:
        super().__init__(epsilon=1.0, delta=0.5, sensitivity=1.0, random_state=random_state)
        self._scale = scale


class DiscreteGaussianCounts(Mechanism):
    """ρ-zCDP for integer counts with L2 sensitivity `sensitivity` (1 for a histogram)."""

    def __init__(self, *, rho: float, sensitivity: float = 1.0, random_state: Any = None) -> None:
        super().__init__(sensitivity=sensitivity, random_state=random_state)
        self.rho = float(rho)
        self.sigma = sigma_for_rho(rho, self.sensitivity)
        self._reference = (None if random_state is None
                           else _ScaledDiscreteGaussian(scale=self.sigma, random_state=random_state))

    def randomise(self, values: np.ndarray) -> np.ndarray:
        flat = np.asarray(values, dtype=np.int64).ravel()
        if self._reference is None:
            noisy = add_discrete_gaussian(flat, scale=self.sigma)
        else:
            reference = self._reference
            noisy = np.fromiter((reference.randomise(int(v)) for v in flat), dtype=np.int64, count=flat.size)
        return noisy.reshape(np.shape(values)).astype(float)

    def variance(self) -> float:
        return discrete_gaussian_variance(self.sigma)

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


def on_grid(values: np.ndarray, grid: float, owner: str) -> np.ndarray:
    """`values` as int64 multiples of the public `grid`; refuses values off the grid or too large."""
    if not (np.isfinite(grid) and grid > 0):
        raise MechanismError(f"{owner}: grid must be a positive number")
    units = np.asarray(values, dtype=float).ravel() / grid
    if not np.all(np.isfinite(units)) or (units.size and float(np.abs(units).max()) >= _EXACT_SUM_LIMIT):
        raise MechanismError(f"{owner}: values must be finite and below 2^53 grid units")
    if not np.array_equal(units, np.rint(units)):
        raise MechanismError(f"{owner}: values must be multiples of the public grid; quantize them first")
    return units.astype(np.int64)


def randomise_on_grid(values: np.ndarray, *, grid: float, owner: str, add_exact: Callable[..., np.ndarray],
                      scale: float, reference: Any) -> np.ndarray:
    """`values` (multiples of the public `grid`) plus noise of `scale` (values' units), drawn on the grid.

    Production: `add_exact` (OpenDP, integers on the grid, scale/grid). Tests only, when `reference`
    (a seeded diffprivlib float mechanism of the same scale) is given: its draws rounded onto the grid.
    """
    units = on_grid(values, grid, owner)
    if reference is None:
        noisy = add_exact(units, scale=scale / grid)
    else:
        noise = np.fromiter((reference.randomise(0.0) for _ in range(units.size)), dtype=float, count=units.size)
        noisy = units + np.rint(noise / grid).astype(np.int64)
    return (np.asarray(noisy, dtype=float) * grid).reshape(np.shape(values))


class GaussianSums(Mechanism):
    """ρ-zCDP for a real vector on the public `grid` whose L2 sensitivity is `sensitivity`."""

    def __init__(self, *, rho: float, sensitivity: float, grid: float = DEFAULT_GRID,
                 random_state: Any = None) -> None:
        super().__init__(sensitivity=sensitivity, random_state=random_state)
        self.rho = float(rho)
        self.sigma = sigma_for_rho(rho, self.sensitivity)
        if not (np.isfinite(grid) and grid > 0):
            raise MechanismError("GaussianSums: grid must be a positive number")
        self.grid = float(grid)
        self._reference = None if random_state is None else _ScaledGaussian(scale=self.sigma, random_state=random_state)

    def randomise(self, values: np.ndarray) -> np.ndarray:
        return randomise_on_grid(values, grid=self.grid, owner=type(self).__name__, add_exact=add_discrete_gaussian,
                                 scale=self.sigma, reference=self._reference)

    def variance(self) -> float:
        return discrete_gaussian_variance(self.sigma / self.grid) * self.grid**2

    def charge(self, label: str) -> Charge:
        return Charge(label, rho=self.rho)
