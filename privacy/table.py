"""The privacy boundary: the only reads of the training data are noisy, charged queries.

Models receive a `PrivateTable`. Each query spends its cost through the accountant *before*
the data is touched, then returns a `Measurement` with calibrated noise. The unit of `cost`
follows the run's accounting: ρ (zCDP, discrete Gaussian noise) when δ > 0, ε (pure DP,
geometric/Laplace noise) when δ = 0.

Neighbouring tables differ by adding or removing one individual, who owns at most `contribution`
rows (1 unless the config names a `role: unit` column, whose rows were bounded at load). Each row
falls in exactly one cell of every marginal, so a histogram's L1 and L2 sensitivity is
`contribution`, and every mechanism here is calibrated to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .accountant import Accountant, Charge
from .counts import ArrayCounts, CodeCounts, SummedCounts
from .domain import Domain, Measurement
from .mechanisms import DiscreteGaussianCounts, GaussianSums, GeometricCounts, LaplaceSums, Mechanism, select_index

__all__ = ["PrivateTable"]

# Scores for `second_moments` are rounded to multiples of 2^-_SCORE_BITS (public), so the sums are
# exact integers on the 2^-2·_SCORE_BITS grid and get discrete noise; rounding moves a score by at most 2^-11.
_SCORE_BITS = 10


class PrivateTable:
    """Encoded training rows behind noisy queries. Holds no public accessor to the rows."""

    def __init__(self, codes: np.ndarray | CodeCounts, domain: Domain, accountant: Accountant, *,
                 contribution: int = 1) -> None:
        """`codes`: the (n, k) integer codes in memory, or a `CodeCounts` that counts them where they
        live (e.g. on Spark); the noise is drawn here either way."""
        if isinstance(codes, np.ndarray):
            if codes.ndim != 2 or codes.shape[1] != len(domain.columns):
                raise ValueError("codes must be a 2-d array with one column per domain column")
            if not np.issubdtype(codes.dtype, np.integer):
                raise ValueError("codes must be integers")
            counter: CodeCounts = SummedCounts(ArrayCounts(codes), domain.sizes)
        else:
            if codes.n_columns != len(domain.columns):
                raise ValueError("codes must have one column per domain column")
            counter = codes
        if counter.n_rows:
            # A code outside its column's range would fail a query after it was charged, or (negative)
            # silently index the wrong score. Names the column only, never a value.
            low, high = counter.code_range()
            for j, column in enumerate(domain.columns):
                if low[j] < 0 or high[j] >= domain.sizes[j]:
                    raise ValueError(f"codes for column '{column}' fall outside [0, {domain.sizes[j]})")
        if isinstance(contribution, bool) or not (isinstance(contribution, int | np.integer) and contribution >= 1):
            raise ValueError("contribution must be a positive whole number of rows per individual")
        self.__codes = codes if isinstance(codes, np.ndarray) else None
        self.__counter = counter
        self._contribution = int(contribution)
        self._domain = domain
        self._accountant = accountant
        self.__exact: dict[tuple[object, ...], np.ndarray] = {}  # exact counts reused across selections

    @property
    def domain(self) -> Domain:
        return self._domain

    @property
    def contribution(self) -> int:
        """Rows one individual can hold: the sensitivity every query is calibrated to."""
        return self._contribution

    @property
    def cost_unit(self) -> str:
        """'rho' under zCDP accounting, 'epsilon' under pure ε."""
        return "rho" if self._accountant.budget.accounting == "zcdp" else "epsilon"

    def marginal(self, columns: Sequence[str], *, cost: float, label: str | None = None,
                 groupings: Mapping[str, np.ndarray] | None = None) -> Measurement:
        """Noisy counts of every cell of `columns`. Charges `cost` to the accountant first.

        `groupings` (public, e.g. derived from earlier noisy marginals) maps a column's codes to
        coarser groups; the counts are then over groups. Each row still falls in one cell.
        """
        columns = tuple(columns)
        sizes = self._grouped_sizes(columns, groupings)
        mechanism = self._count_mechanism(cost)
        label = label or "marginal:" + ",".join(columns)
        self._accountant.spend(mechanism.charge(label))
        counts = self._exact_counts(columns, sizes, groupings)
        noisy = mechanism.randomise(counts)
        return Measurement(columns, noisy, mechanism.stddev, label, sizes)

    def select(self, candidates: Sequence[Sequence[str]], estimates: Sequence[np.ndarray], *, cost: float,
               label: str, groupings: Mapping[str, np.ndarray] | Sequence[Mapping[str, np.ndarray]] | None = None,
               offsets: Sequence[float] | None = None) -> int:
        """Exponential mechanism: pick the candidate marginal whose true counts are farthest (L1) from
        the public `estimates` (counts of the same shape), less a public per-candidate `offset`.
        Charges `cost` first. `groupings` is one mapping for every candidate, or one per candidate
        (AIM mixes pairs over groups with triples over coarser groups).

        The L1 distance moves by at most `contribution` when an individual is added or removed, and
        the offsets are public constants, so that is the sensitivity. Under zCDP a cost ρ buys ε = sqrt(8ρ) (the
        mechanism is ε²/8-zCDP: Cesar & Rogers 2021). Sampled exactly by OpenDP's report-noisy-max
        (`mechanisms/selection.py`, which says what is and is not exact).
        """
        if len(candidates) != len(estimates) or not candidates:
            raise ValueError("select needs one estimate per candidate, and at least one candidate")
        if not (np.isfinite(cost) and cost > 0):
            raise ValueError("select needs a positive cost")
        per = list(groupings) if isinstance(groupings, Sequence) else [groupings] * len(candidates)
        if len(per) != len(candidates):
            raise ValueError("select needs one grouping per candidate when it is given a list")
        shapes = [self._grouped_sizes(tuple(c), g) for c, g in zip(candidates, per)]
        for shape, estimate in zip(shapes, estimates):
            if tuple(np.shape(estimate)) != shape or not np.all(np.isfinite(estimate)):
                raise ValueError("each estimate must be finite and shaped like its candidate's counts")
        offsets = [0.0] * len(candidates) if offsets is None else [float(o) for o in offsets]
        if len(offsets) != len(candidates) or not np.all(np.isfinite(offsets)):
            raise ValueError("select needs one finite offset per candidate")
        charge = Charge(label, rho=cost) if self.cost_unit == "rho" else Charge(label, epsilon=cost)
        self._accountant.spend(charge)  # every argument is checked above: a bad call costs nothing
        utility = [float(np.abs(self._exact_counts(tuple(c), shape, g) - e).sum()) - o
                   for c, shape, g, e, o in zip(candidates, shapes, per, estimates, offsets)]
        return select_index(utility, cost=cost, unit="rho" if self.cost_unit == "rho" else "epsilon",
                            sensitivity=float(self._contribution))

    def second_moments(
        self, columns: Sequence[str], scores: Sequence[np.ndarray], *, clip: float, cost: float, label: str | None = None
    ) -> Measurement:
        """Noisy Σ z_j·z_k over rows, where z_j = scores[j][code] clipped to [-clip, clip].

        The scores must be public (e.g. derived from earlier noisy marginals). Clipping here
        bounds each row's contribution to every entry by clip² (an individual's by contribution·clip²),
        which fixes the sensitivity. The clipped scores are then rounded to multiples of 2^-10 (public
        grid), so the sums are exact and take discrete noise (no float noise: Mironov 2012); a clip
        off the grid is rounded too, and the sensitivity uses the rounded bound.
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
        step = 2.0**-_SCORE_BITS
        bound = float(np.rint(clip / step)) * step  # public: the largest |score| once on the grid
        if self.__counter.n_rows * (bound / step) ** 2 >= 2**53:
            raise ValueError("too many rows for exact second moments on the score grid; lower the clip")
        if self.cost_unit == "rho":
            mechanism: Mechanism = GaussianSums(rho=cost, sensitivity=self._contribution * bound**2 * np.sqrt(n_entries),
                                                grid=step**2)
        else:
            mechanism = LaplaceSums(epsilon=cost, sensitivity=self._contribution * bound**2 * n_entries, grid=step**2)
        label = label or "moments:" + ",".join(columns)
        self._accountant.spend(mechanism.charge(label))
        grid = [np.rint(np.clip(np.asarray(s, float), -clip, clip) / step) for s in scores]
        # Integer-valued float64 with every partial sum below 2^53 (checked above): exact in any order.
        sums = self.__score_products(index, grid) * step**2
        noisy = mechanism.randomise(sums)
        return Measurement(columns, noisy, mechanism.stddev, label, (n_entries,), kind="moments")

    def __score_products(self, index: list[int], grid: list[np.ndarray]) -> np.ndarray:
        """Σ over rows of z_j·z_k (upper triangle, row-major), z on the integer grid: from the codes in
        memory, or else from exact one- and two-way counts (the same integers)."""
        upper = np.triu_indices(len(index))
        if self.__codes is not None:
            z = np.column_stack([g[self.__codes[:, i]] for g, i in zip(grid, index)])
            products: np.ndarray = (z.T @ z)[upper]
            return products
        sums = []
        for a, b in zip(*upper):
            if a == b:
                counts = self.__counter.counts((index[a],), (len(grid[a]),), (None,))
                sums.append(float(counts @ grid[a] ** 2))
            else:
                counts = self.__counter.counts((index[a], index[b]), (len(grid[a]), len(grid[b])), (None, None))
                sums.append(float(grid[a] @ counts @ grid[b]))
        return np.array(sums)

    def count_stddev(self, cost: float) -> float:
        """The noise's standard deviation per cell of a `marginal` at this cost. Public: reads no data."""
        return self._count_mechanism(cost).stddev

    def _count_mechanism(self, cost: float) -> Mechanism:
        if self.cost_unit == "rho":
            return DiscreteGaussianCounts(rho=cost, sensitivity=self._contribution)
        return GeometricCounts(epsilon=cost, sensitivity=self._contribution)

    def _grouped_sizes(self, columns: tuple[str, ...], groupings: Mapping[str, np.ndarray] | None) -> tuple[int, ...]:
        sizes = []
        for c in columns:
            size = self._domain.size(c)
            if groupings and c in groupings:
                group = np.asarray(groupings[c])
                if group.shape != (size,) or not np.issubdtype(group.dtype, np.integer) or group.min() < 0:
                    raise ValueError(f"grouping for '{c}' must give a non-negative integer group per code")
                size = int(group.max()) + 1
            sizes.append(size)
        return tuple(sizes)

    def _exact_counts(self, columns: tuple[str, ...], sizes: tuple[int, ...],
                      groupings: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        key = (columns, *(np.asarray(groupings[c]).tobytes() if groupings and c in groupings else b"" for c in columns))
        if key not in self.__exact:
            self.__exact[key] = self.__count(columns, sizes, groupings)
        return self.__exact[key]

    def __count(self, columns: tuple[str, ...], sizes: tuple[int, ...],
                groupings: Mapping[str, np.ndarray] | None) -> np.ndarray:
        return self.__counter.counts([self._domain.index(c) for c in columns], sizes,
                                     [np.asarray(groupings[c]) if groupings and c in groupings else None
                                      for c in columns])
