"""One scoring function for every method, so synthgate's models and MST are measured identically.

All figures compare a synthetic table with the real training rows (and, for TSTR and the
near-match check, the real holdout) of the same split. They use synthgate's own metric
functions (quality.metrics, privacy.risk) but are computed here, on this side, from the
decoded synthetic files: synthgate's internal report is not used for the comparison.

- k-way TVD: every row encoded with one *evaluation codec* (the config's public domains at the
  config's bins; for `estimate` columns, the DP domain that synthgate's reference run of this
  table/epsilon/seed published in its manifest). Mean over all 1-, 2- and 3-column marginals,
  or over the same 300 subsets drawn by a fixed generator when there are more.
- correlation error: worst absolute difference between the real and synthetic Pearson
  correlation matrices of the numeric/integer/datetime columns (all training rows, all
  synthetic rows; pairwise-complete).
- TSTR ratio: gradient boosting on the config's utility.target, trained on a sample of the
  synthetic rows and on a sample of the real training rows, both tested on a sample of the
  real holdout (up to `tstr_rows` each, 20,000 by default: the pipeline's 5,000 leave the
  ratio noisy when the real model's own skill is small); ratio of the two scores (balanced
  accuracy adjusted for chance, or R^2).
- near-match share: on samples of `sample_rows` (the config's utility.sample_rows, 5,000) of
  synthetic, training and holdout rows, the share of synthetic rows whose Gower distance to the
  closest training row is at most the holdout's 5% quantile of that distance (the holdout's own
  share is ~0.05; more where many rows tie).

Values of an estimated categorical column outside the published category list are replaced by
`__other__` in every frame (real and synthetic alike), so TSTR and the risk check see the same
levels the codec does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthgate.pipeline.check import embedding_column, model_view
from synthgate.pipeline.encode import OTHER, BooleanCodec, CategoricalCodec, NumericCodec, TableCodec
from synthgate.privacy.risk.distance import disclosure_risk
from synthgate.quality.metrics.correlation import correlation_error
from synthgate.quality.metrics.marginals import MetricError, mean_max_tvd
from synthgate.quality.metrics.tstr import tstr

__all__ = ["Reference", "prepare_reference", "score", "harmonise"]

MAX_SETS = 300  # k-way subsets per way, as synthgate's check stage


@dataclass
class Reference:
    """The real side of one comparison: encoded training rows and fixed samples."""

    codec: TableCodec
    train: pd.DataFrame
    train_codes: np.ndarray
    train_sample: pd.DataFrame
    holdout_sample: pd.DataFrame
    train_tstr: pd.DataFrame
    holdout_tstr: pd.DataFrame
    target: str | None
    seed: int
    sample_rows: int
    tstr_rows: int


def harmonise(frame: pd.DataFrame, codec: TableCodec) -> pd.DataFrame:
    """Values of estimated category lists outside the list become `__other__` (nulls stay)."""
    out = frame
    for c in codec.codecs:
        if isinstance(c, CategoricalCodec) and c.other:
            values = out[c.name]
            outside = values.notna() & ~values.isin(c.categories)
            if outside.any():
                if out is frame:
                    out = frame.copy()
                out[c.name] = values.where(~outside, OTHER)
    return out


def _sample(frame: pd.DataFrame, n: int, seed: int, stream: int) -> pd.DataFrame:
    if len(frame) <= n:
        return frame.reset_index(drop=True)
    rng = np.random.default_rng([seed, stream])
    keep = np.sort(rng.choice(len(frame), size=n, replace=False))
    return frame.iloc[keep].reset_index(drop=True)


def prepare_reference(codec: TableCodec, train: pd.DataFrame, holdout: pd.DataFrame, *, target: str | None,
                      seed: int, sample_rows: int, tstr_rows: int) -> Reference:
    """`sample_rows` for the near-match check (quadratic cost), `tstr_rows` for TSTR."""
    train = harmonise(train, codec)
    holdout = harmonise(holdout, codec)
    return Reference(codec=codec, train=train, train_codes=codec.encode(train),
                     train_sample=_sample(train, sample_rows, seed, 11),
                     holdout_sample=_sample(holdout, sample_rows, seed, 12),
                     train_tstr=_sample(train, tstr_rows, seed, 15),
                     holdout_tstr=_sample(holdout, tstr_rows, seed, 16),
                     target=target, seed=seed, sample_rows=sample_rows, tstr_rows=tstr_rows)


def score(ref: Reference, synth: pd.DataFrame, *, with_tstr: bool = True, with_risk: bool = True) -> dict[str, Any]:
    """Every figure for one synthetic table (canonical frame, as TableCodec.canonical returns)."""
    start = time.perf_counter()
    codec = ref.codec
    synth = harmonise(synth, codec)
    synth_codes = codec.encode(synth)
    sizes = list(codec.domain.sizes)
    out: dict[str, Any] = {"rows": len(synth)}
    for way in (1, 2, 3):
        if way > len(sizes):
            out[f"tvd_{way}way_mean"] = out[f"tvd_{way}way_max"] = None
            continue
        # The same generator seed for every method: the same subsets are compared.
        result = mean_max_tvd(ref.train_codes, synth_codes, sizes, way=way, max_sets=MAX_SETS,
                              rng=np.random.default_rng([ref.seed, 100 + way]))
        out[f"tvd_{way}way_mean"], out[f"tvd_{way}way_max"] = result.mean, result.max
        out[f"tvd_{way}way_sets"] = result.n_sets

    numeric = [c.name for c in codec.codecs if isinstance(c, NumericCodec)]
    corr = correlation_error(ref.train[numeric], synth[numeric], numeric) if len(numeric) >= 2 else None
    out["correlation_error"] = None if corr is None else corr.max_abs
    out["correlation_frobenius"] = None if corr is None else corr.frobenius
    out["correlation_columns"] = numeric

    out["tstr_ratio"] = None
    if with_tstr and ref.target is not None:
        categorical = [c.name for c in codec.codecs if isinstance(c, CategoricalCodec | BooleanCodec)]
        try:
            with threadpool_limits(limits=1):
                result = tstr(model_view(ref.train_tstr, codec), model_view(ref.holdout_tstr, codec),
                              model_view(_sample(synth, ref.tstr_rows, ref.seed, 17), codec), target=ref.target,
                              categorical=categorical,
                              numeric=numeric, rng_seed=ref.seed)
        except MetricError as exc:
            out["tstr"] = {"target": ref.target, "not_computable": str(exc)}
        else:
            out["tstr_ratio"] = result.ratio
            out["tstr_score_real"], out["tstr_score_synth"] = result.score_real, result.score_synth
            task = "classification" if ref.target in categorical else "regression"
            out["tstr"] = {"target": ref.target, "task": task, "metric": result.metric, "score_real": result.score_real,
                           "score_synth": result.score_synth}

    out["near_match_share"] = None
    if with_risk:
        synth_sample = _sample(synth, ref.sample_rows, ref.seed, 13)
        embedding = [embedding_column(c) for c in codec.codecs]
        risk = disclosure_risk(model_view(synth_sample, codec), model_view(ref.train_sample, codec),
                               model_view(ref.holdout_sample, codec), embedding, rng=np.random.default_rng([ref.seed, 14]))
        out["near_match_share"] = risk.near_match_share
        out["near_match_baseline"] = risk.near_match_baseline
        out["near_match_excess"] = risk.near_match_share - risk.near_match_baseline
        out["exact_match_share"] = risk.exact_match_share
        out["train_closer_share"] = risk.train_closer_share
    out["score_seconds"] = round(time.perf_counter() - start, 3)
    return out
