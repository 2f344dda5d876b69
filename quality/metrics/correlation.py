"""Pairwise linear dependence: how far the synthetic Pearson correlation matrix is from the real one.

Marginal TVD on bins is dominated by 1-way fidelity (RESEARCH.md); this catches models that keep
each column's distribution but lose the relations between numeric columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .marginals import MetricError

__all__ = ["CorrelationError", "correlation_error", "to_float"]

_EPOCH = pd.Timestamp(0, tz="UTC")


@dataclass(frozen=True, slots=True)
class CorrelationError:
    """Distances between the real and synthetic correlation matrices of the same columns.

    `max_abs` is the worst off-diagonal entry (in [0, 2]); `frobenius` is ||R_real - R_synth||_F
    over the full symmetric matrix, so each pair counts twice (diagonal differences are 0).
    """

    max_abs: float
    frobenius: float
    n_columns: int


def correlation_error(real: pd.DataFrame, synth: pd.DataFrame, columns: Sequence[str]) -> CorrelationError | None:
    """Compare Pearson correlations on pairwise-complete rows; None with fewer than two columns.

    A correlation that is undefined (constant column, fewer than two complete pairs) counts as 0,
    so a synthetic column that collapsed to a constant is scored as having lost its correlations.
    """
    columns = list(columns)
    if len(set(columns)) != len(columns):
        raise MetricError("correlation columns must be distinct")
    if len(columns) < 2:
        return None
    for which, frame in (("real", real), ("synth", synth)):
        if missing := [c for c in columns if c not in frame.columns]:
            raise MetricError(f"{which} sample lacks columns {missing}")
    diff = _correlation(real, columns) - _correlation(synth, columns)
    np.fill_diagonal(diff, 0.0)
    return CorrelationError(
        max_abs=float(np.abs(diff).max()), frobenius=float(np.linalg.norm(diff)), n_columns=len(columns)
    )


def to_float(series: pd.Series, column: str) -> np.ndarray:
    """Numeric, boolean or datetime column as float64 with NaN for nulls (datetimes as epoch seconds)."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        stamps = series if isinstance(dtype, pd.DatetimeTZDtype) else series.dt.tz_localize("UTC")
        return ((stamps - _EPOCH) / pd.Timedelta(seconds=1)).to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return series.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    raise MetricError(f"column '{column}' is not numeric, boolean or datetime")


def _correlation(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    numeric = pd.DataFrame({c: to_float(frame[c], c) for c in columns})
    # Infinite values would make the correlation undefined; treat them as missing.
    numeric = numeric.where(np.isfinite(numeric))
    matrix = numeric.corr(method="pearson").to_numpy()
    filled: np.ndarray = np.nan_to_num(matrix, nan=0.0)
    return filled
