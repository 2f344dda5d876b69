"""Train on synthetic, test on real (TSTR): does a model fitted to the synthetic table work on real data?

The same gradient-boosting model is fitted once on real training rows and once on synthetic rows,
and both are scored on the same real test rows. Both scores are 0 for a model no better than a
constant (or than chance) and 1 for a perfect one, so `ratio` reads as the share of the real
model's skill that the synthetic table keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

from .correlation import to_float
from .marginals import MetricError

__all__ = ["TstrResult", "tstr", "synthetic_predictor", "adjusted_balanced_accuracy", "CLASSIFICATION_METRIC", "REGRESSION_METRIC"]

CLASSIFICATION_METRIC = "balanced_accuracy_adjusted"
REGRESSION_METRIC = "r2"
_MAX_BINS = 255  # HGB's native categorical support takes at most this many categories per feature
_MIN_REAL_SCORE = 1e-9  # below this the real model has no skill to keep, and the ratio is undefined

Task = Literal["classification", "regression"]


@dataclass(frozen=True, slots=True)
class TstrResult:
    """Scores on the real test rows; `ratio` = score_synth / score_real, None when score_real is ~0.

    `ratio` can exceed 1 when the synthetic-trained model happens to score higher.
    """

    metric: str
    score_real: float
    score_synth: float
    ratio: float | None


def tstr(
    real_train: pd.DataFrame,
    real_test: pd.DataFrame,
    synth: pd.DataFrame,
    *,
    target: str,
    categorical: Sequence[str],
    numeric: Sequence[str],
    rng_seed: int,
    max_iter: int = 100,
    n_threads: int | None = 1,
) -> TstrResult:
    """Fit HistGradientBoosting on real_train and on synth, score both on real_test.

    Classification is scored by balanced accuracy adjusted for chance, clipped at 0: per-class
    recall averaged over the real test classes, rescaled so that a constant or random predictor
    scores 0. Plain accuracy would let a model that always predicts the majority class (what a
    synthetic table that lost every relation teaches) look good on an imbalanced target. Macro-F1
    is undefined for classes never predicted, and has no fixed chance level. Regression is scored
    by R^2 clipped at 0, which has the same 0 = constant-predictor anchor.

    Rows with a null target are dropped. Categories unseen in training are treated as missing.
    A training sample with a single target value predicts that value (or its mean).

    `n_threads` caps HGB's OpenMP threads (None: the library default). One thread is the default
    because on a few thousand rows thread barriers cost more than they save, and on a busy host
    spinning OpenMP threads stalled single fits for over a minute (measured on 2 vCPUs).
    """
    task = _task(target, categorical, numeric)
    cat = [c for c in categorical if c != target]
    num = [c for c in numeric if c != target]
    if not cat and not num:
        raise MetricError("tstr needs at least one feature column besides the target")
    if max_iter < 1:
        raise MetricError("max_iter must be at least 1")
    if n_threads is not None and n_threads < 1:
        raise MetricError("n_threads must be at least 1, or None for the library default")
    X_train, y_train = _prepare(real_train, "real_train", cat, num, target, task)
    X_test, y_test = _prepare(real_test, "real_test", cat, num, target, task)
    X_synth, y_synth = _prepare(synth, "synth", cat, num, target, task)
    if y_train.size == 0 or y_test.size == 0:
        raise MetricError("real_train and real_test each need rows with a non-null target")
    if task == "classification" and np.unique(y_test).size < 2:
        raise MetricError("the real test rows hold a single target class: TSTR is undefined")

    def score(X: pd.DataFrame, y: np.ndarray) -> float:
        if y.size == 0:  # a synthetic table with no usable target teaches nothing
            return 0.0
        predicted = _fit_predict(task, X, y, X_test, n_cat=len(cat), seed=rng_seed, max_iter=max_iter)
        if task == "classification":
            return adjusted_balanced_accuracy(y_test, predicted)
        return max(0.0, float(r2_score(y_test, predicted)))

    with threadpool_limits(limits=n_threads, user_api="openmp"):
        score_real, score_synth = score(X_train, y_train), score(X_synth, y_synth)
    ratio = score_synth / score_real if score_real > _MIN_REAL_SCORE else None
    metric = CLASSIFICATION_METRIC if task == "classification" else REGRESSION_METRIC
    return TstrResult(metric=metric, score_real=score_real, score_synth=score_synth, ratio=ratio)


def synthetic_predictor(synth: pd.DataFrame, *, target: str, categorical: Sequence[str], numeric: Sequence[str],
                        rng_seed: int, tolerance: float, max_iter: int = 100) -> Callable[[pd.DataFrame], np.ndarray]:
    """A model fitted on the synthetic table alone (public), as a per-row predicate for real rows:
    True where it predicts the row's target right (a class exactly; a number within `tolerance`).
    The DP gate counts these rows on the holdout, with noise: each row adds at most 1."""
    task = _task(target, categorical, numeric)
    cat = [c for c in categorical if c != target]
    num = [c for c in numeric if c != target]
    if not cat and not num:
        raise MetricError("tstr needs at least one feature column besides the target")
    X_synth, y_synth = _prepare(synth, "synth", cat, num, target, task)
    if y_synth.size == 0:
        raise MetricError("the synthetic sample has no rows with a target value")

    def correct(frame: pd.DataFrame) -> np.ndarray:
        if task == "classification":
            truth = _categories(frame[target])
        else:
            truth = to_float(frame[target], target)
        features = pd.DataFrame({c: _categories(frame[c]) for c in cat} | {c: to_float(frame[c], c) for c in num},
                                columns=[*cat, *num])
        with threadpool_limits(limits=1, user_api="openmp"):
            predicted = _fit_predict(task, X_synth, y_synth, features, n_cat=len(cat), seed=rng_seed,
                                     max_iter=max_iter)
        if task == "classification":
            known = ~pd.isna(truth)
            right: np.ndarray = known & (predicted.astype(str) == truth.astype(str))
            return right
        with np.errstate(invalid="ignore"):
            close: np.ndarray = np.isfinite(truth) & (np.abs(predicted.astype(float) - truth) <= tolerance)
            return close

    return correct


def adjusted_balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes of y_true, rescaled so chance (1/k) is 0, clipped to [0, 1].

    Computed here rather than by sklearn so that predicted classes absent from y_true cost recall
    without a warning, and so the clip to 0 matches the regression score's anchor.
    """
    classes = np.unique(y_true)
    if classes.size < 2:
        raise MetricError("balanced accuracy adjusted for chance needs at least two true classes")
    recalls = [float(np.mean(y_pred[y_true == c] == c)) for c in classes]
    chance = 1.0 / classes.size
    return float(np.clip((np.mean(recalls) - chance) / (1.0 - chance), 0.0, 1.0))


