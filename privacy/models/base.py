"""What every model kind shares: fit through a PrivateTable only, sample codes with a given RNG."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from ..domain import Domain, Measurement
from ..table import PrivateTable

__all__ = ["Model", "ModelError", "probabilities_from", "row_count_from"]


class ModelError(RuntimeError):
    """A model was used out of order (sample before fit) or with an impossible budget."""


class Model(abc.ABC):
    """`fit(table, budget)` spends at most `budget` (in the table's cost unit); `sample(n, rng)`
    is post-processing of the noisy measurements and never sees raw data."""

    kind: str = ""

    def __init__(self) -> None:
        self.measurements_: list[Measurement] = []
        self.domain_: Domain | None = None

    def fit(self, table: PrivateTable, budget: float) -> Model:
        if not budget >= 0:
            raise ModelError("budget must be a non-negative number")
        # Fitted state is set only once _fit succeeds, so a failed fit cannot pass for a fitted model.
        self.domain_ = None
        self.measurements_ = []
        self._fit(table, budget)
        self.domain_ = table.domain
        return self

    def restore(self, domain: Domain, measurements: Sequence[Measurement],
                structure: dict[str, object] | None = None) -> Model:
        """Rebuild a fitted model from its stored DP measurements (and public structure) with no
        data and no spend: fitting is post-processing, so the same measurements give the same model."""
        self.domain_ = None
        self.measurements_ = list(measurements)
        self._restore(domain, structure or {})
        self.domain_ = domain
        return self

    def structure(self) -> dict[str, object]:
        """Public choices made under DP that `restore` needs besides the measurements."""
        return {}

    def _restore(self, domain: Domain, structure: dict[str, object]) -> None:
        """Estimate the model from `self.measurements_` (post-processing only)."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows of codes (n x d, int32), in domain column order."""
        if self.domain_ is None:
            raise ModelError(f"{type(self).__name__}: call fit() before sample()")
        return self._sample(int(n), rng)

    @property
    def n_estimate(self) -> float | None:
        """DP estimate of the training row count, from the measurements (None if nothing measured)."""
        return row_count_from(self.measurements_)

    @abc.abstractmethod
    def _fit(self, table: PrivateTable, budget: float) -> None: ...

    @abc.abstractmethod
    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


def probabilities_from(noisy_counts: np.ndarray) -> np.ndarray:
    """Post-process noisy counts into a distribution: clip negatives, normalise, uniform if empty.

    A NaN or infinite count is a bug upstream (it once made every sampled row identical): refused."""
    counts = np.asarray(noisy_counts, float).ravel()
    if not np.all(np.isfinite(counts)):
        raise ValueError("noisy counts must be finite to become probabilities")
    counts = np.clip(counts, 0, None)
    total = counts.sum()
    if total <= 0:
        return np.full(counts.size, 1.0 / counts.size)
    return counts / total


def row_count_from(measurements: Sequence[Measurement]) -> float | None:
    """Inverse-variance average of the totals of the count measurements (each an unbiased n)."""
    totals, weights = [], []
    for m in measurements:
        if m.kind != "counts":
            continue
        cells = m.noisy_counts.size
        totals.append(float(m.noisy_counts.sum()))
        weights.append(1.0 / max(cells * m.stddev**2, 1e-12))
    if not totals:
        return None
    return float(np.dot(totals, weights) / np.sum(weights))
