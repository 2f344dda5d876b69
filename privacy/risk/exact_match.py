"""Exact copies: the share of synthetic rows that reproduce some reference row in every column.

Rows are compared exactly (floats bit for bit, except that 0.0 == -0.0), and null equals null.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .embedding import RiskError

__all__ = ["exact_match_share", "row_ids"]


def exact_match_share(synth: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Share of `synth` rows equal to at least one `reference` row over all columns (0 for no reference).

    Compare it with the same share for real holdout rows: on a table with few distinct rows, unseen
    real rows match training rows too, and that is no leak.
    """
    if len(synth) == 0:
        raise RiskError("the query sample has no rows: an exact-match share is undefined")
    if len(reference) == 0:
        return 0.0
    ids = row_ids(synth, reference)
    return float(np.isin(ids[: len(synth)], ids[len(synth) :]).mean())


def row_ids(first: pd.DataFrame, second: pd.DataFrame) -> np.ndarray:
    """One integer per row of first then second; equal ids <=> equal rows (nulls equal, floats exact).

    Vectorised hashing without collision risk: `pd.factorize` hashes each column jointly over both
    frames and its hash table confirms every hit by equality, so two different values never share a
    code. The per-column codes are folded into a row id by factorising (id * k + code) column by
    column, which is again exact and keeps every id below the row count (no overflow).
    Comparing a single 64-bit row hash (pd.util.hash_pandas_object) instead would need a second,
    exact pass to rule out collisions; this does both in one pass at the same cost.
    """
    if set(first.columns) != set(second.columns) or first.columns.has_duplicates:
        raise RiskError("both samples need the same, distinct columns")
    n_rows = len(first) + len(second)
    ids = np.zeros(n_rows, dtype=np.int64)
    for column in first.columns:
        values = pd.concat([_comparable(first[column]), _comparable(second[column])], ignore_index=True)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)  # every null kind -> -1
        ids = pd.factorize(ids * (len(uniques) + 1) + (codes + 1))[0].astype(np.int64)
    return ids


def _comparable(series: pd.Series) -> pd.Series:
    """Same representation on both sides: datetimes in one unit, so equal instants get equal codes."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        utc: pd.Series = series.dt.tz_convert("UTC").dt.as_unit("ns")
        return utc
    if pd.api.types.is_datetime64_dtype(series.dtype):
        naive: pd.Series = series.dt.as_unit("ns")
        return naive
    return series
