"""A fixed-size uniform sample of rows kept while streaming (for the risk and TSTR checks).

Each row gets a random priority from a generator seeded by (seed, stream); the rows with the
smallest priorities are kept, so memory stays at `size` rows whatever the input's length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["RowSample"]


class RowSample:
    def __init__(self, size: int, *, seed: int, stream: int) -> None:
        self.size = size
        self._rng = np.random.default_rng([seed, stream])
        self._rows: pd.DataFrame | None = None
        self._keys = np.empty(0)

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        keys = self._rng.random(len(frame))
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
        return self._rows if self._rows is not None else pd.DataFrame()
