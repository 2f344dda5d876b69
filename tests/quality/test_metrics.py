"""Utility metrics: marginal TVD, correlation error, train-synthetic-test-real."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from synthgate.quality.metrics.correlation import correlation_error
from synthgate.quality.metrics.marginals import MetricError, marginal_tvd, mean_max_tvd
from synthgate.quality.metrics.tstr import adjusted_balanced_accuracy, tstr

EXACT = 1e-12  # sums of a few dozen float terms: only rounding separates them from the hand value


# --------------------------------------------------------------------------- marginals


def _reference_tvd(real: np.ndarray, synth: np.ndarray, columns: tuple[int, ...]) -> float:
    """Naive TVD over Python tuples, to check the vectorised one."""
    p = Counter(map(tuple, real[:, list(columns)].tolist()))
    q = Counter(map(tuple, synth[:, list(columns)].tolist()))
    return 0.5 * sum(abs(p[k] / len(real) - q[k] / len(synth)) for k in p.keys() | q.keys())


def test_tvd_of_identical_tables_is_zero() -> None:
    codes = np.random.default_rng(0).integers(0, 4, size=(500, 3))
    assert marginal_tvd(codes, codes.copy(), [4, 4, 4], (0, 2)) == 0.0


def test_tvd_of_disjoint_supports_is_one() -> None:
    real = np.array([[0, 0], [0, 1], [1, 0]])
    synth = np.array([[1, 1], [1, 1]])
    assert marginal_tvd(real, synth, [2, 2], (0, 1)) == pytest.approx(1.0, abs=EXACT)


def test_tvd_hand_case() -> None:
    # Cells (0,0),(0,1),(1,0),(1,1): real p = [1/4, 1/4, 0, 1/2], synth q = [1/2, 0, 1/4, 1/4].
    real = np.array([[0, 0], [0, 1], [1, 1], [1, 1]])
    synth = np.array([[0, 0], [0, 0], [1, 0], [1, 1]])
    assert marginal_tvd(real, synth, [2, 2], (0, 1)) == pytest.approx(0.5, abs=EXACT)
    assert marginal_tvd(real, synth, [2, 2], (0,)) == pytest.approx(0.0, abs=EXACT)  # both [1/2, 1/2]
    assert marginal_tvd(real, synth, [2, 2], (1,)) == pytest.approx(0.5, abs=EXACT)  # [1/4, 3/4] vs [3/4, 1/4]


def test_tvd_normalises_samples_of_different_sizes() -> None:
    real = np.array([[0], [1]])  # [1/2, 1/2]
    synth = np.array([[0], [0], [0], [1]])  # [3/4, 1/4]
    assert marginal_tvd(real, synth, [3], (0,)) == pytest.approx(0.25, abs=EXACT)


def test_tvd_sparse_path_matches_naive_count() -> None:
    # 400^3 = 64M cells is above the dense limit, so the np.unique path runs.
    rng = np.random.default_rng(1)
    real, synth = rng.integers(0, 400, size=(3000, 3)), rng.integers(0, 400, size=(2000, 3))
    real[:1500] = synth[:1500]  # shared rows, so the answer is not simply 1
    expected = _reference_tvd(real, synth, (0, 1, 2))
    assert 0.2 < expected < 1.0
    assert marginal_tvd(real, synth, [400, 400, 400], (0, 1, 2)) == pytest.approx(expected, abs=EXACT)


def test_mean_max_over_every_subset_when_few() -> None:
    rng = np.random.default_rng(2)
    sizes = [3, 4, 2, 5]
    real, synth = rng.integers(0, 2, size=(300, 4)), rng.integers(0, 2, size=(200, 4))
    result = mean_max_tvd(real, synth, sizes, 2, rng=np.random.default_rng(0))
    expected = [_reference_tvd(real, synth, cols) for cols in itertools.combinations(range(4), 2)]
    assert (result.way, result.n_sets, result.sampled) == (2, 6, False)
    assert result.mean == pytest.approx(np.mean(expected), abs=EXACT)
    assert result.max == pytest.approx(max(expected), abs=EXACT)


@pytest.mark.parametrize("n_columns", [12, 120])  # 220 subsets sampled from a list; 280,840 by rejection
def test_mean_max_samples_distinct_subsets_reproducibly(n_columns: int) -> None:
    rng = np.random.default_rng(3)
    sizes = [3] * n_columns
    real, synth = rng.integers(0, 3, size=(60, n_columns)), rng.integers(0, 3, size=(60, n_columns))
    first = mean_max_tvd(real, synth, sizes, 3, max_sets=50, rng=np.random.default_rng(7))
    again = mean_max_tvd(real, synth, sizes, 3, max_sets=50, rng=np.random.default_rng(7))
    assert first == again
    assert (first.n_sets, first.sampled) == (50, True)
    assert 0.0 < first.mean <= first.max <= 1.0


def test_codes_are_validated_without_quoting_them() -> None:
    real = np.array([[0, 99]])
    with pytest.raises(MetricError, match="column 1") as caught:
        marginal_tvd(real, np.array([[0, 0]]), [2, 2], (0, 1))
    assert "99" not in str(caught.value)
    with pytest.raises(MetricError, match="integer"):
        marginal_tvd(real.astype(float), real.astype(float), [2, 100], (0,))
    with pytest.raises(MetricError, match="way"):
        mean_max_tvd(np.zeros((2, 2), int), np.zeros((2, 2), int), [1, 1], 3, rng=np.random.default_rng(0))
    with pytest.raises(MetricError, match="distinct"):
        marginal_tvd(np.zeros((2, 2), int), np.zeros((2, 2), int), [1, 1], (0, 0))


# --------------------------------------------------------------------------- correlation


def test_correlation_error_zero_on_identical_frames() -> None:
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    frame.loc[rng.random(200) < 0.1, "b"] = np.nan
    result = correlation_error(frame, frame.copy(), list("abcd"))
    assert result is not None
    assert (result.max_abs, result.frobenius, result.n_columns) == (0.0, 0.0, 4)


def test_correlation_error_hand_case() -> None:
    # real: y = x, r = 1. synth: x = [1, 2, 3], y = [1, 3, 2]; deviations (-1,0,1), (-1,1,0): r = 1 / 2.
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]})
    synth = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 3.0, 2.0]})
    result = correlation_error(real, synth, ["x", "y"])
    assert result is not None
    assert result.max_abs == pytest.approx(0.5, abs=EXACT)
    assert result.frobenius == pytest.approx(math.sqrt(2 * 0.5**2), abs=EXACT)  # both off-diagonal entries


def test_correlation_uses_pairwise_complete_rows() -> None:
    rng = np.random.default_rng(5)
    real = pd.DataFrame(rng.normal(size=(100, 3)), columns=list("xyz"))
    synth = pd.DataFrame(rng.normal(size=(100, 3)), columns=list("xyz"))
    for frame in (real, synth):
        for col in "xyz":
            frame.loc[rng.random(100) < 0.2, col] = np.nan

    def pairwise(frame: pd.DataFrame, a: str, b: str) -> float:
        both = frame[[a, b]].dropna()
        return float(np.corrcoef(both[a], both[b])[0, 1])

    expected = max(abs(pairwise(real, a, b) - pairwise(synth, a, b)) for a, b in itertools.combinations("xyz", 2))
    result = correlation_error(real, synth, list("xyz"))
    assert result is not None
    assert result.max_abs == pytest.approx(expected, abs=1e-9)  # two routes to the same sums


def test_constant_column_counts_as_zero_correlation() -> None:
    real = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]})
    synth = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [5.0, 5.0, 5.0]})  # NaN correlation -> 0
    result = correlation_error(real, synth, ["x", "y"])
    assert result is not None
    assert result.max_abs == pytest.approx(1.0, abs=EXACT)


def test_datetimes_and_booleans_correlate_as_numbers() -> None:
    rng = np.random.default_rng(6)
    days = rng.integers(0, 3000, size=50).astype(float)
    y = days + rng.normal(scale=300, size=50)
    flag = pd.array(rng.random(50) < 0.5, dtype="boolean")
    stamps = pd.Series(pd.Timestamp("2001-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"))
    stamps[3] = pd.NaT
    days[3] = np.nan
    as_dates = pd.DataFrame({"t": stamps, "y": y, "f": flag})
    as_numbers = pd.DataFrame({"t": days, "y": y, "f": np.asarray(flag, dtype=float)})
    result = correlation_error(as_dates, as_numbers, ["t", "y", "f"])
    assert result is not None
    assert result.max_abs < 1e-9  # an affine change of units leaves Pearson's r unchanged


def test_correlation_needs_two_numeric_columns() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    assert correlation_error(frame, frame, ["x"]) is None
    with pytest.raises(MetricError, match="'c'"):
        correlation_error(frame, frame, ["x", "c"])
    with pytest.raises(MetricError, match="lacks"):
        correlation_error(frame, frame[["x"]], ["x", "c"])


# --------------------------------------------------------------------------- TSTR

FEATURES = {"categorical": ["c", "y"], "numeric": ["x1", "x2", "yr"]}


def _population(n: int, seed: int) -> pd.DataFrame:
    """A class target y and a numeric target yr that both depend on x1, x2 and c; with nulls."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    c = rng.choice(["a", "b", "c"], size=n)
    effect = np.select([c == "a", c == "b"], [1.0, -1.0], 0.0)
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-(1.5 * x1 - x2 + effect))), "yes", "no")
    yr = 2 * x1 - x2 + effect + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame({"x1": x1, "x2": x2, "c": c.astype(object), "y": y.astype(object), "yr": yr})
    frame.loc[rng.random(n) < 0.05, "x2"] = np.nan
    frame.loc[rng.random(n) < 0.05, "c"] = None
    return frame


