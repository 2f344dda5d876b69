"""The release gate's privacy boundary: every figure that can decide is a noisy, charged query.

A RELEASE/HOLD decision, its exit code and the folder it lands in are outputs like any other: a
decision made on exact figures leaks (one added row flipped it in 3 of 12 seeds under the old
gate). `PrivateChecks` holds the training rows' codes, the two check samples (training and holdout,
drawn with the run's secret, see pipeline/split.py) and per-column counts found while encoding;
its only reads are the noisy queries below, each charged to the accountant under `gate:<check>`
*before* the data is touched, with noise calibrated to the stated sensitivity.

Sensitivities (one individual owns at most `contribution` = k rows on one side of the split):
- `row_counts`: (training rows, holdout rows): an individual sits on one side, so the vector moves
  by at most k in L1 and L2.
- `side_hits`: rows of each check sample that meet a public predicate (the predicate may depend on
  the synthetic table, itself a DP output). Adding an individual puts at most k rows into one
  sample and pushes at most k out (the samples keep a fixed number of lowest priorities), so each
  count moves by at most k, and only one side moves.
- `l1_deviation`: Σ over the given marginals and cells of |N_cell − n·q_cell|, with q public
  (the synthetic table's shares): one row moves one N by 1 and n by 1, so each marginal moves by at
  most 2, the sum by 2·k·(number of marginals); rounded to an integer, +1. `codes` may be a
  bottom-k sample of the training rows by secret priority (fixed cost on long tables): a neighbour
  then swaps a row in and one out (one N up by 1, one down by 1, n fixed), again at most 2 a marginal.
- `column_counts`: a count per column (rows clamped to DP bounds, rows in `__other__`): a row adds
  at most 1 to each (or, over a bottom-k sample, swaps in for one row), so k·√c in L2 (k·c in L1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .accountant import Accountant
from .domain import Domain
from .mechanisms import DiscreteGaussianCounts, GeometricCounts, Mechanism

__all__ = ["NoisyCounts", "PrivateChecks", "SamplePredicate"]

SamplePredicate = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class NoisyCounts:
    """One gate query's noisy answer: its values, the noise's standard deviation, and what it cost."""

    label: str
    names: tuple[str, ...]
    values: tuple[float, ...]
    stddev: float
    sensitivity: float
    cost: float

    def __getitem__(self, name: str) -> float:
        return self.values[self.names.index(name)]

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "names": list(self.names), "values": list(self.values), "stddev": self.stddev,
                "sensitivity": self.sensitivity, "cost": self.cost}


class PrivateChecks:
    """Training codes and check samples behind noisy, charged queries. No public accessor to the rows."""

    def __init__(self, *, codes: np.ndarray, domain: Domain, train_sample: pd.DataFrame,
                 holdout_sample: pd.DataFrame, n_holdout: int, column_counts: Mapping[str, Mapping[str, int]],
                 accountant: Accountant, contribution: int = 1, n_train: int | None = None) -> None:
        """`codes`: the training rows, or a bottom-k sample of them by secret priority (then `n_train`
        is the number of all of them)."""
        if codes.ndim != 2 or codes.shape[1] != len(domain.columns):
            raise ValueError("codes must be a 2-d array with one column per domain column")
        if isinstance(contribution, bool) or not (isinstance(contribution, int | np.integer) and contribution >= 1):
            raise ValueError("contribution must be a positive whole number of rows per individual")
        if n_train is not None and n_train < codes.shape[0]:
            raise ValueError("n_train counts every training row: it cannot be below the rows in codes")
        self.__codes = codes
        self.__n_train = codes.shape[0] if n_train is None else int(n_train)
        self.__train_sample = train_sample
        self.__holdout_sample = holdout_sample
        self.__n_holdout = int(n_holdout)
        self.__column_counts = {name: dict(counts) for name, counts in column_counts.items()}
        self._domain = domain
        self._accountant = accountant
        self._k = int(contribution)
        self.__exact: dict[str, tuple[float, ...]] = {}

    @property
    def contribution(self) -> int:
        return self._k

    def exact_for_report(self) -> dict[str, list[float]]:
        """The exact answers of the queries made so far: for the INTERNAL report only, never for a
        decision, the manifest, stdout or --json."""
        return {label: list(values) for label, values in self.__exact.items()}

    def stddev(self, cost: float, *, l2: float, l1: float) -> float:
        """Public: the noise a query of this cost and sensitivity gets (reads no data)."""
        return self._mechanism(cost, l2=l2, l1=l1).stddev

    def row_counts(self, *, cost: float) -> NoisyCounts:
        """Noisy (training rows, holdout rows)."""
        return self._answer("gate:rows", ("train", "holdout"), cost, l2=self._k, l1=self._k,
                            exact=lambda: np.array([self.__n_train, self.__n_holdout]))

    def side_hits(self, name: str, predicate: SamplePredicate, *, cost: float, first: int,
                  sides: Sequence[str] = ("train", "holdout")) -> NoisyCounts:
        """Noisy number of rows, among the `first` rows (by secret priority) of each check sample,
        for which the public `predicate` is true. `first` must be public (e.g. from noisy counts)."""
        samples = {"train": self.__train_sample, "holdout": self.__holdout_sample}
        if not sides or set(sides) - set(samples):
            raise ValueError("sides must name 'train' and/or 'holdout'")
        if first < 1:
            raise ValueError("side_hits needs first >= 1")

        def exact() -> np.ndarray:
            counts = []
            for side in sides:
                frame = samples[side].iloc[:first]
                hits = np.asarray(predicate(frame), dtype=bool) if len(frame) else np.zeros(0, bool)
                if hits.shape != (len(frame),):
                    raise ValueError(f"gate:{name}: the predicate must give one boolean per row")
                counts.append(int(hits.sum()))
            return np.array(counts)

        return self._answer(f"gate:{name}", tuple(sides), cost, l2=self._k, l1=self._k, exact=exact)

    def l1_deviation(self, name: str, marginals: Sequence[Sequence[str]], shares: Sequence[np.ndarray], *,
                     cost: float) -> NoisyCounts:
        """Noisy Σ_marginals Σ_cells |N_cell − n·share_cell| over the training rows (rounded)."""
        if len(marginals) != len(shares) or not marginals:
            raise ValueError("l1_deviation needs one share table per marginal, and at least one marginal")
        shapes = [tuple(self._domain.size(c) for c in columns) for columns in marginals]
        for shape, share in zip(shapes, shares):
            if np.shape(share) != shape or not np.all(np.isfinite(share)) or np.any(np.asarray(share) < 0):
                raise ValueError("each share table must be finite, non-negative and shaped like its marginal")
        sensitivity = 2.0 * self._k * len(marginals) + 1.0

        def exact() -> np.ndarray:
            n = self.__codes.shape[0]
            total = 0.0
            for columns, shape, share in zip(marginals, shapes, shares):
                index = [self._domain.index(c) for c in columns]
                flat = np.ravel_multi_index(tuple(self.__codes[:, i] for i in index), shape)
                counts = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)
                total += float(np.abs(counts - n * np.asarray(share, float)).sum())
            return np.array([round(total)])

        return self._answer(f"gate:{name}", ("l1",), cost, l2=sensitivity, l1=sensitivity, exact=exact)

    def column_counts(self, name: str, *, cost: float) -> NoisyCounts:
        """Noisy per-column counts recorded under `name` (e.g. 'clamped_share', 'other_share')."""
        counts = self.__column_counts.get(name)
        if not counts:
            raise ValueError(f"no per-column counts named '{name}'")
        columns = tuple(sorted(counts))
        width = len(columns)
        return self._answer(f"gate:{name}", columns, cost, l2=self._k * float(np.sqrt(width)), l1=self._k * width,
                            exact=lambda: np.array([counts[c] for c in columns]))

    def _mechanism(self, cost: float, *, l2: float, l1: float) -> Mechanism:
        if not (np.isfinite(cost) and cost > 0):
            raise ValueError("a gate query needs a positive cost")
        if self._accountant.budget.accounting == "zcdp":
            return DiscreteGaussianCounts(rho=cost, sensitivity=l2)
        return GeometricCounts(epsilon=cost, sensitivity=l1)

    def _answer(self, label: str, names: tuple[str, ...], cost: float, *, l2: float, l1: float,
                exact: Callable[[], np.ndarray]) -> NoisyCounts:
        mechanism = self._mechanism(cost, l2=l2, l1=l1)
        self._accountant.spend(mechanism.charge(label))  # before the data is touched
        values = np.asarray(exact(), dtype=np.int64)
        self.__exact[label] = tuple(float(v) for v in values)
        noisy = mechanism.randomise(values)
        return NoisyCounts(label, names, tuple(float(v) for v in noisy), mechanism.stddev,
                           mechanism.sensitivity, cost)
