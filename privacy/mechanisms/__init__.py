"""Noise mechanisms: each checks its parameters once and knows its cost and variance."""

from .base import Mechanism, MechanismError
from .gaussian import DiscreteGaussianCounts, GaussianSums, sigma_for_rho
from .geometric import GeometricCounts
from .laplace import LaplaceSums

__all__ = ["Mechanism", "MechanismError", "DiscreteGaussianCounts", "GaussianSums", "GeometricCounts", "LaplaceSums", "sigma_for_rho"]
