"""Check: the figures the gate decides on (DP, charged) and the exact ones for the internal report.

The DP figures come only from `PrivateChecks` (privacy/checks.py): noisy counts over the training
rows and the two check samples, each charged under `gate:<check>`. Everything they depend on
besides those answers is public: the synthetic table (a DP output), the public domains, the config.
- exact/near matches: rows of each check sample with an exact (or within `gate.near_match_distance`
  Gower) synthetic copy, counted over the first k rows of each sample, with k public (from the noisy
  row counts); the figure is the training rate less the holdout rate, so it means "memorised":
  unseen rows from the same population get copies as often by chance.
- TVD: a noisy Σ|N − n·q| over the marginals (q: the synthetic shares), divided by 2·ñ·(marginals).
- clamped / `__other__` shares: noisy counts per column over the noisy row count.
- Fixed cost: the marginal checks (TVD, `__other__` share, and the exact marginal figures of the
  internal report) count the `gate.sample_rows` training rows with the smallest secret priorities
  (pipeline/split.py: keyed on a row's content and occurrence, so the manifest and seed cannot redo
  the sample on a neighbouring table) and as many synthetic rows, drawn with the seed (they are
  public). A neighbour still moves the sample by at most one row in and one out, so the
  sensitivities are those of the whole table; n is then the sample's size, min(ñ, cap), public.
  Tables up to the cap are counted whole, as before. The clamped counts are made while encoding
  every row, and stay over all of them.
- TSTR: holdout rows that a model fitted to the synthetic table predicts right, over k.

The exact figures (today's utility and risk figures, and the exact counterpart of each DP figure)
read the real data without noise: they go to the internal report, and into the decision only for
the non-DP checks a config names in `gate.non_dp_checks`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from synthgate.privacy.accountant import Accountant
from synthgate.privacy.checks import NoisyCounts, PrivateChecks, SamplePredicate
from synthgate.privacy.risk.distance import disclosure_risk, distance_to_closest
from synthgate.privacy.risk.embedding import EmbeddingColumn, embed
from synthgate.privacy.risk.exact_match import row_ids
from synthgate.quality.metrics.correlation import correlation_error
from synthgate.quality.metrics.marginals import MetricError, column_sets, marginal_tvd, mean_max_tvd
from synthgate.quality.metrics.report_details import report_details
from synthgate.quality.metrics.tstr import synthetic_predictor, tstr

from .config import ReleaseConfig
from .context import RunContext
from .domains import Domains
from .samples import synthetic_rows
from .synthesize import Sampled
from .training import Encoded
from .validate import Validated
from .encode import BooleanCodec, CategoricalCodec, DatetimeCodec, NumericCodec, TableCodec
from .gate import RULES, Figure

__all__ = ["CheckInputs", "Checked", "run_checks", "measure_gate", "model_view", "embedding_column", "exact_counts",
           "synthetic_sample"]

_MAX_SETS = 300
_TVD_WAYS = {"tvd_1way_mean": 1, "tvd_2way_mean": 2}  # gate check -> the order of its marginals
_TSTR_TOLERANCE = 0.1  # a number counts as predicted right within this share of its column's range


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
    n_holdout: int = 0
    clamped: dict[str, int] = field(default_factory=dict)
    n_train: int | None = None  # every training row; None: `train_codes` holds them all

    @classmethod
    def of(cls, run: RunContext, validated: Validated, domains: Domains, encoded: Encoded,
           sampled: Sampled) -> CheckInputs:
        """The checks' inputs from the stages before them: training and synthetic codes cut to the
        marginal checks' samples (`gate.sample_rows`; see the module's docstring)."""
        return cls(config=run.config, codec=domains.codec, train_codes=_rows(encoded.codes, validated.check_rows),
                   synth_codes=synthetic_sample(sampled.codes, run.config.gate.sample_rows, run.seed),
                   train_sample=validated.train_sample, holdout_sample=validated.holdout_sample,
                   synth_sample=sampled.head, seed=run.seed, n_holdout=validated.n_holdout,
                   clamped=dict(encoded.clamped), n_train=encoded.rows)

    @property
    def rows_trained(self) -> int:
        return len(self.train_codes) if self.n_train is None else self.n_train


def _rows(codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """`codes[rows]`, without a copy when `rows` are all of them (a table no larger than the cap)."""
    return codes if len(rows) == len(codes) else codes[rows]


def synthetic_sample(codes: np.ndarray, size: int, seed: int) -> np.ndarray:
    """At most `size` synthetic rows drawn with the seed (`samples.synthetic_rows`; codes the sampler
    already cut to those rows come back as they are)."""
    rows = synthetic_rows(len(codes), size, seed)
    return codes if rows is None else codes[rows]


@dataclass(frozen=True)
class Checked:
    """`figures`: what the gate sees (DP ones, and non-DP ones marked so). `exact`: the exact counterpart
    of each DP figure, for the internal report. `queries`: the noisy answers and their charges."""

    figures: dict[str, Figure]
    exact: dict[str, float | None]
    details: dict[str, Any]
    queries: list[dict[str, object]]


PrivateFactory = Callable[..., PrivateChecks]


def exact_counts(codec: TableCodec, codes: np.ndarray, clamped: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per-column counts for the clamped and `__other__` checks (exact: handed to PrivateChecks only)."""
    other = {c.name: int((codes[:, j] == len(c.categories)).sum()) for j, c in enumerate(codec.codecs)
             if isinstance(c, CategoricalCodec) and c.other}
    return {"clamped_share": dict(clamped), "other_share": other}


