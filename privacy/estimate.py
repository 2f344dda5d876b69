"""Domains under DP: bounds and category lists for columns whose config says `estimate`.

Reading min/max or the list of distinct values off the data is the most common DP bug in
peer tools. Here the exact statistics stay inside `DomainStatistics`; only noisy versions
leave it, each charged to the accountant:

- Bounds: a histogram over fixed, data-independent bins (signed powers of two for numbers,
  30-day steps from 1900 to 2100 for datetimes) gets discrete noise; the bounds are the outer
  edges of the outermost bins whose noisy count reaches a line that an empty bin's noise crosses
  with probability at most 1e-3 / (number of bins). A flat 3σ line is crossed by one of the ~150
  empty bins in a good share of releases (about 1 in 6 with Gaussian noise, 2 in 3 with
  geometric), and one such bin stretches a bound to a far power of two.
  The histogram is also kept at a finer grain (each fixed bin split into 1,024 equal cells; 64
  for datetimes). Two more noisy releases zoom in: the range found is re-binned at 1/32 and
  then 1/1024 of a fixed bin and trimmed again, each level keeping the last range whose bins
  clear the noise. A power-of-two range alone (latitude 44.9-45.1 -> [32, 64]) would put a whole
  city in one synthetic bin. The fixed-bin level costs half of the column's share, each zoom level a quarter.
  A zoom level may cut at most 1% of the range's rows, judged with one noise sd of confidence, and
  a side left on a fixed edge near zero is taken down to 0 (small values spread thin over the
  halving bins); a datetime range gets one more 30-day bin on each side (its ends fall in part-bins). On 2k-row tables at ε = 1 these two kept every median clamped share <= 5%
  (`bench/fidelity/domains.md`); the exponential-mechanism quantile over the same fine cells did
  worse there (flat at that budget: acs12 hrs_work 12%, policePrecinct 14% clamped).
- Categories: a thresholded histogram (Korolova et al. 2009; Wilson et al. 2020). Each row adds
  one to one key, noisy counts get discrete Gaussian noise σ, and only keys whose noisy count
  reaches 1 + t are released, where t is the smallest integer with P(noise >= t) <= δ_c under the
  exact discrete Gaussian, so a key held by one row is released with probability at most δ_c.
  The names are sorted, so first-seen order does not leak.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .accountant import Accountant, Charge
from .mechanisms import DiscreteGaussianCounts, GeometricCounts

__all__ = ["DomainStatistics", "EstimatedDomain", "numeric_edges", "datetime_edges", "needed_cost", "level_share_at",
           "LEVEL_SHARE"]

_POWERS = np.arange(-10, 64)
_FALSE_BIN_RATE = 1e-3  # chance that any empty bin of a column passes for an occupied one
# A run of k empty bins has a noisy sum of sd σ·sqrt(k). The walk outwards tests up to ~100 runs
# per side, so by a union bound a 5.2σ line is crossed by noise alone with probability < 1e-5 per
# side (4σ crossed about 5 in 10,000 per side: an empty tail taken in, the bounds blown wide).
_TAIL_SIGMAS = 5.2
_LEVEL_SHARES = (0.5, 0.25, 0.25)  # of a column's cost: the fixed bins decide the range, so they get most
# The first few fixed bins next to the significant core are taken in on a lower line: only 4 such runs
# per side, each crossed by one bin's noise alone with probability 5% / 8 (the mechanism's exact tail:
# about 2.5σ for the discrete Gaussian, more for the geometric's heavier tail), so noise extends a side in
# at most ~5% of releases, by at most 4 octaves. At 1% (about 3σ) the thin top octaves of a skewed column
# were left out: acs12 income at n ~ 1,300 clamped 9% in 1 release of 4; a wider range costs resolution,
# a clamped one rows. Measured at ε = 1, n ~ 1,600: bench/fidelity/domains.md.
_NEAR_BINS, _NEAR_RATE = 4, 5e-2
SUB_BINS = {"numeric": 1024, "integer": 1024, "datetime": 64}  # fine cells per fixed bin (datetime: ~11 h)
# Cells per bin at each zoom level: fixed bins, then 1/32 of a bin, then 1/1024 (datetime: 1/8, 1/64).
_ZOOM = {"numeric": (1024, 32, 1), "integer": (1024, 32, 1), "datetime": (64, 8, 1)}
# The share of rows a category level (or a fixed bounds bin) should hold to be found reliably: the
# domain split gives each estimated column the budget that makes this so, when the run can afford it.
LEVEL_SHARE = 0.05
_MARGIN_SIGMAS = 2.0  # a level at LEVEL_SHARE clears the line unless its noise falls below -2σ (~2%)
_MAX_TRIM = 0.01  # of a range's rows: the most a zoom level may cut ...
_TRIM_SDS = 1.0  # ... with this many noise sds of confidence (0.5 let the zoom cut 9% of acs12 income)
_ZERO_REACH = 0.5  # a range is extended to 0 when that widens it by at most half ([16, 64) -> [0, 64))


def _value_counts(values: pd.Series) -> dict[str, int]:
    """How many times each (non-null) value occurs, keyed by its text. A categorical column is
    counted on its integer codes, so no Python string is made per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        counts = np.bincount(values.cat.codes.to_numpy(np.int64), minlength=len(values.cat.categories))
        return {str(name): int(n) for name, n in zip(values.cat.categories, counts) if n}
    return dict(Counter(values.astype(str).tolist()))