@pytest.fixture(scope="module")
def samples() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return _population(2000, 10), _population(2000, 11), _population(2000, 12)


@pytest.mark.parametrize(("target", "metric"), [("y", "balanced_accuracy_adjusted"), ("yr", "r2")])
def test_tstr_ratio_near_one_for_a_fresh_sample(samples, target: str, metric: str) -> None:
    train, test, synth = samples
    result = tstr(train, test, synth, target=target, **FEATURES, rng_seed=0)
    assert result.metric == metric
    assert result.score_real > 0.3  # the task is learnable, so the ratio means something
    # Two fits on independent 2,000-row samples: |1 - ratio| stayed under 0.02 over 5 seeds; 0.1 is 5x that.
    assert result.ratio is not None and abs(result.ratio - 1.0) < 0.1


@pytest.mark.parametrize("target", ["y", "yr"])
def test_tstr_ratio_low_when_synthetic_target_is_shuffled(samples, target: str) -> None:
    train, test, synth = samples
    shuffled = synth.copy()
    shuffled[target] = np.random.default_rng(0).permutation(shuffled[target].to_numpy())
    result = tstr(train, test, shuffled, target=target, **FEATURES, rng_seed=0)
    # No relation left to learn: chance-level skill. Observed <= 0.09 over 5 seeds.
    assert result.ratio is not None and result.ratio < 0.25


