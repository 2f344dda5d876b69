"""Check: utility and disclosure-risk figures of the synthetic table against training and holdout rows.

These figures read real data and are not DP: they go to the internal report and the gate,
never into the release package. They catch bugs and bad fits; the DP guarantee is the proof.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthgate.privacy.risk.distance import disclosure_risk
from synthgate.privacy.risk.embedding import EmbeddingColumn
from synthgate.quality.metrics.correlation import correlation_error
from synthgate.quality.metrics.marginals import MetricError, marginal_tvd, mean_max_tvd
from synthgate.quality.metrics.report_details import report_details
from synthgate.quality.metrics.tstr import tstr

from .config import ReleaseConfig
from .encode import BooleanCodec, CategoricalCodec, DatetimeCodec, NumericCodec, TableCodec

__all__ = ["CheckInputs", "run_checks", "model_view", "embedding_column"]

_MAX_SETS = 300


@dataclass
class CheckInputs:
    config: ReleaseConfig
    codec: TableCodec
    train_codes: np.ndarray
    synth_codes: np.ndarray
    train_sample: pd.DataFrame
    holdout_sample: pd.DataFrame
    synth_sample: pd.DataFrame
    seed: int


def run_checks(inputs: CheckInputs) -> tuple[dict[str, float | None], dict[str, Any]]:
    """(figures for the gate, details for the report)."""
    rng = np.random.default_rng([inputs.seed, 3])
    sizes = list(inputs.codec.domain.sizes)
    figures: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    d = len(sizes)
    for way in (1, 2, 3):
        if way > d:
            figures[f"tvd_{way}way_mean"] = figures[f"tvd_{way}way_max"] = None
            continue
        result = mean_max_tvd(inputs.train_codes, inputs.synth_codes, sizes, way=way, max_sets=_MAX_SETS, rng=rng)
        figures[f"tvd_{way}way_mean"], figures[f"tvd_{way}way_max"] = result.mean, result.max
        details[f"tvd_{way}way"] = {"n_sets": result.n_sets, "sampled": result.sampled}

    synth = inputs.synth_sample
    numeric = [c.name for c in inputs.codec.codecs if isinstance(c, NumericCodec)]
    correlation = correlation_error(_numeric_view(inputs.train_sample, inputs.codec),
                                    _numeric_view(synth, inputs.codec), numeric)
    figures["correlation_error"] = None if correlation is None else correlation.max_abs
    details["correlation"] = None if correlation is None else {"max_abs": correlation.max_abs,
                                                              "frobenius": correlation.frobenius}

    target = inputs.config.utility.target
    figures["tstr_ratio"] = None
    if target is not None:
        categorical = [c.name for c in inputs.codec.codecs if isinstance(c, CategoricalCodec | BooleanCodec)]
        try:
            with threadpool_limits(limits=1):  # OpenMP spin-waits badly on a busy 2-core machine
                result = tstr(model_view(inputs.train_sample, inputs.codec),
                              model_view(inputs.holdout_sample, inputs.codec), model_view(synth, inputs.codec),
                              target=target, categorical=categorical, numeric=numeric, rng_seed=inputs.seed)
        except MetricError as exc:  # e.g. a target with one class in the holdout: not computable, said so
            details["tstr"] = {"target": target, "not_computable": str(exc)}
        else:
            figures["tstr_ratio"] = result.ratio
            details["tstr"] = {"target": target, "metric": result.metric, "score_real": result.score_real,
                               "score_synth": result.score_synth, "ratio": result.ratio}

    embedding = [embedding_column(c) for c in inputs.codec.codecs]
    risk = disclosure_risk(model_view(synth, inputs.codec), model_view(inputs.train_sample, inputs.codec),
                           model_view(inputs.holdout_sample, inputs.codec), embedding, rng=rng)
    figures["exact_match_excess"] = risk.exact_match_excess
    figures["near_match_excess"] = risk.near_match_share - risk.near_match_baseline
    figures["train_closer_share"] = risk.train_closer_share
    details["risk"] = asdict(risk)
    details["sample_rows"] = {"train": len(inputs.train_sample), "holdout": len(inputs.holdout_sample),
                              "synthetic": len(inputs.synth_sample)}
    details["columns"] = _per_column(inputs)
    details.update(report_details(  # internal report's plots only; decides nothing
        train_codes=inputs.train_codes, synth_codes=inputs.synth_codes, sizes=sizes,
        names=[c.name for c in inputs.codec.codecs],
        numeric=(_numeric_view(inputs.train_sample, inputs.codec), _numeric_view(synth, inputs.codec), numeric),
        views=(model_view(synth, inputs.codec), model_view(inputs.train_sample, inputs.codec),
               model_view(inputs.holdout_sample, inputs.codec)), embedding=embedding, seed=inputs.seed))
    return figures, details


def _per_column(inputs: CheckInputs) -> list[dict[str, Any]]:
    """Per column: public labels with real and synthetic shares, and the column's 1-way TVD."""
    rows = []
    n_real, n_synth = max(len(inputs.train_codes), 1), max(len(inputs.synth_codes), 1)
    for j, codec in enumerate(inputs.codec.codecs):
        real = np.bincount(inputs.train_codes[:, j], minlength=codec.n_codes) / n_real
        synth = np.bincount(inputs.synth_codes[:, j], minlength=codec.n_codes) / n_synth
        rows.append({
            "column": codec.name,
            "domain": codec.describe(),
            "tvd": marginal_tvd(inputs.train_codes, inputs.synth_codes, list(inputs.codec.domain.sizes), (j,)),
            "labels": codec.labels(),
            "real_share": [round(float(v), 6) for v in real],
            "synthetic_share": [round(float(v), 6) for v in synth],
        })
    return rows


def _numeric_view(frame: pd.DataFrame, codec: TableCodec) -> pd.DataFrame:
    out = {}
    for c in codec.codecs:
        if isinstance(c, DatetimeCodec):
            out[c.name] = _epoch_seconds(frame[c.name])
        elif isinstance(c, NumericCodec):
            out[c.name] = frame[c.name].astype(float)
    return pd.DataFrame(out, index=frame.index)


def model_view(frame: pd.DataFrame, codec: TableCodec) -> pd.DataFrame:
    """Model-ready columns: categoricals as object strings, numerics as float, datetimes as epoch seconds."""
    out = {}
    for c in codec.codecs:
        values = frame[c.name]
        if isinstance(c, DatetimeCodec):
            out[c.name] = _epoch_seconds(values)
        elif isinstance(c, NumericCodec):
            out[c.name] = values.astype(float)
        elif isinstance(c, BooleanCodec):
            out[c.name] = values.astype(object).map({True: "true", False: "false"})
        else:
            out[c.name] = values.astype(object)
    return pd.DataFrame(out, index=frame.index)


def embedding_column(codec: Any) -> EmbeddingColumn:
    if isinstance(codec, CategoricalCodec):
        return EmbeddingColumn(codec.name, "categorical", categories=tuple(codec.categories))
    if isinstance(codec, BooleanCodec):
        return EmbeddingColumn(codec.name, "categorical", categories=("false", "true"))
    return EmbeddingColumn(codec.name, "numeric", low=codec.low, high=codec.high)


def _epoch_seconds(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, utc=True)
    seconds = stamps.astype("datetime64[ns, UTC]").astype("int64") / 1e9
    return seconds.where(stamps.notna())