def numeric_edges() -> np.ndarray:
    """Fixed edges: -2^63 .. -2^-10, 2^-10 .. 2^63 (the middle bin holds values near zero)."""
    positive = np.ldexp(1.0, _POWERS)
    return np.concatenate([-positive[::-1], positive])


def datetime_edges() -> np.ndarray:
    """Fixed edges in epoch seconds: 30-day steps from 1900-01-01 to 2100-01-01 (UTC)."""
    start = pd.Timestamp("1900-01-01", tz="UTC").value / 1e9
    stop = pd.Timestamp("2100-01-01", tz="UTC").value / 1e9
    return np.arange(start, stop + 30 * 86400, 30 * 86400, dtype=float)


@dataclass(frozen=True)
class EstimatedDomain:
    """What a DP domain estimate releases for one column (public from here on)."""

    column: str
    kind: str  # "bounds" or "categories"
    bounds: tuple[Any, Any] | None = None
    categories: tuple[str, ...] | None = None
    label: str = ""
    warning: str | None = None

    def as_codec_input(self) -> dict[str, Any]:
        return {"bounds": self.bounds} if self.kind == "bounds" else {"categories": self.categories}

    def to_json(self) -> dict[str, Any]:
        if self.kind == "bounds":
            low, high = self.bounds  # type: ignore[misc]
            text = [v.isoformat() if isinstance(v, pd.Timestamp) else v for v in (low, high)]
            return {"column": self.column, "kind": "bounds", "bounds": text, "warning": self.warning}
        return {"column": self.column, "kind": "categories", "n_categories": len(self.categories or ())}


