"""Laplace noise on real-valued sums under pure ε (used when the run has δ = 0)."""

from __future__ import annotations

from typing import Any

import numpy as np
from diffprivlib.mechanisms import Laplace

from ..accountant import Charge
from .base import Mechanism, MechanismError

__all__ = ["LaplaceSums"]


class LaplaceSums(Mechanism):
    """ε-DP for a real vector with L1 sensitivity `sensitivity`.

    diffprivlib's Laplace builds each draw from four uniforms (Holohan & Braghin 2021), which
    resists the floating-point attack on textbook Laplace; draws come from its secure RNG.
    """

    def __init__(self, *, epsilon: float, sensitivity: float, random_state: Any = None) -> None:
        super().__init__(sensitivity=sensitivity, random_state=random_state)
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise MechanismError("LaplaceSums: epsilon must be a positive number")
        self.epsilon = float(epsilon)
        self._mechanism = Laplace(epsilon=self.epsilon, sensitivity=self.sensitivity, random_state=random_state)

    def randomise(self, values: np.ndarray) -> np.ndarray:
        flat = np.asarray(values, dtype=float).ravel()
        noisy = np.fromiter((self._mechanism.randomise(float(v)) for v in flat), dtype=float, count=flat.size)
        return noisy.reshape(np.shape(values))

    def variance(self) -> float:
        return 2 * (self.sensitivity / self.epsilon) ** 2

    def charge(self, label: str) -> Charge:
        return Charge(label, epsilon=self.epsilon)
