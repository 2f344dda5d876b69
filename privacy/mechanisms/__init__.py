"""Noise mechanisms: each checks its parameters once and knows its cost and variance.

Every production draw is exact (OpenDP, `_exact.py`): counts and grid sums get the discrete
Gaussian (zCDP) or discrete Laplace (pure ε); selection is OpenDP's report-noisy-max.
"""

from .base import Mechanism, MechanismError
from .gaussian import DiscreteGaussianCounts, GaussianSums, sigma_for_rho
from .geometric import GeometricCounts
from .laplace import LaplaceSums
from .selection import select_index

__all__ = ["Mechanism", "MechanismError", "DiscreteGaussianCounts", "GaussianSums", "GeometricCounts", "LaplaceSums",
           "select_index", "sigma_for_rho"]
