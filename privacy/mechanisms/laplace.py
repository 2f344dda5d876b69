"""Laplace-type noise on real-valued sums under pure ε (used when the run has δ = 0).

Sums must lie on a public grid (integer multiples of `grid`): they are noised as integers on that
grid with the discrete Laplace of scale (Δ₁/ε)/grid, which is ε-DP for the grid-scaled L1
sensitivity Δ₁/grid (Ghosh, Roughgarden, Sundararajan 2012), and scaled back. No float noise is
drawn, so the floating-point attack on textbook Laplace (Mironov 2012) has nothing to work on.

Production draws come from OpenDP (`_exact.py`); a `random_state` (tests only) switches to
diffprivlib's seeded `Laplace` (Holohan & Braghin 2021), rounded onto the grid: the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from diffprivlib.mechanisms import Laplace

from ..accountant import Charge
from ._exact import add_discrete_laplace
from .base import Mechanism, MechanismError
from .gaussian import DEFAULT_GRID, randomise_on_grid

__all__ = ["LaplaceSums"]


class LaplaceSums(Mechanism):
    """ε-DP for a real vector on the public `grid` with L1 sensitivity `sensitivity`."""

    def __init__(self, *, epsilon: float, sensitivity: float, grid: float = DEFAULT_GRID,
                 random_state: Any = None) -> None:
        super().__init__(sensitivity=sensitivity, random_state=random_state)
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise MechanismError("LaplaceSums: epsilon must be a positive number")
        if not (np.isfinite(grid) and grid > 0):
            raise MechanismError("LaplaceSums: grid must be a positive number")
        self.epsilon = float(epsilon)
        self.grid = float(grid)
        self.scale = self.sensitivity / self.epsilon  # in the values' units; /grid on the grid
        self._reference = None if random_state is None else Laplace(
            epsilon=self.epsilon, sensitivity=self.sensitivity, random_state=random_state)

    def randomise(self, values: np.ndarray) -> np.ndarray:
        return randomise_on_grid(values, grid=self.grid, owner=type(self).__name__, add_exact=add_discrete_laplace,
                                 scale=self.scale, reference=self._reference)

    def variance(self) -> float:
        # Discrete Laplace with α = exp(-1/t), t = scale/grid: 2α/(1-α)² grid units², ≈ 2·scale².
        alpha = np.exp(-self.grid / self.scale)
        return float(2 * alpha / np.expm1(-self.grid / self.scale) ** 2) * self.grid**2

    def charge(self, label: str) -> Charge:
        return Charge(label, epsilon=self.epsilon)
