"""The privacy boundary: the only reads of the training data are noisy, charged queries.

Models receive a `PrivateTable`. Each query spends its cost through the accountant *before*
the data is touched, then returns a `Measurement` with calibrated noise. The unit of `cost`
follows the run's accounting: ρ (zCDP, discrete Gaussian noise) when δ > 0, ε (pure DP,
geometric/Laplace noise) when δ = 0.

Neighbouring tables differ by adding or removing one row, so a histogram has L1 and L2
sensitivity 1: each row falls in exactly one cell of every marginal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .accountant import Accountant
from .domain import Domain, Measurement
from .mechanisms import DiscreteGaussianCounts, GaussianSums, GeometricCounts, LaplaceSums, Mechanism

__all__ = ["PrivateTable"]


class PrivateTable:
    """Encoded training rows behind noisy queries. Holds no public accessor to the rows."""

    def __init__(self, codes: np.ndarray, domain: Domain, accountant: Accountant) -> None:
        if codes.ndim != 2 or codes.shape[1] != len(domain.columns):
            raise ValueError("codes must be a 2-d array with one column per domain column")
        if not np.issubdtype(codes.dtype, np.integer):
            raise ValueError("codes must be integers")
        if codes.shape[0]:
            # A code outside its column's range would fail a query after it was charged, or (negative)
            # silently index the wrong score. Names the column only, never a value.
            low, high = codes.min(axis=0), codes.max(axis=0)
            for j, column in enumerate(domain.columns):
                if low[j] < 0 or high[j] >= domain.sizes[j]:
                    raise ValueError(f"codes for column '{column}' fall outside [0, {domain.sizes[j]})")
        self.__codes = codes
        self._domain = domain
        self._accountant = accountant

    @property
    def domain(self) -> Domain:
        return self._domain

    @property
    def cost_unit(self) -> str:
        """'rho' under zCDP accounting, 'epsilon' under pure ε."""
        return "rho" if self._accountant.budget.accounting == "zcdp" else "epsilon"

    def marginal(self, columns: Sequence[str], *, cost: float, label: str | None = None) -> Measurement:
        """Noisy counts of every cell of `columns`. Charges `cost` to the accountant first."""
        columns = tuple(columns)
        sub = self._domain.project(columns)
        mechanism = self._count_mechanism(cost)
        label = label or "marginal:" + ",".join(columns)
        self._accountant.spend(mechanism.charge(label))
        counts = self._exact_counts(columns, sub)
        noisy = mechanism.randomise(counts)
        return Measurement(columns, noisy, mechanism.stddev, label, sub.sizes)

    def second_moments(
        self, columns: Sequence[str], scores: Sequence[np.ndarray], *, clip: float, cost: float, label: str | None = None
    ) -> Measurement:
        """Noisy Σ z_j·z_k over rows, where z_j = scores[j][code] clipped to [-clip, clip].

        The scores must be public (e.g. derived from earlier noisy marginals). Clipping here
        bounds each row's contribution to every entry by clip², which fixes the sensitivity.
        Returns the upper triangle including the diagonal, in row-major order.
        """
        columns = tuple(columns)
        if len(scores) != len(columns) or not clip > 0:
            raise ValueError("need one score table per column and a positive clip")
        index = [self._domain.index(c) for c in columns]
        for c, table in zip(columns, scores):
            if len(table) != self._domain.size(c):
                raise ValueError(f"score table for '{c}' must have one entry per code")
            if not np.all(np.isfinite(np.asarray(table, float))):
                # A NaN score survives clipping and turns every sum it touches into NaN, noise or
                # not: that would reveal, exactly, whether any row holds that code.
                raise ValueError(f"score table for '{c}' must be finite")
        n_entries = len(columns) * (len(columns) + 1) // 2
        if self.cost_unit == "rho":
            mechanism: Mechanism = GaussianSums(rho=cost, sensitivity=clip**2 * np.sqrt(n_entries))
        else:
            mechanism = LaplaceSums(epsilon=cost, sensitivity=clip**2 * n_entries)
        label = label or "moments:" + ",".join(columns)
        self._accountant.spend(mechanism.charge(label))
        z = np.column_stack([np.clip(np.asarray(s, float), -clip, clip)[self.__codes[:, i]]
                             for s, i in zip(scores, index)])
        upper = np.triu_indices(len(columns))
        sums = (z.T @ z)[upper]
        noisy = mechanism.randomise(sums)
        return Measurement(columns, noisy, mechanism.stddev, label, (n_entries,))

    def _count_mechanism(self, cost: float) -> Mechanism:
        if self.cost_unit == "rho":
            return DiscreteGaussianCounts(rho=cost)
        return GeometricCounts(epsilon=cost)

    def _exact_counts(self, columns: tuple[str, ...], sub: Domain) -> np.ndarray:
        if not columns:
            return np.array([self.__codes.shape[0]], dtype=np.int64)
        index = [self._domain.index(c) for c in columns]
        flat = np.ravel_multi_index(tuple(self.__codes[:, i] for i in index), sub.sizes)
        return np.bincount(flat, minlength=sub.n_cells).reshape(sub.sizes)
