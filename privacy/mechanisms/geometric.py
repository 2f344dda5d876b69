"""Two-sided geometric (discrete Laplace) noise on integer counts: pure ε-DP.

P(k) ∝ α^|k| with α = exp(-ε/⌈Δ⌉), i.e. the discrete Laplace with scale ⌈Δ⌉/ε. Production draws
come from OpenDP's exact, vectorised discrete Laplace sampler (`_exact.py`, OS entropy); a
`random_state` (tests only) switches to diffprivlib's seeded `Geometric`, the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from diffprivlib.mechanisms import Geometric

from ..accountant import Charge
from ._exact import add_discrete_laplace
from .base import Mechanism, MechanismError

__all__ = ["GeometricCounts"]


class GeometricCounts(Mechanism):
    """ε-DP for counts whose L1 sensitivity is `sensitivity`. Integer noise, so no float attack."""

    def __init__(self, *, epsilon: float, sensitivity: float = 1.0, random_state: Any = None) -> None:
        super().__init__(sensitivity=sensitivity, random_state=random_state)
        if not (np.isfinite(epsilon) and epsilon > 0):
            raise MechanismError("GeometricCounts: epsilon must be a positive number")
        self.epsilon = float(epsilon)
        self.scale = float(np.ceil(self.sensitivity)) / self.epsilon  # discrete Laplace scale: α = exp(-1/scale)
        self._reference = None if random_state is None else Geometric(
            epsilon=self.epsilon, sensitivity=int(np.ceil(self.sensitivity)), random_state=random_state)

    def randomise(self, values: np.ndarray) -> np.ndarray:
        flat = np.asarray(values, dtype=np.int64).ravel()
        if self._reference is None:
            noisy = add_discrete_laplace(flat, scale=self.scale)
        else:
            reference = self._reference
            noisy = np.fromiter((reference.randomise(int(v)) for v in flat), dtype=np.int64, count=flat.size)
        return noisy.reshape(np.shape(values)).astype(float)

    def variance(self) -> float:
        alpha = np.exp(-self.epsilon / np.ceil(self.sensitivity))
        return float(2 * alpha / (1 - alpha) ** 2)

    def charge(self, label: str) -> Charge:
        return Charge(label, epsilon=self.epsilon)

    def tail_threshold(self, delta: float) -> int:
        """Smallest integer t >= 0 with P(noise >= t) <= delta; closed form P(noise >= t) = α^t / (1 + α).

        Public: depends on ε, the sensitivity and δ only.
        """
        if not (np.isfinite(delta) and 0 < delta < 1):
            raise MechanismError("delta must lie in (0, 1)")
        alpha = float(np.exp(-self.epsilon / np.ceil(self.sensitivity)))
        if alpha == 0.0:
            return 1
        t = max(0, int(np.ceil(np.log(delta * (1 + alpha)) / np.log(alpha))))
        while t > 0 and alpha ** (t - 1) / (1 + alpha) <= delta:  # guard against rounding up one too far
            t -= 1
        while alpha**t / (1 + alpha) > delta:  # or one too short
            t += 1
        return t
