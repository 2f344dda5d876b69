"""The exponential mechanism as exact report-noisy-max (OpenDP `make_noisy_max`).

Picks the index of the largest utility after adding independent noise of scale 2Δ/ε to each:
- under zCDP (cost ρ, ε = sqrt(8ρ)) the noise is Gumbel, which makes this exactly the exponential
  mechanism, P(i) ∝ exp(ε·u_i / (2Δ)) (the Gumbel-max trick), and ε²/8 = ρ-zCDP (Cesar & Rogers 2021);
- under pure ε the noise is exponential (report-noisy-max with exponential noise, equivalent to
  permute-and-flip, McKenna & Sheldon 2020): ε-DP at the same scale, never less accurate.
OpenDP turns each float utility into an exact rational and samples and compares the noisy scores
exactly, so selection draws no float noise. What is not exact: the utilities themselves are float64
sums (L1 distances from public estimates), whose rounding (relative 1e-16 per term) is not part of
the sensitivity bound. Before drawing, OpenDP's own privacy map at Δ is checked against the charge.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from ._exact import report_noisy_max
from .base import MechanismError

__all__ = ["select_index"]


def select_index(utility: Sequence[float] | np.ndarray, *, cost: float, unit: Literal["rho", "epsilon"],
                 sensitivity: float) -> int:
    """Index chosen by the exponential mechanism at `cost` (ρ or ε, per `unit`) for utilities whose
    L∞ sensitivity is `sensitivity`. The caller charges `cost`; this spends nothing itself."""
    if not (np.isfinite(cost) and cost > 0):
        raise MechanismError("select_index: cost must be a positive number")
    if not (np.isfinite(sensitivity) and sensitivity > 0):
        raise MechanismError("select_index: sensitivity must be a positive number")
    epsilon = float(np.sqrt(8 * cost)) if unit == "rho" else float(cost)
    return report_noisy_max(np.asarray(utility, dtype=float), scale=2 * float(sensitivity) / epsilon,
                            measure=unit, sensitivity=float(sensitivity), cost=float(cost))
