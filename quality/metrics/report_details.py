"""Figures for the internal report's plots: 2-way TVD per column pair, the real and synthetic
correlation matrices, and histograms of the distance to the closest training record.

Internal only: exact figures computed on real rows (aggregates, never a record), like the rest of
report.json's details. They do not decide anything; the gate's figures do. Costs are capped: at
most `_MAX_COLUMNS` columns for the pairs, `_MAX_ROWS` rows per pair count, `_MAX_DCR` rows per
nearest-neighbour search.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthgate.privacy.risk.distance import distance_to_closest
from synthgate.privacy.risk.embedding import EmbeddingColumn, embed

from .correlation import to_float
from .marginals import marginal_tvd

__all__ = ["report_details", "pairwise_tvd", "correlation_matrices", "dcr_histogram"]

_MAX_COLUMNS = 30
_MAX_ROWS = 50_000
_MAX_DCR = 2_000
_DCR_BINS = 30


def _rows(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(codes) <= _MAX_ROWS:
        return codes
    return codes[np.sort(rng.choice(len(codes), size=_MAX_ROWS, replace=False))]


def pairwise_tvd(train_codes: np.ndarray, synth_codes: np.ndarray, sizes: Sequence[int], names: Sequence[str], *,
                 rng: np.random.Generator) -> list[dict[str, Any]]:
    """TVD of every 2-way marginal among the first `_MAX_COLUMNS` columns: [{columns: [a, b], tvd}]."""
    d = min(len(names), _MAX_COLUMNS)
    real, synth = _rows(train_codes, rng), _rows(synth_codes, rng)
    return [{"columns": [names[i], names[j]], "tvd": round(marginal_tvd(real, synth, list(sizes), (i, j)), 6)}
            for i, j in itertools.combinations(range(d), 2)]


def correlation_matrices(real: pd.DataFrame, synth: pd.DataFrame, columns: Sequence[str]) -> dict[str, Any] | None:
    """Pearson correlation matrices of the numeric columns (undefined entries as 0), or None with < 2."""
    columns = list(columns)[:_MAX_COLUMNS]
    if len(columns) < 2:
        return None

    def matrix(frame: pd.DataFrame) -> list[list[float]]:
        values = pd.DataFrame({c: to_float(frame[c], c) for c in columns})
        corr = np.nan_to_num(values.where(np.isfinite(values)).corr(method="pearson").to_numpy(), nan=0.0)
        return [[round(float(v), 4) for v in row] for row in corr]

    return {"columns": columns, "real": matrix(real), "synthetic": matrix(synth)}


def dcr_histogram(synth: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame,
                  columns: Sequence[EmbeddingColumn], *, rng: np.random.Generator) -> dict[str, Any] | None:
    """Counts of Gower distance to the closest training row, for synthetic rows and for holdout rows
    (the control: real rows the model never saw), on shared bin edges."""
    if not len(train) or not len(synth) or not len(holdout) or not columns:
        return None

    def cut(frame: pd.DataFrame) -> pd.DataFrame:
        return frame if len(frame) <= _MAX_DCR else frame.iloc[np.sort(rng.choice(len(frame), _MAX_DCR, False))]

    reference = embed(train, columns)
    synth_d = distance_to_closest(embed(cut(synth), columns), reference, n_columns=len(columns))
    holdout_d = distance_to_closest(embed(cut(holdout), columns), reference, n_columns=len(columns))
    top = float(max(np.quantile(synth_d, 0.99), np.quantile(holdout_d, 0.99), 1e-6))
    edges = np.linspace(0.0, top, _DCR_BINS + 1)
    return {"edges": [round(float(e), 6) for e in edges],
            "synthetic_to_train": np.histogram(np.minimum(synth_d, top), edges)[0].tolist(),
            "holdout_to_train": np.histogram(np.minimum(holdout_d, top), edges)[0].tolist(),
            "n_synthetic": len(synth_d), "n_holdout": len(holdout_d)}


def report_details(*, train_codes: np.ndarray, synth_codes: np.ndarray, sizes: Sequence[int], names: Sequence[str],
                   numeric: tuple[pd.DataFrame, pd.DataFrame, Sequence[str]],
                   views: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], embedding: Sequence[EmbeddingColumn],
                   seed: int) -> dict[str, Any]:
    """The report's extra details; `views` are (synthetic, train, holdout) model views. Randomness
    (row subsamples) comes from its own stream of `seed`, so the gate's figures are unchanged."""
    rng = np.random.default_rng([seed, 4])
    real_numeric, synth_numeric, numeric_columns = numeric
    correlation = correlation_matrices(real_numeric, synth_numeric, numeric_columns)
    return {"tvd_2way_pairs": pairwise_tvd(train_codes, synth_codes, sizes, names, rng=rng),
            "correlation_matrices": correlation,
            "dcr_histogram": dcr_histogram(*views, embedding, rng=rng)}
