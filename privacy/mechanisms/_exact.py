"""Exact, vectorised noise from OpenDP: the production source of every noise draw.

OpenDP (Rust) samples the discrete Gaussian (Canonne, Kamath, Steinke 2020) and the discrete
Laplace (two-sided geometric) with exact rational arithmetic, from the operating system's
entropy: no seed reaches it. Noise is drawn for a whole vector in one call, on a vector of zeros,
and added here in int64 with an explicit range check, because OpenDP's integer addition
saturates at the int64 limits without telling anyone.

OpenDP's `make_noisy_max` casts each float score to an exact rational and compares noisy scores
exactly (Gumbel noise under zCDP, which is the exponential mechanism; exponential noise under pure
ε, which is permute-and-flip). Its own privacy map is checked against the charge before it runs.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import opendp.prelude as dp

from .base import MechanismError

__all__ = ["add_discrete_gaussian", "add_discrete_laplace", "discrete_gaussian_noise", "discrete_laplace_noise",
           "report_noisy_max", "INT_LIMIT"]

dp.enable_features("contrib")  # OpenDP gates its noise constructors behind this flag

INT_LIMIT = 2**61  # |value| and |noise| stay below this, so their int64 sum can never overflow
_INTS = "i64"


def _draw(kind: Literal["gaussian", "laplace"], n: int, scale: float) -> np.ndarray:
    if not (np.isfinite(scale) and scale > 0):
        raise MechanismError("noise scale must be a positive number")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if kind == "gaussian":
        space = dp.vector_domain(dp.atom_domain(T=_INTS)), dp.l2_distance(T=_INTS)
        measurement = dp.m.make_gaussian(*space, scale=float(scale))
    else:
        space = dp.vector_domain(dp.atom_domain(T=_INTS)), dp.l1_distance(T=_INTS)
        measurement = dp.m.make_laplace(*space, scale=float(scale))
    noise = np.asarray(measurement([0] * n), dtype=np.int64)
    if noise.size and int(np.abs(noise).max()) >= INT_LIMIT:
        # Only a saturated draw gets here (probability ~0 at any scale this code uses): refuse it.
        raise MechanismError("noise draw reached the int64 range limit; lower the noise scale")
    return noise


def discrete_gaussian_noise(n: int, *, scale: float) -> np.ndarray:
    """n independent draws of the discrete Gaussian with P(k) ∝ exp(-k²/(2·scale²)), as int64."""
    return _draw("gaussian", n, scale)


def discrete_laplace_noise(n: int, *, scale: float) -> np.ndarray:
    """n independent draws of the discrete Laplace with P(k) ∝ exp(-|k|/scale), as int64."""
    return _draw("laplace", n, scale)


def _add(values: np.ndarray, noise: np.ndarray) -> np.ndarray:
    if values.size and int(np.abs(values).max()) >= INT_LIMIT:
        raise MechanismError("values must lie within ±2^61 for exact int64 noise (got a larger magnitude)")
    noisy: np.ndarray = values + noise
    return noisy


def add_discrete_gaussian(values: np.ndarray, *, scale: float) -> np.ndarray:
    """`values` (int64, flat) plus exact discrete Gaussian noise, checked against int64 overflow."""
    return _add(values, discrete_gaussian_noise(values.size, scale=scale))


def add_discrete_laplace(values: np.ndarray, *, scale: float) -> np.ndarray:
    """`values` (int64, flat) plus exact discrete Laplace noise, checked against int64 overflow."""
    return _add(values, discrete_laplace_noise(values.size, scale=scale))


def report_noisy_max(utility: np.ndarray, *, scale: float, measure: Literal["epsilon", "rho"],
                     sensitivity: float, cost: float) -> int:
    """Index of the largest `utility` after exact noise of `scale`. Refuses to run unless OpenDP's
    privacy map, at this L∞ `sensitivity` (utilities may move either way), is within `cost`."""
    scores = [float(u) for u in np.asarray(utility, dtype=float).ravel()]
    if not scores or not all(np.isfinite(scores)):
        raise MechanismError("report_noisy_max needs at least one finite score")
    output = dp.max_divergence() if measure == "epsilon" else dp.zero_concentrated_divergence()
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.linf_distance(T=float, monotonic=False)
    measurement = dp.m.make_noisy_max(*space, output, scale=float(scale))
    certified = float(measurement.map(float(sensitivity)))  # type: ignore[no-untyped-call]
    if certified > cost * (1 + 1e-9):
        raise MechanismError(f"selection would cost {measure}={certified:g}, more than the {cost:g} charged")
    return int(measurement(scores))
