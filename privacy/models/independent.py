"""The `independent` model: one DP 1-way marginal per column; columns sampled independently."""

from __future__ import annotations

import numpy as np

from ..domain import Domain
from ..table import PrivateTable
from .base import Model, ModelError, probabilities_from
from .conditional import Conditional, Evidence, RestrictedConditional

__all__ = ["IndependentModel", "sample_categorical"]


class IndependentModel(Model):
    """Keeps each column's distribution, none of the relationships. Splits its budget evenly."""

    kind = "independent"

    def _fit(self, table: PrivateTable, budget: float) -> None:
        if budget <= 0:
            raise ModelError("the independent model needs a positive budget")
        share = budget / len(table.domain.columns)
        self.measurements_ = [table.marginal([c], cost=share) for c in table.domain.columns]
        self._restore(table.domain, {})

    def _restore(self, domain: Domain, structure: dict[str, object]) -> None:
        self.probabilities_ = [probabilities_from(m.noisy_counts) for m in self.measurements_]

    def describe(self) -> dict[str, object]:
        return {}  # no structure: nothing is chosen

    def _condition(self, evidence: Evidence) -> Conditional:
        assert self.domain_ is not None
        return RestrictedConditional(evidence, self.domain_, self.probabilities_)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.column_stack([sample_categorical(p, n, rng) for p in self.probabilities_]).astype(np.int32)


def sample_categorical(probabilities: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    cumulative = np.cumsum(probabilities)
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, rng.random(n), side="right").clip(0, probabilities.size - 1)
