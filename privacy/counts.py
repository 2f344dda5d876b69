"""Exact counts of the training codes: the one read `PrivateTable` makes of the data.

`PrivateTable` charges first, then asks a `CodeCounts` for exact cell counts and adds noise on the
calling process (the driver), from the same exact samplers whatever holds the rows. The in-memory
implementation is `ArrayCounts` (`np.bincount` over combined indices); an engine that keeps the
codes elsewhere (the Spark engine: a cached DataFrame, counted by group-bys) implements the same
three members. Exact counts never leave this module's callers except through noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

__all__ = ["CodeCounts", "ArrayCounts", "grouped_index"]


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


def grouped_index(codes: np.ndarray, grouping: np.ndarray | None) -> np.ndarray:
    return codes if grouping is None else np.asarray(grouping)[codes]
