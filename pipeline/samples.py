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

__all__ = ["RowSample"]


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
        rows = frame.reset_index(drop=True)
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