class DomainStatistics:
    """Exact per-column statistics, accumulated batch by batch; released only with noise."""

    def __init__(self, kinds: dict[str, str]) -> None:
        """`kinds` maps column -> 'numeric' | 'integer' | 'datetime' | 'categorical'."""
        self._kinds = dict(kinds)
        self._histograms = {c: np.zeros((len(self._edges(k)) + 1, SUB_BINS[k]), np.int64)
                            for c, k in kinds.items() if k != "categorical"}
        self._counters = {c: Counter[str]() for c, k in kinds.items() if k == "categorical"}
        self._n_rows = 0

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    @property
    def kinds(self) -> dict[str, str]:
        return dict(self._kinds)

    def update(self, frame: pd.DataFrame) -> None:
        self._n_rows += len(frame)
        for column, kind in self._kinds.items():
            values = frame[column]
            values = values[values.notna()]
            if kind == "categorical":
                self._counters[column].update(_value_counts(values))
                continue
            if kind == "datetime":
                x = values.astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9
            else:
                x = values.to_numpy(dtype=float)
            edges = self._edges(kind)
            slots = np.searchsorted(edges, x, side="right")
            inner = (slots > 0) & (slots < len(edges))
            sub = np.zeros(x.size, dtype=np.int64)
            left, right = edges[slots[inner] - 1], edges[slots[inner]]
            parts = SUB_BINS[kind]
            sub[inner] = np.clip(((x[inner] - left) / (right - left) * parts).astype(np.int64), 0, parts - 1)
            histogram = self._histograms[column]
            histogram += np.bincount(slots * parts + sub, minlength=histogram.size).reshape(histogram.shape)

    def merge(self, other: DomainStatistics) -> None:
        """Add another part's statistics (same kinds) to these: parts counted apart (e.g. one per
        Spark partition) merge to the statistics of their union."""
        if other._kinds != self._kinds:
            raise ValueError("statistics of different columns cannot be merged")
        self._n_rows += other._n_rows
        for column, histogram in other._histograms.items():
            self._histograms[column] += histogram
        for column, counter in other._counters.items():
            self._counters[column].update(counter)

    def __eq__(self, other: object) -> bool:
        """The same exact statistics (for tests that compare engines); never published."""
        if not isinstance(other, DomainStatistics):
            return NotImplemented
        return (self._kinds == other._kinds and self._n_rows == other._n_rows and self._counters == other._counters
                and all(np.array_equal(h, other._histograms[c]) for c, h in self._histograms.items()))

    __hash__ = None  # type: ignore[assignment]  # mutable: merged and updated in place

    def release_row_count(self, accountant: Accountant, *, cost: float, contribution: int = 1) -> float:
        """A noisy count of the training rows, to size the domain split; charges `cost` ('domain:rows')."""
        mechanism = _count_mechanism(cost, accountant.budget.accounting == "zcdp", contribution)
        accountant.spend(mechanism.charge("domain:rows"))
        return float(mechanism.randomise(np.array([self._n_rows], dtype=np.int64))[0])

    def release(self, accountant: Accountant, *, cost: float = 0.0, costs: dict[str, float] | None = None,
                delta_per_column: float = 0.0, contribution: int = 1) -> list[EstimatedDomain]:
        """Noisy domains for every column; charges `costs[column]` (ρ or ε, per the accounting), or
        `cost` for a column `costs` does not name.

        `contribution` is how many rows one individual can hold (1 without a `role: unit` column):
        every histogram's sensitivity."""
        costs = costs or {}
        unit_is_rho = accountant.budget.accounting == "zcdp"
        if "categorical" in self._kinds.values() and not (unit_is_rho and delta_per_column > 0):
            # Checked before any column is released, so a refusal spends nothing.
            raise ValueError("estimating categories needs zCDP accounting and a delta share")
        released: list[EstimatedDomain] = []
        for column, kind in self._kinds.items():
            column_cost = costs.get(column, cost)
            if kind == "categorical":
                mechanism = DiscreteGaussianCounts(rho=column_cost, sensitivity=contribution)
                released.append(self._release_categories(column, mechanism, accountant, delta_per_column,
                                                         contribution))
            else:
                released.append(self._release_bounds(column, kind, column_cost, unit_is_rho, accountant,
                                                     contribution))
        return released

    def _release_bounds(self, column: str, kind: str, cost: float, unit_is_rho: bool,
                        accountant: Accountant, contribution: int = 1) -> EstimatedDomain:
        """Zoom in: each level re-bins the previous level's range more finely and trims it again.

        A level whose bins are all too sparse to clear the noise line, or whose trim could cut more
        than `_MAX_TRIM` of the rows, keeps the previous range, so sparse data gets coarse bounds,
        never empty ones. Levels cost `_LEVEL_SHARES` of the column's cost.
        """
        label = f"domain:bounds:{column}"
        parts = SUB_BINS[kind]
        flat = self._histograms[column].ravel()
        groups = _ZOOM[kind]
        low_cell, high_cell = 0, flat.size  # a range of fine cells, [low_cell, high_cell)
        found = False
        coarse = (low_cell, high_cell)  # the fixed-bin range, before any zoom
        kept = _Kept(0.0, 0.0)  # the previous level's noisy mass of the range, and its variance
        for level, group in enumerate(groups):
            counts = flat[low_cell:high_cell].reshape(-1, group).sum(axis=1)
            significant, noisy, stddev, near_line = _significant(counts, cost * _LEVEL_SHARES[level], unit_is_rho, accountant,
                                                      f"{label}:level{level}", contribution)
            if significant.size == 0:
                break
            if not found:
                significant = _with_tails(noisy, significant, stddev, near_line)
                if kind == "datetime":  # the zoom below may trim the margin again, if it is empty
                    significant = _with_margin(significant, counts.size)
            else:
                significant = _within_outer_bins(significant, counts.size, groups[level - 1] // group)
                if _trims_real_mass(noisy, significant, stddev, kept):
                    break
            inside = noisy[int(significant[0]): int(significant[-1]) + 1]
            kept = _Kept(float(inside.sum()), inside.size * stddev**2)
            low_cell, high_cell = low_cell + int(significant[0]) * group, low_cell + (int(significant[-1]) + 1) * group
            if not found:
                coarse = (low_cell, high_cell)
            found = True
        edges = self._edges(kind)
        warning = None
        if not found:
            warning = ("no bin cleared the noise at this budget: the bounds are a placeholder; give public bounds "
                       "or raise privacy.domain_share")
            middle = len(edges) // 2
            low, high = (edges[middle - 1], edges[middle]) if kind != "datetime" else (edges[0], edges[-1])
        else:
            low, high = _cell_edge(edges, parts, low_cell), _cell_edge(edges, parts, high_cell)
            if kind != "datetime":  # only a side the zoom left on a fixed edge: a zoomed side was found
                low, high = _towards_zero(low, high, low_cell == coarse[0], high_cell == coarse[1])
        return EstimatedDomain(column, "bounds", bounds=_as_bounds(kind, float(low), float(high)), label=label,
                               warning=warning)

    def _release_categories(self, column: str, mechanism: DiscreteGaussianCounts, accountant: Accountant,
                            delta: float, contribution: int = 1) -> EstimatedDomain:
        label = f"domain:categories:{column}"
        # An individual holds at most k = `contribution` rows, so can add at most k keys, each
        # with a count of at most k. Each is kept only if its noise reaches the exact discrete
        # tail threshold for delta/k, so with probability at most delta any of them shows.
        threshold = contribution + mechanism.tail_threshold(delta / contribution)
        charge = mechanism.charge(label)
        accountant.spend(Charge(label, rho=charge.rho, epsilon=charge.epsilon, delta=delta))
        counter = self._counters[column]
        keys = sorted(counter)
        noisy = mechanism.randomise(np.array([counter[k] for k in keys], dtype=np.int64))
        kept = tuple(k for k, v in zip(keys, noisy) if v >= threshold)
        return EstimatedDomain(column, "categories", categories=kept, label=label)

    @staticmethod
    def _edges(kind: str) -> np.ndarray:
        return datetime_edges() if kind == "datetime" else numeric_edges()


def _as_bounds(kind: str, low: float, high: float) -> tuple[Any, Any]:
    """Released cell edges as the column's bounds: whole numbers for integers, timestamps for datetimes,
    never empty. Post-processing only."""
    if kind == "integer":
        low, high = float(np.ceil(low)), float(max(np.ceil(high) - 1, np.ceil(low)))
    if low >= high:
        high = low + 1.0
    if kind == "datetime":
        return pd.Timestamp(low, unit="s", tz="UTC"), pd.Timestamp(high, unit="s", tz="UTC")
    return float(low), float(high)


def _count_mechanism(cost: float, unit_is_rho: bool, contribution: int) -> DiscreteGaussianCounts | GeometricCounts:
    return (DiscreteGaussianCounts(rho=cost, sensitivity=contribution) if unit_is_rho
            else GeometricCounts(epsilon=cost, sensitivity=contribution))


def level_share_at(kind: str, cost: float, *, n_hat: float, unit_is_rho: bool, delta_per_column: float = 0.0,
                   contribution: int = 1) -> float:
    """The share of rows a level (categorical) or a fixed bin (bounds) must hold to clear the release
    line at this cost, with a 2σ margin. Public: a function of the cost, δ and the noisy row count."""
    if cost <= 0:
        return float("inf")
    mechanism: DiscreteGaussianCounts | GeometricCounts
    if kind == "categorical":
        mechanism = DiscreteGaussianCounts(rho=cost, sensitivity=contribution)
        line = contribution + mechanism.tail_threshold(delta_per_column / contribution)
    else:
        mechanism = _count_mechanism(cost * _LEVEL_SHARES[0], unit_is_rho, contribution)
        line = max(mechanism.tail_threshold(_FALSE_BIN_RATE / (len(DomainStatistics._edges(kind)) + 1)), 1)
    return float((line + _MARGIN_SIGMAS * mechanism.stddev) / max(n_hat, 1.0))


def needed_cost(kind: str, *, n_hat: float, unit_is_rho: bool, delta_per_column: float = 0.0, contribution: int = 1,
                share: float = LEVEL_SHARE) -> float:
    """The smallest cost (ρ or ε) at which a level or fixed bin holding `share` of about `n_hat` rows is
    found (`level_share_at` <= share). Public: reads no data beyond the noisy row count."""
    low, high = 1e-9, 1e3
    if level_share_at(kind, high, n_hat=n_hat, unit_is_rho=unit_is_rho, delta_per_column=delta_per_column,
                      contribution=contribution) > share:
        return high
    for _ in range(60):  # bisection in log space: 1e-9..1e3 to within a factor 1.0000001
        middle = float(np.sqrt(low * high))
        if level_share_at(kind, middle, n_hat=n_hat, unit_is_rho=unit_is_rho, delta_per_column=delta_per_column,
                          contribution=contribution) <= share:
            high = middle
        else:
            low = middle
    return high


def _significant(counts: np.ndarray, cost: float, unit_is_rho: bool, accountant: Accountant,
                 label: str, contribution: int = 1) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(indices of bins whose noisy count clears a line that empty bins cross with prob. <= 1e-3,
    the noisy counts, the noise's standard deviation, the near-walk line for one bin)."""
    mechanism = _count_mechanism(cost, unit_is_rho, contribution)
    accountant.spend(mechanism.charge(label))
    noisy = mechanism.randomise(counts)
    line = mechanism.tail_threshold(_FALSE_BIN_RATE / counts.size)  # public: σ or ε, and the bin count
    near = float(mechanism.tail_threshold(_NEAR_RATE / (2 * _NEAR_BINS)))
    return np.flatnonzero(noisy >= max(line, 1)), noisy, mechanism.stddev, near


def _with_tails(noisy: np.ndarray, significant: np.ndarray, stddev: float, near_line: float) -> np.ndarray:
    """Extend the outermost significant fixed bins over tails too thin to be significant bin by bin.

    A skewed column (incomes) spreads its tail over many power-of-two bins, each under the line.
    Walking outwards, a run of k bins is taken in when its noisy sum exceeds 5.2σ·sqrt(k), which a
    run of empty bins does with probability < 1e-5. Post-processing of the noisy counts only.
    """
    first, last = int(significant[0]), int(significant[-1])
    low, high = first, last
    run = 0.0
    for j in range(first - 1, -1, -1):
        run += float(noisy[j])
        if run > _tail_line(first - j, stddev, near_line) * np.sqrt(first - j):
            low = j
    run = 0.0
    for j in range(last + 1, noisy.size):
        run += float(noisy[j])
        if run > _tail_line(j - last, stddev, near_line) * np.sqrt(j - last):
            high = j
    return np.array([low, high]) if (low, high) != (first, last) else significant


def _tail_line(k: int, stddev: float, near_line: float) -> float:
    return min(near_line, _TAIL_SIGMAS * stddev) if k <= _NEAR_BINS else _TAIL_SIGMAS * stddev


def _with_margin(significant: np.ndarray, size: int) -> np.ndarray:
    """One more fixed bin on each side of a datetime range.

    The 30-day bins start on 1900-01-01, so a year of data (mpls_stops: 2017) begins and ends in bins
    that hold a few days each, under the noise line at n ~ 2k: 5-10% of rows were clamped. A margin of
    one bin costs a month either side; the zoom levels trim it again when they can tell it is empty.
    Public: a function of the released range only.
    """
    return np.array([max(int(significant[0]) - 1, 0), min(int(significant[-1]) + 1, size - 1)])


def _within_outer_bins(significant: np.ndarray, size: int, per_outer: int) -> np.ndarray:
    """A finer level may trim only inside the previous level's two outermost bins, which held real mass.

    Without this, a spike (income 0 for 45% of acs12) was the only fine bin to clear the noise once
    the rest of the mass was spread thin over many fine bins, and the bounds collapsed onto the spike,
    clamping every other value. If an outer bin's mass is too thin to show at the finer level, that
    whole outer bin is kept. Post-processing of the noisy counts only.
    """
    first, last = int(significant[0]), int(significant[-1])
    if first >= per_outer:
        first = 0
    if last < size - per_outer:
        last = size - 1
    return np.array([first, last])


@dataclass(frozen=True)
class _Kept:
    """The noisy mass a zoom level kept (the sum of its kept bins' noisy counts) and that sum's variance."""

    mass: float
    variance: float


def _trims_real_mass(noisy: np.ndarray, significant: np.ndarray, stddev: float, previous: _Kept) -> bool:
    """Could trimming to the significant bins drop more than `_MAX_TRIM` of the range's rows?

    Sparse tails spread over many fine bins each fall under the line; cutting them all would clamp a
    real share of the data, so the zoom stops at the previous, wider range instead. The dropped mass
    has two independent noisy estimates: the sum of the dropped bins (variance: one σ² per bin, large
    when many bins are dropped) and the previous level's mass of the range less the mass kept here
    (variance: the previous level's kept bins plus the bins kept here, small when few are kept). They
    are combined by inverse variance, and the zoom is refused unless the estimate plus one standard
    deviation (`_TRIM_SDS`) is under `_MAX_TRIM` of the range's noisy mass. The summed bins alone let a zoom at
    n ~ 1,600 cut 39% of acs12 hrs_work (onto the spike at 40) in one release of ten: 50 dropped bins'
    noise sums to σ·7. Post-processing of the noisy counts only.
    """
    first, last = int(significant[0]), int(significant[-1])
    dropped = float(noisy[:first].sum() + noisy[last + 1:].sum())
    direct_variance = max(noisy.size - (last - first + 1), 1) * stddev**2
    kept_here = float(noisy[first: last + 1].sum())
    difference = previous.mass - kept_here
    difference_variance = previous.variance + (last - first + 1) * stddev**2
    weight = 1 / direct_variance + 1 / difference_variance
    estimate = (dropped / direct_variance + difference / difference_variance) / weight
    total = max(previous.mass, float(noisy.sum()), 0.0)
    return bool(estimate + _TRIM_SDS * float(np.sqrt(1 / weight)) > _MAX_TRIM * total)


def _towards_zero(low: float, high: float, low_coarse: bool, high_coarse: bool) -> tuple[float, float]:
    """Extend a positive range down to 0 (a negative one up to 0) when that widens it by at most `_ZERO_REACH`.

    The fixed bins halve towards zero, so the small values of a column that starts near 0 (acs12 age,
    hours, commute) spread over many thin bins that each stay under the noise line, and the found range
    starts at 8 or 16 with a real share of the rows below it. Taking in [0, low) costs little width and
    clamps none of them. A range far from zero (latitude 44.9-45.1) is left alone, and so is a side the
    zoom moved off its fixed edge (it found where the data starts). Post-processing of released bounds only.
    """
    if low_coarse and 0 < low <= _ZERO_REACH * (high - low):
        low = 0.0
    if high_coarse and high < 0 and -high <= _ZERO_REACH * (high - low):
        high = 0.0
    return low, high


def _cell_edge(edges: np.ndarray, parts: int, cell: int) -> float:
    """Left edge of fine cell `cell` (cell = slot * parts + part); slot i covers [edges[i-1], edges[i])."""
    slot, part = divmod(cell, parts)
    if slot == 0:
        return float(edges[0])
    if slot >= len(edges):
        return float(edges[-1])
    left, right = edges[slot - 1], edges[slot]
    return float(left + (right - left) * part / parts)