def _task(target: str, categorical: Sequence[str], numeric: Sequence[str]) -> Task:
    if len(set(categorical) | set(numeric)) != len(categorical) + len(numeric):
        raise MetricError("categorical and numeric columns must be distinct")
    if target in categorical:
        return "classification"
    if target in numeric:
        return "regression"
    raise MetricError(f"target '{target}' must be listed in categorical or numeric")


def _prepare(
    frame: pd.DataFrame, which: str, cat: list[str], num: list[str], target: str, task: Task
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features (categorical as str objects with NaN, numeric as float) and the non-null target."""
    if missing := [c for c in [*cat, *num, target] if c not in frame.columns]:
        raise MetricError(f"{which} lacks columns {missing}")
    if task == "classification":
        y = _categories(frame[target])
        keep = ~pd.isna(y)
    else:
        y = to_float(frame[target], target)
        keep = np.isfinite(y)
    features = {c: _categories(frame[c]) for c in cat} | {c: to_float(frame[c], c) for c in num}
    X = pd.DataFrame(features, columns=[*cat, *num])[keep].reset_index(drop=True)
    return X, (y[keep].astype(str) if task == "classification" else y[keep])


def _categories(series: pd.Series) -> np.ndarray:
    """Object array of str values with np.nan for nulls (one null marker, one value type to sort)."""
    null = series.isna().to_numpy()
    values = series.astype(object).to_numpy(copy=True)
    values[~null] = [str(v) for v in values[~null]]
    values[null] = np.nan
    return values


def _fit_predict(
    task: Task, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame, *, n_cat: int, seed: int, max_iter: int
) -> np.ndarray:
    if np.unique(y).size < 2:  # nothing to learn: predict the one value seen
        constant = y[0] if task == "classification" else float(y.mean())
        return np.full(len(X_test), constant, dtype=object if task == "classification" else float)
    columns = list(X.columns)
    encoder = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",  # unseen in training -> missing, not a crash
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                    max_categories=_MAX_BINS,  # rarer levels pooled, to fit HGB's categorical limit
                ),
                columns[:n_cat],
            ),
            ("num", "passthrough", columns[n_cat:]),
        ]
    )
    mask = [True] * n_cat + [False] * (len(columns) - n_cat)
    params = {"max_iter": max_iter, "early_stopping": False, "random_state": seed, "categorical_features": mask}
    model = (HistGradientBoostingClassifier if task == "classification" else HistGradientBoostingRegressor)(**params)
    return np.asarray(Pipeline([("encode", encoder), ("model", model)]).fit(X, y).predict(X_test))
