"""What every model kind shares: fit through a PrivateTable only, sample codes with a given RNG."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from ..domain import Domain, Measurement
from ..table import PrivateTable
from .conditional import MIN_PROBABILITY, ConditionError, Conditional, Evidence, RejectionConditional
from .params import Constraint, param_problems

__all__ = ["Model", "ModelError", "probabilities_from", "row_count_from"]


class ModelError(RuntimeError):
    """A model was used out of order (sample before fit) or with an impossible budget."""


class Model(abc.ABC):
    """`fit(table, budget)` spends at most `budget` (in the table's cost unit); `sample(n, rng)`
    is post-processing of the noisy measurements and never sees raw data; `describe()` is the
    public structure that goes into the manifest.

    As in sklearn, `__init__` stores parameters as given and `fit` (or `restore`) checks them
    against `_parameter_constraints`, so a bad value fails before anything is spent."""

    kind: str = ""
    _parameter_constraints: ClassVar[Mapping[str, Constraint]] = {}

    def __init__(self) -> None:
        self.measurements_: list[Measurement] = []
        self.domain_: Domain | None = None

    def fit(self, table: PrivateTable, budget: float) -> Model:
        self._check_params()
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
        self._check_params()
        self.domain_ = None
        self.measurements_ = list(measurements)
        self._restore(domain, structure or {})
        self.domain_ = domain
        return self

    def get_params(self) -> dict[str, object]:
        """The parameters as given to `__init__` (the names in `_parameter_constraints`)."""
        return {name: getattr(self, name) for name in self._parameter_constraints}

    def _check_params(self) -> None:
        if problems := param_problems(self.get_params(), self._parameter_constraints):
            raise ModelError(f"{type(self).__name__}: " + "; ".join(problems)
                             + " (set it in the config's model section)")

    @abc.abstractmethod
    def describe(self) -> dict[str, object]:
        """Public structure chosen under DP (for the manifest); empty when a kind chooses none."""

    def structure(self) -> dict[str, object]:
        """Public choices made under DP that `restore` needs besides the measurements."""
        return self.describe()

    def _restore(self, domain: Domain, structure: dict[str, object]) -> None:
        """Estimate the model from `self.measurements_` (post-processing only)."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows of codes (n x d, int32), in domain column order."""
        if self.domain_ is None:
            raise ModelError(f"{type(self).__name__}: call fit() before sample()")
        return self._sample(int(n), rng)

    def condition(self, evidence: Evidence) -> Conditional:
        """The model's distribution given `evidence` (post-processing only: no data, no spend).

        Refuses (ConditionError) a condition the model gives a probability below MIN_PROBABILITY.
        Kinds override `_condition` with an exact method; the default is rejection."""
        if self.domain_ is None:
            raise ModelError(f"{type(self).__name__}: call fit() before condition()")
        evidence.masks(self.domain_)  # checks columns and codes before any work
        conditional = self._condition(evidence)
        if not conditional.probability >= MIN_PROBABILITY:
            raise ConditionError(f"the model gives this condition probability {conditional.probability:.2g} "
                                 f"(below {MIN_PROBABILITY:g}): the measurements say (almost) no row meets it")
        return conditional

    def _condition(self, evidence: Evidence) -> Conditional:
        domain = self.domain_
        assert domain is not None
        return RejectionConditional(evidence, self._sample, lambda rows: evidence.accepts(rows, domain))

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
    probabilities: np.ndarray = counts / total
    return probabilities


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
