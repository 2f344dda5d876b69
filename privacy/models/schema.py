"""The `schema` model: public config only (ε = 0). Uniform over each column's public domain."""

from __future__ import annotations

import numpy as np

from ..table import PrivateTable
from .base import Model, ModelError
from .conditional import Conditional, Evidence, RestrictedConditional

__all__ = ["SchemaModel"]


class SchemaModel(Model):
    """For previews and code development: right types and domains, no information from the data."""

    kind = "schema"

    def _fit(self, table: PrivateTable, budget: float) -> None:
        if budget != 0:
            raise ModelError("the schema model spends no budget; give it budget 0")

    def describe(self) -> dict[str, object]:
        return {}  # no structure: nothing is chosen

    def _condition(self, evidence: Evidence) -> Conditional:
        assert self.domain_ is not None
        uniform = [np.full(size, 1.0 / size) for size in self.domain_.sizes]
        return RestrictedConditional(evidence, self.domain_, uniform)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        assert self.domain_ is not None
        return np.column_stack([rng.integers(0, size, n) for size in self.domain_.sizes]).astype(np.int32)
