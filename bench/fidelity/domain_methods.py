"""Bounds estimators to compare with synthgate's, for `python -m bench.fidelity.domains --method em`.

`em`: the fixed power-of-two bins find the range as in synthgate (half of the column's cost), then
each bound is a DP quantile (Smith 2011): the exponential mechanism (OpenDP's exact report-noisy-max,
`select_index`) over the public fine-cell edges of that range, with utility -|rank(edge) - q·n| for
q = 0.5% (low) and 99.5% (high), sensitivity one row, a quarter of the cost each. Public grid only,
charged before it reads. Bench-only: it reaches into `DomainStatistics`' private histogram.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

import synthgate.privacy.estimate as estimate
from synthgate.privacy.accountant import Accountant, Charge
from synthgate.privacy.mechanisms import select_index

QUANTILE = 0.005


def _em_bounds(self: Any, column: str, kind: str, cost: float, unit_is_rho: bool, accountant: Accountant,
               contribution: int = 1) -> estimate.EstimatedDomain:
    label = f"domain:bounds:{column}"
    parts = estimate.SUB_BINS[kind]
    flat = self._histograms[column].ravel()
    significant, noisy, stddev, near = estimate._significant(flat.reshape(-1, parts).sum(axis=1), cost * 0.5,
                                                             unit_is_rho, accountant, f"{label}:level0", contribution)
    edges = self._edges(kind)
    warning = None
    if significant.size == 0:
        middle = len(edges) // 2
        low, high = (edges[middle - 1], edges[middle]) if kind != "datetime" else (edges[0], edges[-1])
        warning = "placeholder"
    else:
        found = estimate._with_tails(noisy, significant, stddev, near)
        low_cell, high_cell = int(found[0]) * parts, (int(found[-1]) + 1) * parts
        n = int(flat.sum())
        rank = int(flat[:low_cell].sum()) + np.concatenate([[0], np.cumsum(flat[low_cell:high_cell])])
        unit = "rho" if unit_is_rho else "epsilon"
        accountant.spend(Charge(f"{label}:low", **{unit: cost * 0.25}))
        i_low = select_index(-np.abs(rank - QUANTILE * n), cost=cost * 0.25, unit=unit, sensitivity=contribution)
        accountant.spend(Charge(f"{label}:high", **{unit: cost * 0.25}))
        i_high = select_index(-np.abs(n - rank - QUANTILE * n), cost=cost * 0.25, unit=unit, sensitivity=contribution)
        i_low, i_high = min(i_low, i_high), max(max(i_low, i_high), min(i_low, i_high) + 1)
        low = estimate._cell_edge(edges, parts, low_cell + i_low)
        high = estimate._cell_edge(edges, parts, low_cell + i_high)
    return estimate.EstimatedDomain(column, "bounds", bounds=estimate._as_bounds(kind, float(low), float(high)),
                                    label=label, warning=warning)


@contextlib.contextmanager
def bounds_method(name: str) -> Iterator[None]:
    """Within the block, `DomainStatistics` estimates bounds with method `name` ('synthgate' or 'em')."""
    if name == "synthgate":
        yield
        return
    if name != "em":
        raise SystemExit(f"unknown --method {name!r}: synthgate or em")
    original = estimate.DomainStatistics._release_bounds
    estimate.DomainStatistics._release_bounds = _em_bounds  # type: ignore[method-assign]
    try:
        yield
    finally:
        estimate.DomainStatistics._release_bounds = original  # type: ignore[method-assign]
