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

__all__ = ["DomainStatistics", "EstimatedDomain", "numeric_edges", "datetime_edges"]

_POWERS = np.arange(-10, 64)
_FALSE_BIN_RATE = 1e-3  # chance that any empty bin of a column passes for an occupied one


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

    def as_codec_input(self) -> dict[str, Any]:
        return {"bounds": self.bounds} if self.kind == "bounds" else {"categories": self.categories}

    def to_json(self) -> dict[str, Any]:
        if self.kind == "bounds":
            low, high = self.bounds  # type: ignore[misc]
            text = [v.isoformat() if isinstance(v, pd.Timestamp) else v for v in (low, high)]
            return {"column": self.column, "kind": "bounds", "bounds": text}
        return {"column": self.column, "kind": "categories", "n_categories": len(self.categories or ())}


class DomainStatistics:
    """Exact per-column statistics, accumulated batch by batch; released only with noise."""

    def __init__(self, kinds: dict[str, str]) -> None:
        """`kinds` maps column -> 'numeric' | 'integer' | 'datetime' | 'categorical'."""
        self._kinds = dict(kinds)
        self._histograms = {c: np.zeros(len(self._edges(k)) + 1, np.int64) for c, k in kinds.items() if k != "categorical"}
        self._counters = {c: Counter[str]() for c, k in kinds.items() if k == "categorical"}

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def update(self, frame: pd.DataFrame) -> None:
        for column, kind in self._kinds.items():
            values = frame[column]
            values = values[values.notna()]
            if kind == "categorical":
                self._counters[column].update(values.astype(str).tolist())
                continue
            if kind == "datetime":
                x = values.astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9
            else:
                x = values.to_numpy(dtype=float)
            slots = np.searchsorted(self._edges(kind), x, side="right")
            self._histograms[column] += np.bincount(slots, minlength=self._histograms[column].size)

    def release(self, accountant: Accountant, *, cost: float, delta_per_column: float = 0.0) -> list[EstimatedDomain]:
        """Noisy domains for every column; charges `cost` (ρ or ε, per the accounting) per column."""
        unit_is_rho = accountant.budget.accounting == "zcdp"
        if "categorical" in self._kinds.values() and not (unit_is_rho and delta_per_column > 0):
            # Checked before any column is released, so a refusal spends nothing.
            raise ValueError("estimating categories needs zCDP accounting and a delta share")
        released: list[EstimatedDomain] = []
        for column, kind in self._kinds.items():
            if kind == "categorical":
                released.append(self._release_categories(column, DiscreteGaussianCounts(rho=cost), accountant,
                                                         delta_per_column))
            else:
                mechanism: DiscreteGaussianCounts | GeometricCounts = (
                    DiscreteGaussianCounts(rho=cost) if unit_is_rho else GeometricCounts(epsilon=cost))
                released.append(self._release_bounds(column, kind, mechanism, accountant))
        return released

    def _release_bounds(self, column: str, kind: str, mechanism: DiscreteGaussianCounts | GeometricCounts,
                        accountant: Accountant) -> EstimatedDomain:
        label = f"domain:bounds:{column}"
        accountant.spend(mechanism.charge(label))
        noisy = mechanism.randomise(self._histograms[column])
        edges = self._edges(kind)
        line = mechanism.tail_threshold(_FALSE_BIN_RATE / noisy.size)  # public: σ or ε, and the bin count
        significant = np.flatnonzero(noisy >= max(line, 1))
        # Slot i holds values in [edges[i-1], edges[i]); slots 0 and len(edges) are the open ends.
        extended = np.concatenate([[edges[0]], edges, [edges[-1]]])
        if significant.size == 0:
            low, high = (edges[len(edges) // 2 - 1], edges[len(edges) // 2]) if kind != "datetime" else (edges[0], edges[-1])
        else:
            low, high = extended[significant[0]], extended[significant[-1] + 1]
        if low >= high:
            high = low + 1.0
        if kind == "integer":
            low, high = float(np.floor(low)), float(np.ceil(high))
        bounds: tuple[Any, Any] = (float(low), float(high))
        if kind == "datetime":
            bounds = (pd.Timestamp(low, unit="s", tz="UTC"), pd.Timestamp(high, unit="s", tz="UTC"))
        return EstimatedDomain(column, "bounds", bounds=bounds, label=label)

    def _release_categories(self, column: str, mechanism: DiscreteGaussianCounts, accountant: Accountant,
                            delta: float) -> EstimatedDomain:
        label = f"domain:categories:{column}"
        # A key held by one row has count 1 and is kept only if its noise reaches the exact
        # discrete tail threshold, which happens with probability at most delta.
        threshold = 1 + mechanism.tail_threshold(delta)
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

