"""Embed rows so that L1 distance / number of columns is the Gower distance, over public domains only.

Per column, Gower distance is in [0, 1]:
- numeric: |x - y| / (high - low), values clipped to the public [low, high];
- categorical: 0 if equal, else 1, with "other" (not in the public list) and null as their own levels;
- null vs null is 0, null vs any value is 1 (for both kinds).

Scaling uses the caller's public bounds, never the data's min/max: reading them off the data would
make the distances themselves depend on outliers we must not reveal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["EmbeddingColumn", "RiskError", "embed", "n_features"]

_EPOCH = pd.Timestamp(0, tz="UTC")
# A null numeric sits at (-1/4, -1/4); a value v in [0, 1] sits at (v/2, (1-v)/2). The L1 distance from
# the null point is (1/4 + v/2) + (1/4 + (1-v)/2) = 1 for every v, and between values it is |v - w|.
_NULL_NUMERIC = -0.25


class RiskError(ValueError):
    """A risk check got inputs of the wrong shape or type (a programming error, not bad data)."""


@dataclass(frozen=True, slots=True)
class EmbeddingColumn:
    """One column's public domain. Datetimes map to numeric epoch seconds; booleans to categorical.

    Categorical values are matched on their `str()`, so a boolean column takes categories ("False", "True").
    """

    name: str
    kind: Literal["categorical", "numeric"]
    categories: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("categorical", "numeric"):
            raise RiskError(f"column '{self.name}': kind must be 'categorical' or 'numeric'")
        if self.kind == "numeric" and not (np.isfinite(self.low) and np.isfinite(self.high) and self.low < self.high):
            raise RiskError(f"column '{self.name}': need finite bounds with low < high")
        if len(set(self.categories)) != len(self.categories):
            raise RiskError(f"column '{self.name}': categories must be distinct")

    @property
    def width(self) -> int:
        """Number of features this column takes in the embedding."""
        return 2 if self.kind == "numeric" else len(self.categories) + 2


def n_features(columns: Sequence[EmbeddingColumn]) -> int:
    """Width of `embed`'s output for these columns."""
    return sum(c.width for c in columns)


def embed(frame: pd.DataFrame, columns: Sequence[EmbeddingColumn]) -> np.ndarray:
    """Rows as float64 features whose L1 distance, divided by len(columns), is their Gower distance.

    Numeric: two features (v/2, (1-v)/2) of the scaled value v, so a null can sit at distance 1 from
    every value. Categorical: one-hot scaled by 1/2 over the public categories + "other" + null.
    """
    if not columns:
        raise RiskError("embed needs at least one column")
    if len({c.name for c in columns}) != len(columns):
        raise RiskError("embedding columns must have distinct names")
    if missing := [c.name for c in columns if c.name not in frame.columns]:
        raise RiskError(f"frame lacks columns {missing}")
    out = np.zeros((len(frame), n_features(columns)), dtype=np.float64)
    start = 0
    for column in columns:
        block = out[:, start : start + column.width]
        if column.kind == "numeric":
            _embed_numeric(frame[column.name], column, block)
        else:
            _embed_categorical(frame[column.name], column, block)
        start += column.width
    return out


def _embed_numeric(series: pd.Series, column: EmbeddingColumn, block: np.ndarray) -> None:
    values = _numeric_values(series, column.name)
    null = np.isnan(values)
    scaled = np.clip((values - column.low) / (column.high - column.low), 0.0, 1.0)
    block[:, 0] = np.where(null, _NULL_NUMERIC, scaled / 2)
    block[:, 1] = np.where(null, _NULL_NUMERIC, (1.0 - scaled) / 2)


def _embed_categorical(series: pd.Series, column: EmbeddingColumn, block: np.ndarray) -> None:
    null = series.isna().to_numpy()
    codes = np.full(len(series), len(column.categories) + 1)  # null slot
    present = series[~null].astype(object).map(str)
    found = pd.Index(column.categories, dtype=object).get_indexer(pd.Index(present))
    codes[~null] = np.where(found >= 0, found, len(column.categories))  # unseen -> "other" slot
    block[np.arange(len(series)), codes] = 0.5


def _numeric_values(series: pd.Series, name: str) -> np.ndarray:
    """float64 with NaN for nulls; datetimes as epoch seconds, so bounds are given in epoch seconds."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        stamps = series if isinstance(dtype, pd.DatetimeTZDtype) else series.dt.tz_localize("UTC")
        return ((stamps - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    raise RiskError(f"column '{name}' is declared numeric but is not numeric, boolean or datetime")