def run_checks(inputs: CheckInputs, *, accountant: Accountant, costs: dict[str, float],
               private_checks: PrivateFactory = PrivateChecks) -> Checked:
    """DP gate figures (charged to `accountant` at `costs`), then the exact internal figures."""
    measured = measure_gate(inputs, accountant=accountant, costs=costs, private_checks=private_checks)
    internal, details = _exact_figures(inputs)
    figures = dict(measured.figures)
    for name, value in internal.items():
        figures[name] = Figure(value, dp=False)
    details["gate_queries"] = measured.details["gate_queries"]
    return Checked(figures, {**measured.exact, **internal}, details, measured.queries)


def measure_gate(inputs: CheckInputs, *, accountant: Accountant, costs: dict[str, float],
                 private_checks: PrivateFactory = PrivateChecks) -> Checked:
    """The DP gate figures alone: every read of the data is one of `private_checks`' noisy queries."""
    if len(inputs.train_codes) > inputs.config.gate.sample_rows:
        raise ValueError("train_codes holds more rows than gate.sample_rows: pass the check sample (CheckInputs.of)")
    private = private_checks(codes=inputs.train_codes, n_train=inputs.rows_trained, domain=inputs.codec.domain,
                             train_sample=inputs.train_sample, holdout_sample=inputs.holdout_sample,
                             n_holdout=inputs.n_holdout,
                             column_counts=exact_counts(inputs.codec, inputs.train_codes, inputs.clamped),
                             accountant=accountant, contribution=inputs.config.contribution)
    answers: list[NoisyCounts] = []
    figures = _dp_figures(inputs, private, costs, answers)
    exact_answers = private.exact_for_report()
    exact = _dp_figures_from_exact(inputs, costs, answers, exact_answers)
    details = {"gate_queries": [{**a.to_json(), "exact": exact_answers.get(a.label)} for a in answers]}
    return Checked(figures, exact, details, [a.to_json() for a in answers])


# --- DP figures ---------------------------------------------------------------------------------

def _dp_figures(inputs: CheckInputs, private: PrivateChecks, costs: dict[str, float],
                answers: list[NoisyCounts]) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    if "rows" not in costs:
        return figures
    rows = private.row_counts(cost=costs["rows"])
    answers.append(rows)
    plan = _SamplePlan.of(inputs, rows)
    synth = model_view(inputs.synth_sample, inputs.codec)
    for name, predicate in (("exact_match_excess", _exact_copy(inputs, synth)),
                            ("near_match_excess", _near_copy(inputs, synth))):
        if name in costs:
            figures[name] = (_too_noisy_to_decide(private, inputs, name, costs[name], plan)
                             or _rate_excess(private, name, predicate, costs[name], plan, answers))
    for name in _TVD_WAYS:
        if name in costs:
            figures[name] = _tvd(private, inputs, name, costs[name], plan, answers)
    for name, scale in (("clamped_share", plan.n_train), ("other_share", plan.n_sample)):
        if name in costs:
            note = plan.sample_note(inputs) if name == "other_share" else None
            figures[name] = _column_shares(private, (name, scale, note), costs[name], answers)
    if "tstr_score" in costs:
        figures["tstr_score"] = _tstr_score(private, inputs, synth, costs["tstr_score"], plan, answers)
    return figures


