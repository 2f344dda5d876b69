"""A fixed-size sample of rows kept while streaming (for the risk and utility checks).

Each row comes with a priority from the run's secret key (`split.py`), a function of the row's
own content and occurrence number; the `size` rows with the smallest priorities are kept. Memory
stays at `size` rows whatever the input's length, and a table with one row added or removed gives
a sample that differs by at most one row in and one row out: that bounds the sensitivity of any
count over the sample, which the DP gate relies on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .load import as_object_column

__all__ = ["RowIndexSample", "RowSample", "synthetic_rows"]


class RowSample:
    def __init__(self, size: int) -> None:
        self.size = size
        self._rows: pd.DataFrame | None = None
        self._keys = np.empty(0)

    def add(self, frame: pd.DataFrame, priorities: np.ndarray) -> None:
        if frame.empty:
            return
        if len(priorities) != len(frame):
            raise ValueError("need one priority per row")
        keys = np.asarray(priorities, dtype=np.float64)
        if self._rows is not None and len(self._rows) >= self.size:
            # Only rows below the largest kept priority can enter: take them before copying anything.
            below = keys < self._keys.max()
            if not below.any():
                return
            frame, keys = frame.loc[below], keys[below]
        rows = frame.reset_index(drop=True)
        rows = pd.DataFrame({name: as_object_column(rows[name]) for name in rows.columns})
        if self._rows is not None:
            rows = pd.concat([self._rows, rows], ignore_index=True)
            keys = np.concatenate([self._keys, keys])
        if len(rows) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            keep.sort()
            rows, keys = rows.iloc[keep].reset_index(drop=True), keys[keep]
        self._rows, self._keys = rows, keys

    def frame(self) -> pd.DataFrame:
        """The kept rows, in priority order (so the order says nothing about positions in the input)."""
        if self._rows is None:
            return pd.DataFrame()
        order = np.argsort(self._keys, kind="stable")
        return self._rows.iloc[order].reset_index(drop=True)


class RowIndexSample:
    """The positions (in stream order) of the `size` rows with the smallest priorities: the same
    bottom-k rule as `RowSample`, for rows kept elsewhere (the training codes), in 12 bytes a row."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen = 0
        self._keys = np.empty(0)
        self._rows = np.empty(0, np.int64)

    def add(self, priorities: np.ndarray) -> None:
        keys = np.concatenate([self._keys, np.asarray(priorities, dtype=np.float64)])
        rows = np.concatenate([self._rows, np.arange(self._seen, self._seen + len(priorities), dtype=np.int64)])
        self._seen += len(priorities)
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            keys, rows = keys[keep], rows[keep]
        self._keys, self._rows = keys, rows

    def rows(self) -> np.ndarray:
        """The kept positions, ascending (every position when at most `size` rows were seen)."""
        return np.sort(self._rows)


def synthetic_rows(n_rows: int, size: int, seed: int) -> np.ndarray | None:
    """Positions (sorted) of the at most `size` synthetic rows the marginal checks compare, drawn with
    the seed (the synthetic table is a DP output); None when every row is compared. Known before
    sampling (the row count is), so the sampler keeps only these rows' codes."""
    if n_rows <= size:
        return None
    return np.sort(np.random.default_rng([seed, 3, 7]).choice(n_rows, size=size, replace=False))
