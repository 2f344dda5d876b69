"""One validated base for the noise mechanisms that add calibrated noise to counts and sums."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from ..accountant import Charge

__all__ = ["Mechanism", "MechanismError"]


class MechanismError(ValueError):
    """A mechanism was built with parameters that give no privacy guarantee."""


class Mechanism(abc.ABC):
    """Adds noise calibrated to a sensitivity.

    Production (`random_state` None): OpenDP's exact samplers (`_exact.py`), fed by the operating
    system's entropy; no seed can reach them. With a `random_state` (tests only, so that contract
    tests are repeatable) the draws come instead from diffprivlib's sampler for the same
    distribution, seeded by it: that is the reference the calibration tests compare OpenDP against.
    Run code never passes `random_state`.
    """

    def __init__(self, *, sensitivity: float, random_state: Any = None) -> None:
        if not (np.isfinite(sensitivity) and sensitivity > 0):
            raise MechanismError(f"{type(self).__name__}: sensitivity must be a positive number")
        self.sensitivity = float(sensitivity)
        self._random_state = random_state

    @abc.abstractmethod
    def randomise(self, values: np.ndarray) -> np.ndarray:
        """Return `values` plus independent noise, one draw per element."""

    @abc.abstractmethod
    def variance(self) -> float:
        """Closed-form variance of the noise: used by tests and to weight measurements."""

    @abc.abstractmethod
    def charge(self, label: str) -> Charge:
        """What one call of `randomise` costs, for the accountant."""

    @property
    def stddev(self) -> float:
        return float(np.sqrt(self.variance()))