@dataclass(frozen=True)
class _SamplePlan:
    """Public sizes derived from the noisy row counts: the row count for shares, the size of the
    marginal checks' sample (min(ñ, gate.sample_rows)), and k, the number of rows of each check
    sample compared (k sits 3 noise deviations below the noisy counts, so both samples almost
    surely hold k rows)."""

    n_train: float
    n_sample: float
    k_pair: int
    k_holdout: int

    @classmethod
    def of(cls, inputs: CheckInputs, rows: NoisyCounts) -> _SamplePlan:
        cap = inputs.config.utility.sample_rows
        train, holdout = rows["train"], rows["holdout"]
        margin = 3 * rows.stddev
        k_holdout = int(max(0, math.floor(min(cap, holdout - margin))))
        k_pair = int(max(0, math.floor(min(cap, train - margin, holdout - margin))))
        n_train = max(train, 1.0)
        return cls(n_train, min(n_train, float(inputs.config.gate.sample_rows)), k_pair, k_holdout)

    def sample_note(self, inputs: CheckInputs) -> str | None:
        """Says so when the marginal checks counted a sample (judged on the noisy count: public)."""
        cap = inputs.config.gate.sample_rows
        return f"counted over a secret sample of {cap:,} training rows" if self.n_train > cap else None


def _too_noisy_to_decide(private: PrivateChecks, inputs: CheckInputs, name: str, cost: float,
                         plan: _SamplePlan) -> Figure | None:
    """A comparison over so few rows that even the largest excess a rate can show (1: every compared
    row a copy) would not pass its limit (threshold + hold_margin noise sds) is not asked, nor charged:
    it could only fail by noise. A 2,000-row table compared k = 1 rows, sd 2.8 against a threshold of
    0.05, and held about 1 release in 50. Judged on public figures only: the cost, the noisy row
    counts and the config."""
    gate = inputs.config.gate
    threshold = getattr(gate, RULES[name].threshold_field)
    if plan.k_pair < 1 or threshold is None:
        return None
    contribution = inputs.config.contribution
    stddev = private.stddev(cost, l2=contribution, l1=contribution) * math.sqrt(2) / plan.k_pair
    limit = threshold + gate.hold_margin * stddev
    if limit < 1.0:
        return None
    return Figure(None, note=f"too few rows compared ({plan.k_pair:,}) for a DP figure that could decide: with noise "
                             f"sd {stddev:.2g} it would fail only past {limit:.3g}, above the largest possible "
                             "excess (1); not asked")


def _rate_excess(private: PrivateChecks, name: str, predicate: SamplePredicate, cost: float, plan: _SamplePlan,
                 answers: list[NoisyCounts]) -> Figure:
    if plan.k_pair < 1:
        return Figure(None, note="too few rows on one side of the split for the DP comparison")
    hits = private.side_hits(name, predicate, cost=cost, first=plan.k_pair)
    answers.append(hits)
    return Figure((hits["train"] - hits["holdout"]) / plan.k_pair, hits.stddev * math.sqrt(2) / plan.k_pair)


def _tvd(private: PrivateChecks, inputs: CheckInputs, name: str, cost: float, plan: _SamplePlan,
         answers: list[NoisyCounts]) -> Figure:
    way = _TVD_WAYS[name]
    sizes = list(inputs.codec.domain.sizes)
    columns = inputs.codec.domain.columns
    sets = column_sets(len(sizes), way, max_sets=_MAX_SETS, rng=np.random.default_rng([inputs.seed, 3, way]))
    marginals = [tuple(columns[i] for i in s) for s in sets]
    shares = [_synthetic_shares(inputs.synth_codes, sizes, s) for s in sets]
    answer = private.l1_deviation(name, marginals, shares, cost=cost)
    answers.append(answer)
    scale = 2 * plan.n_sample * len(marginals)
    return Figure(max(0.0, answer["l1"]) / scale, answer.stddev / scale, note=plan.sample_note(inputs))


