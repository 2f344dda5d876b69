"""Exact counts of the training codes: the one read `PrivateTable` makes of the data.

`PrivateTable` charges first, then asks a `CodeCounts` for exact cell counts and adds noise on the
calling process (the driver), from the same exact samplers whatever holds the rows. The in-memory
implementation is `ArrayCounts` (`np.bincount` over combined indices); an engine that keeps the
codes elsewhere (the Spark engine: a cached DataFrame, counted by group-bys) implements the same
three members. Exact counts never leave this module's callers except through noise.

`SummedCounts` wraps a `CodeCounts` so that a fit reads the rows about once: it counts a clique at
the codes' own resolution (the whole domain, when it is small enough) and derives every marginal
inside it, and every coarser grouping, by summing that table. The sums are exact integers, the same
counts a fresh pass would give, so what is measured and the noise are unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

__all__ = ["CodeCounts", "ArrayCounts", "SummedCounts", "grouped_index"]

# A table counted once and summed down has at most this many cells (int64: 32 MB), and the kept
# tables at most _KEPT_CELLS together; a larger clique is counted directly, as before.
_TABLE_CELLS = 1 << 22
_KEPT_CELLS = 1 << 24


class CodeCounts(Protocol):
    """Exact counts over integer-coded rows (one column per domain column)."""

    @property
    def n_rows(self) -> int:
        """How many rows (exact; internal)."""

    @property
    def n_columns(self) -> int:
        """How many columns the codes have."""

    def code_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Per column, the smallest and largest code (zeros when there are no rows)."""

    def counts(self, columns: Sequence[int], sizes: Sequence[int],
               groupings: Sequence[np.ndarray | None]) -> np.ndarray:
        """Exact counts of every cell of the columns at these indexes, shaped `sizes`; a grouping maps
        a column's codes to coarser groups first (None: the codes themselves)."""


class ArrayCounts:
    """Codes held in memory (an (n, k) integer array)."""

    def __init__(self, codes: np.ndarray) -> None:
        self._codes = codes

    @property
    def n_rows(self) -> int:
        return int(self._codes.shape[0])

    @property
    def n_columns(self) -> int:
        return int(self._codes.shape[1])

    def code_range(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._codes.shape[0]:
            zeros = np.zeros(self._codes.shape[1], np.int64)
            return zeros, zeros
        return self._codes.min(axis=0), self._codes.max(axis=0)

    def counts(self, columns: Sequence[int], sizes: Sequence[int],
               groupings: Sequence[np.ndarray | None]) -> np.ndarray:
        if not columns:
            return np.array([self._codes.shape[0]], dtype=np.int64)
        parts = [grouped_index(self._codes[:, j], g) for j, g in zip(columns, groupings)]
        flat = np.ravel_multi_index(tuple(parts), tuple(sizes))
        return np.bincount(flat, minlength=int(np.prod(sizes, dtype=np.int64))).reshape(tuple(sizes))


class SummedCounts:
    """Counts each clique once and sums it down (see the module docstring). `sizes`: the domain's
    code count per column (public)."""

    def __init__(self, inner: CodeCounts, sizes: Sequence[int]) -> None:
        if len(sizes) != inner.n_columns:
            raise ValueError("SummedCounts needs one domain size per column")
        self._inner = inner
        self._sizes = tuple(int(s) for s in sizes)
        self._tables: dict[tuple[int, ...], np.ndarray] = {}  # sorted column indexes -> exact fine counts

    @property
    def n_rows(self) -> int:
        return self._inner.n_rows

    @property
    def n_columns(self) -> int:
        return self._inner.n_columns

    def code_range(self) -> tuple[np.ndarray, np.ndarray]:
        return self._inner.code_range()

    def counts(self, columns: Sequence[int], sizes: Sequence[int],
               groupings: Sequence[np.ndarray | None]) -> np.ndarray:
        columns = tuple(int(c) for c in columns)
        found = self._clique(columns) if columns and len(set(columns)) == len(columns) else None
        if found is None:
            return self._inner.counts(columns, sizes, groupings)
        axes, table = found
        drop = tuple(a for a, c in enumerate(axes) if c not in columns)
        kept = [c for c in axes if c in columns]
        marginal = np.transpose(table.sum(axis=drop) if drop else table, [kept.index(c) for c in columns])
        for axis, (grouping, size) in enumerate(zip(groupings, sizes)):
            if grouping is not None:
                marginal = _group_axis(marginal, axis, np.asarray(grouping), int(size))
        return np.ascontiguousarray(marginal).reshape(tuple(int(s) for s in sizes))

    def _clique(self, columns: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray] | None:
        """The smallest kept table over a superset of `columns`, counting one first when it fits:
        the whole domain if it is small enough, else these columns; None when neither fits."""
        wanted = set(columns)
        inside = [axes for axes in self._tables if wanted <= set(axes)]
        if inside:
            best = min(inside, key=lambda axes: self._tables[axes].size)
            return best, self._tables[best]
        for axes in (tuple(range(len(self._sizes))), tuple(sorted(columns))):
            cells = math.prod(self._sizes[c] for c in axes)
            if cells <= _TABLE_CELLS:
                table = self._inner.counts(axes, [self._sizes[c] for c in axes], [None] * len(axes))
                if cells + sum(t.size for t in self._tables.values()) <= _KEPT_CELLS:
                    self._tables[axes] = table
                return axes, table
        return None


def _group_axis(table: np.ndarray, axis: int, grouping: np.ndarray, size: int) -> np.ndarray:
    """`table` with `axis` summed into groups (code -> group), exactly."""
    moved = np.moveaxis(table, axis, 0)
    out = np.zeros((size, *moved.shape[1:]), dtype=table.dtype)
    np.add.at(out, grouping, moved)
    return np.moveaxis(out, 0, axis)


def grouped_index(codes: np.ndarray, grouping: np.ndarray | None) -> np.ndarray:
    return codes if grouping is None else np.asarray(grouping)[codes]
