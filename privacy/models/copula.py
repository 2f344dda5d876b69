"""The `copula` model: DP 1-way marginals plus a DP correlation matrix of normal scores.

Each code gets a public normal score, Φ⁻¹ of its mid-CDF under the column's *noisy* marginal
(post-processing). The table returns noisy Σ z_j z_k with each score clipped to [-c, c];
dividing by the noisy Σ z_j² corrects for the clipping. The noisy matrix is projected to the
nearest valid correlation matrix (eigenvalue clipping) before sampling: z ~ N(0, R), then each
column's code is the quantile of Φ(z) under its noisy marginal.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from ..domain import Domain
from ..table import PrivateTable
from .base import Model, ModelError, probabilities_from
from .params import Interval

__all__ = ["CopulaModel", "nearest_correlation"]

_CLIP = 2.0
_MIN_EIGENVALUE = 1e-4


class CopulaModel(Model):
    """Keeps each column's distribution and pairwise rank dependence."""

    kind = "copula"
    _parameter_constraints = {"correlation_share": Interval(0.0, 1.0, open=True)}

    def __init__(self, correlation_share: float = 0.5) -> None:
        super().__init__()
        self.correlation_share = correlation_share

    def _fit(self, table: PrivateTable, budget: float) -> None:
        if budget <= 0:
            raise ModelError("the copula model needs a positive budget")
        columns = table.domain.columns
        # With one column there is no correlation to measure: the marginal takes the whole budget.
        share = self.correlation_share if len(columns) >= 2 else 0.0
        marginal_cost = budget * (1 - share) / len(columns)
        marginals = [table.marginal([c], cost=marginal_cost) for c in columns]
        self.measurements_ = list(marginals)
        if len(columns) >= 2:
            scores = [normal_scores(probabilities_from(m.noisy_counts)) for m in marginals]
            self.measurements_.append(
                table.second_moments(columns, scores, clip=_CLIP, cost=budget * self.correlation_share))
        self._restore(table.domain, {})

    def _restore(self, domain: Domain, structure: dict[str, object]) -> None:
        d = len(domain.columns)
        self.probabilities_ = [probabilities_from(m.noisy_counts) for m in self.measurements_[:d]]
        moments = [m for m in self.measurements_ if m.kind == "moments"]
        self.correlation_ = (nearest_correlation(_matrix_from_upper(moments[0].noisy_counts, d)) if moments
                             else np.eye(d))

    def describe(self) -> dict[str, object]:
        return {}  # the correlation matrix is a measurement, not a structural choice

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        d = len(self.probabilities_)
        chol = np.linalg.cholesky(self.correlation_)
        u = norm.cdf(rng.standard_normal((n, d)) @ chol.T)
        codes = np.empty((n, d), dtype=np.int32)
        for j, p in enumerate(self.probabilities_):
            cumulative = np.cumsum(p)
            cumulative[-1] = 1.0
            codes[:, j] = np.searchsorted(cumulative, u[:, j], side="right").clip(0, p.size - 1)
        return codes


def normal_scores(probabilities: np.ndarray) -> np.ndarray:
    """Φ⁻¹ of each code's mid-CDF; public because the probabilities are noisy (post-processing)."""
    cumulative = np.cumsum(probabilities)
    mid = np.clip(cumulative - probabilities / 2, 1e-6, 1 - 1e-6)
    scores: np.ndarray = norm.ppf(mid)
    return scores


def nearest_correlation(moments: np.ndarray) -> np.ndarray:
    """Turn noisy second moments into a positive-definite correlation matrix."""
    diagonal = np.clip(np.diag(moments), 1e-9, None)
    scale = 1.0 / np.sqrt(diagonal)
    corr = np.clip(moments * np.outer(scale, scale), -1, 1)
    np.fill_diagonal(corr, 1.0)
    values, vectors = np.linalg.eigh((corr + corr.T) / 2)
    fixed = vectors @ np.diag(np.clip(values, _MIN_EIGENVALUE, None)) @ vectors.T
    inv = 1.0 / np.sqrt(np.diag(fixed))
    correlation: np.ndarray = fixed * np.outer(inv, inv)
    return correlation


def _matrix_from_upper(values: np.ndarray, d: int) -> np.ndarray:
    matrix = np.zeros((d, d))
    matrix[np.triu_indices(d)] = values
    return matrix + np.triu(matrix, 1).T