def _synthetic_shares(codes: np.ndarray, sizes: list[int], columns: tuple[int, ...]) -> np.ndarray:
    shape = tuple(sizes[i] for i in columns)
    flat = np.ravel_multi_index(tuple(codes[:, i] for i in columns), shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)
    shares: np.ndarray = counts / max(codes.shape[0], 1)
    return shares


def _column_shares(private: PrivateChecks, counts: tuple[str, float, str | None], cost: float,
                   answers: list[NoisyCounts]) -> Figure:
    """Noisy per-column shares: `counts` names the counts, the (public) number of rows they are over,
    and a note saying when that is a sample."""
    name, rows, note = counts
    answer = private.column_counts(name, cost=cost)
    answers.append(answer)
    shares = {column: value / rows for column, value in zip(answer.names, answer.values)}
    return Figure(max(shares.values()), answer.stddev / rows, columns=shares, note=note)


def _tstr_score(private: PrivateChecks, inputs: CheckInputs, synth: pd.DataFrame, cost: float, plan: _SamplePlan,
                answers: list[NoisyCounts]) -> Figure:
    target = inputs.config.utility.target
    if plan.k_holdout < 1 or target is None:
        return Figure(None, note="too few holdout rows for the DP count")
    codecs = {c.name: c for c in inputs.codec.codecs}
    target_codec = codecs[target]
    tolerance = _TSTR_TOLERANCE * (float(target_codec.high) - float(target_codec.low)) \
        if isinstance(target_codec, NumericCodec) else 0.0
    try:
        correct = synthetic_predictor(synth, target=target, categorical=_categorical(inputs.codec),
                                      numeric=_numeric(inputs.codec), rng_seed=inputs.seed, tolerance=tolerance)
    except MetricError as exc:
        return Figure(None, note=str(exc))
    hits = private.side_hits("tstr_score", lambda frame: correct(model_view(frame, inputs.codec)), cost=cost,
                             first=plan.k_holdout, sides=("holdout",))
    answers.append(hits)
    return Figure(hits["holdout"] / plan.k_holdout, hits.stddev / plan.k_holdout)


def _exact_copy(inputs: CheckInputs, synth: pd.DataFrame) -> SamplePredicate:
    def predicate(frame: pd.DataFrame) -> np.ndarray:
        view = model_view(frame, inputs.codec)
        ids = row_ids(view, synth[view.columns])
        return np.isin(ids[: len(view)], ids[len(view):])
    return predicate


def _near_copy(inputs: CheckInputs, synth: pd.DataFrame) -> SamplePredicate:
    columns = [embedding_column(c) for c in inputs.codec.codecs]
    synth_embedding = embed(synth, columns)
    distance = inputs.config.gate.near_match_distance

    def predicate(frame: pd.DataFrame) -> np.ndarray:
        closest = distance_to_closest(embed(model_view(frame, inputs.codec), columns), synth_embedding,
                                      n_columns=len(columns))
        return closest <= distance
    return predicate


def _dp_figures_from_exact(inputs: CheckInputs, costs: dict[str, float], answers: list[NoisyCounts],
                           exact: dict[str, list[float]]) -> dict[str, float | None]:
    """The same formulas on the exact answers, for the internal report's "DP figure vs exact" view."""
    out: dict[str, float | None] = {}
    if "gate:rows" not in exact:
        return out
    n_train = max(exact["gate:rows"][0], 1.0)
    n_sample = max(float(len(inputs.train_codes)), 1.0)
    noisy = {a.label: a for a in answers}
    for answer in answers:
        values = exact[answer.label]
        name = answer.label.removeprefix("gate:")
        if name in ("exact_match_excess", "near_match_excess"):
            k = _k_from(noisy, inputs)
            out[name] = (values[0] - values[1]) / k if k else None
        elif name.startswith("tvd_"):
            n_sets = len(column_sets(len(inputs.codec.domain.sizes), int(name[4]), max_sets=_MAX_SETS,
                                     rng=np.random.default_rng([inputs.seed, 3, int(name[4])])))
            out[name] = values[0] / (2 * n_sample * n_sets)
        elif name in ("clamped_share", "other_share"):
            rows = n_train if name == "clamped_share" else n_sample
            out[name] = max(values) / rows if values else None
        elif name == "tstr_score":
            k_holdout = _SamplePlan.of(inputs, noisy["gate:rows"]).k_holdout
            out[name] = values[0] / k_holdout if k_holdout else None
    return out


