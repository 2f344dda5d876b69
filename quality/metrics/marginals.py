"""k-way marginal fidelity: total variation distance between real and synthetic contingency tables.

Works on integer code matrices that the caller encoded with the same public binning, so the
metric never sees a bound or category list derived from the data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["KWayTVD", "MetricError", "column_sets", "marginal_tvd", "mean_max_tvd"]

# Above this many cells a dense bincount wastes memory; count only the occupied cells instead.
_DENSE_CELL_LIMIT = 1 << 22
# Up to this many subsets, sample without replacement from the full list; above it, by rejection.
_ENUMERATE_LIMIT = 200_000


class MetricError(ValueError):
    """A utility metric got inputs of the wrong shape or type (a programming error, not bad data)."""


@dataclass(frozen=True, slots=True)
class KWayTVD:
    """Mean and worst TVD over the `way`-column marginals that were evaluated."""

    way: int
    mean: float
    max: float
    n_sets: int
    sampled: bool  # True when a random subset of the column sets was evaluated


def marginal_tvd(
    real_codes: np.ndarray, synth_codes: np.ndarray, sizes: Sequence[int], columns: tuple[int, ...]
) -> float:
    """TVD (0 = same table, 1 = disjoint supports) between the normalised marginals on `columns`."""
    real, synth = _check_codes(real_codes, synth_codes, sizes, columns)
    return _tvd(real, synth, sizes, columns)


def mean_max_tvd(
    real_codes: np.ndarray,
    synth_codes: np.ndarray,
    sizes: Sequence[int],
    way: int,
    *,
    max_sets: int = 300,
    rng: np.random.Generator,
) -> KWayTVD:
    """Mean and max TVD over every `way`-column marginal, or over `max_sets` drawn at random by `rng`.

    Sampling keeps the cost bounded on wide tables (55 columns have 26,235 3-way sets).
    """
    n_columns = len(sizes)
    if not 1 <= way <= n_columns:
        raise MetricError(f"way must be between 1 and the number of columns ({n_columns})")
    if max_sets < 1:
        raise MetricError("max_sets must be at least 1")
    real, synth = _check_codes(real_codes, synth_codes, sizes, tuple(range(n_columns)))
    # Column-major copies make each column a contiguous read in the loop below.
    real, synth = np.asfortranarray(real), np.asfortranarray(synth)
    sampled = math.comb(n_columns, way) > max_sets
    subsets = column_sets(n_columns, way, max_sets=max_sets, rng=rng)
    tvds = np.array([_tvd(real, synth, sizes, cols) for cols in subsets])
    return KWayTVD(way=way, mean=float(tvds.mean()), max=float(tvds.max()), n_sets=len(tvds), sampled=sampled)


def _check_codes(
    real_codes: np.ndarray, synth_codes: np.ndarray, sizes: Sequence[int], columns: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes, dtypes and code ranges once, so the inner loop can skip it."""
    real, synth = np.asarray(real_codes), np.asarray(synth_codes)
    n_columns = len(sizes)
    for name, codes in (("real_codes", real), ("synth_codes", synth)):
        if codes.ndim != 2 or codes.shape[1] != n_columns:
            raise MetricError(f"{name} must be a 2-d array with one column per entry of sizes ({n_columns})")
        if not np.issubdtype(codes.dtype, np.integer):
            raise MetricError(f"{name} must hold integer codes")
        if codes.shape[0] == 0:
            raise MetricError(f"{name} has no rows")
    if min(sizes, default=1) < 1:
        raise MetricError("every column needs at least one code")
    if not columns or len(set(columns)) != len(columns) or not all(0 <= c < n_columns for c in columns):
        raise MetricError(f"columns must be distinct indices in [0, {n_columns})")
    for c in columns:
        for name, codes in (("real_codes", real), ("synth_codes", synth)):
            col = codes[:, c]
            if col.min() < 0 or col.max() >= sizes[c]:
                raise MetricError(f"{name} column {c} has codes outside [0, {sizes[c]})")
    return real, synth


def _tvd(real: np.ndarray, synth: np.ndarray, sizes: Sequence[int], columns: tuple[int, ...]) -> float:
    shape = tuple(int(sizes[c]) for c in columns)
    n_cells = math.prod(shape)
    if n_cells >= 1 << 62:
        raise MetricError(f"marginal on columns {columns} has too many cells to index")
    flat_real = np.ravel_multi_index(tuple(real[:, c] for c in columns), shape)
    flat_synth = np.ravel_multi_index(tuple(synth[:, c] for c in columns), shape)
    if n_cells <= _DENSE_CELL_LIMIT:
        p = np.bincount(flat_real, minlength=n_cells) / flat_real.size
        q = np.bincount(flat_synth, minlength=n_cells) / flat_synth.size
    else:  # sparse: only cells that occur in either sample can differ
        cells, inverse = np.unique(np.concatenate([flat_real, flat_synth]), return_inverse=True)
        p = np.bincount(inverse[: flat_real.size], minlength=cells.size) / flat_real.size
        q = np.bincount(inverse[flat_real.size :], minlength=cells.size) / flat_synth.size
    return float(0.5 * np.abs(p - q).sum())


def column_sets(n_columns: int, way: int, *, max_sets: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Every `way`-column subset, or `max_sets` of them drawn by `rng` (a public choice of queries)."""
    if math.comb(n_columns, way) > max_sets:
        return _sample_subsets(n_columns, way, max_sets, rng)
    return list(itertools.combinations(range(n_columns), way))


def _sample_subsets(n_columns: int, way: int, n_sets: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """`n_sets` distinct column subsets, uniformly at random, without listing every subset when there are many."""
    if math.comb(n_columns, way) <= _ENUMERATE_LIMIT:
        every = list(itertools.combinations(range(n_columns), way))
        return [every[i] for i in sorted(rng.choice(len(every), size=n_sets, replace=False))]
    chosen: set[tuple[int, ...]] = set()
    while len(chosen) < n_sets:  # terminates quickly: there are > _ENUMERATE_LIMIT subsets to hit
        chosen.add(tuple(sorted(int(c) for c in rng.choice(n_columns, size=way, replace=False))))
    return sorted(chosen)