def test_tstr_survives_unseen_categories_and_a_single_class(samples) -> None:
    train, test, synth = samples
    test = test.copy()
    test.loc[:20, "c"] = "never-seen"  # absent from both training samples
    one_class = synth.copy()
    one_class["y"] = "yes"
    result = tstr(train, test, one_class, target="y", **FEATURES, rng_seed=0)
    assert result.score_real > 0.3
    assert result.score_synth == 0.0  # a constant prediction is exactly chance: adjusted score 0
    assert result.ratio == 0.0


def test_tstr_survives_more_categories_than_hgb_bins(samples) -> None:
    train, test, synth = samples
    rng = np.random.default_rng(3)
    wide = [f.assign(k=[f"level-{i}" for i in rng.integers(0, 400, len(f))]) for f in (train, test, synth)]
    result = tstr(*wide, target="y", categorical=["k", "c", "y"], numeric=["x1", "x2"], rng_seed=0)
    assert result.score_real > 0.3  # 400 levels > 255 bins: the rare ones are pooled, the rest still learns


def test_tstr_scores_zero_when_synth_has_no_target(samples) -> None:
    train, test, synth = samples
    empty_target = synth.assign(yr=np.nan)
    result = tstr(train, test, empty_target, target="yr", **FEATURES, rng_seed=0)
    assert (result.score_synth, result.ratio) == (0.0, 0.0)


def test_tstr_is_reproducible_and_validates(samples) -> None:
    train, test, synth = samples
    small = {"real_train": train[:300], "real_test": test[:300], "synth": synth[:300]}
    assert tstr(**small, target="y", **FEATURES, rng_seed=1) == tstr(**small, target="y", **FEATURES, rng_seed=1)
    with pytest.raises(MetricError, match="target 'w'"):
        tstr(**small, target="w", **FEATURES, rng_seed=0)
    with pytest.raises(MetricError, match="single target class"):
        tstr(train, test.assign(y="yes"), synth, target="y", **FEATURES, rng_seed=0)


def test_adjusted_balanced_accuracy_hand_case() -> None:
    # Recall of a = 2/3, of b = 1: balanced 5/6; chance 1/2 -> (5/6 - 1/2) / (1/2) = 2/3.
    y_true = np.array(["a", "a", "a", "b"])
    assert adjusted_balanced_accuracy(y_true, np.array(["a", "a", "b", "b"])) == pytest.approx(2 / 3, abs=EXACT)
    assert adjusted_balanced_accuracy(y_true, np.array(["a"] * 4)) == 0.0  # the majority class: no skill
    assert adjusted_balanced_accuracy(y_true, y_true.copy()) == 1.0