def _k_from(noisy: dict[str, NoisyCounts], inputs: CheckInputs) -> int:
    return _SamplePlan.of(inputs, noisy["gate:rows"]).k_pair


# --- exact figures (internal report only) ---------------------------------------------------------

def _exact_figures(inputs: CheckInputs) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Today's exact utility and risk figures: internal, and deciding only when a config opts in."""
    rng = np.random.default_rng([inputs.seed, 3])
    sizes = list(inputs.codec.domain.sizes)
    figures: dict[str, float | None] = {}
    details: dict[str, Any] = {}
    d = len(sizes)
    for way in (1, 2, 3):
        if way > d:
            continue
        result = mean_max_tvd(inputs.train_codes, inputs.synth_codes, sizes, way=way, max_sets=_MAX_SETS, rng=rng)
        details[f"tvd_{way}way"] = {"n_sets": result.n_sets, "sampled": result.sampled, "mean": result.mean,
                                    "max": result.max}

    synth = inputs.synth_sample
    numeric = _numeric(inputs.codec)
    correlation = correlation_error(_numeric_view(inputs.train_sample, inputs.codec),
                                    _numeric_view(synth, inputs.codec), numeric)
    figures["correlation_error"] = None if correlation is None else correlation.max_abs
    details["correlation"] = None if correlation is None else {"max_abs": correlation.max_abs,
                                                              "frobenius": correlation.frobenius}

    target = inputs.config.utility.target
    figures["tstr_ratio"] = None
    if target is not None:
        try:
            with threadpool_limits(limits=1):  # OpenMP spin-waits badly on a busy 2-core machine
                scores = tstr(model_view(inputs.train_sample, inputs.codec),
                              model_view(inputs.holdout_sample, inputs.codec), model_view(synth, inputs.codec),
                              target=target, categorical=_categorical(inputs.codec), numeric=numeric,
                              rng_seed=inputs.seed)
        except MetricError as exc:  # e.g. a target with one class in the holdout: not computable, said so
            details["tstr"] = {"target": target, "not_computable": str(exc)}
        else:
            figures["tstr_ratio"] = scores.ratio
            details["tstr"] = {"target": target, "metric": scores.metric, "score_real": scores.score_real,
                               "score_synth": scores.score_synth, "ratio": scores.ratio}

    embedding = [embedding_column(c) for c in inputs.codec.codecs]
    risk = disclosure_risk(model_view(synth, inputs.codec), model_view(inputs.train_sample, inputs.codec),
                           model_view(inputs.holdout_sample, inputs.codec), embedding, rng=rng)
    figures["train_closer_share"] = risk.train_closer_share
    details["risk"] = asdict(risk)
    details["sample_rows"] = {"train": len(inputs.train_sample), "holdout": len(inputs.holdout_sample),
                              "synthetic": len(inputs.synth_sample)}
    details["marginal_sample_rows"] = {"train": len(inputs.train_codes), "train_all": inputs.rows_trained,
                                       "synthetic": len(inputs.synth_codes)}
    details["columns"] = _per_column(inputs)
    details.update(report_details(  # internal report's plots only; decides nothing
        train_codes=inputs.train_codes, synth_codes=inputs.synth_codes, sizes=sizes,
        names=[c.name for c in inputs.codec.codecs],
        numeric=(_numeric_view(inputs.train_sample, inputs.codec), _numeric_view(synth, inputs.codec), numeric),
        views=(model_view(synth, inputs.codec), model_view(inputs.train_sample, inputs.codec),
               model_view(inputs.holdout_sample, inputs.codec)), embedding=embedding, seed=inputs.seed))
    return figures, details


def _categorical(codec: TableCodec) -> list[str]:
    return [c.name for c in codec.codecs if isinstance(c, CategoricalCodec | BooleanCodec)]


def _numeric(codec: TableCodec) -> list[str]:
    return [c.name for c in codec.codecs if isinstance(c, NumericCodec)]


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
