"""Disclosure-risk checks: Gower embedding, exact matches, distance to closest record."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist

from synthgate.privacy.risk.distance import disclosure_risk, distance_to_closest, wilson_interval
from synthgate.privacy.risk.embedding import EmbeddingColumn, RiskError, embed, n_features
from synthgate.privacy.risk.exact_match import exact_match_share

EXACT = 1e-12  # a handful of float terms: only rounding separates them from the hand value


def gower(frame: pd.DataFrame, columns: list[EmbeddingColumn]) -> np.ndarray:
    return cdist(embed(frame, columns), embed(frame, columns), "cityblock") / len(columns)


# --------------------------------------------------------------------------- embedding

HAND_COLUMNS = [
    EmbeddingColumn("x", "numeric", low=0, high=10),
    EmbeddingColumn("c", "categorical", categories=("a", "b")),
]


def test_embedding_gives_gower_on_hand_rows() -> None:
    frame = pd.DataFrame(
        {
            "x": [0.0, 5.0, np.nan, 20.0, np.nan],  # 20 is clipped to the public high, 10
            "c": ["a", "b", None, "zzz", "a"],  # "zzz" is outside the public list: the "other" level
        }
    )
    # Per pair: (numeric part + categorical part) / 2. Null vs value is 1, null vs null is 0.
    expected = np.array(
        [
            [0.0, (0.5 + 1) / 2, (1 + 1) / 2, (1 + 1) / 2, (1 + 0) / 2],
            [0.75, 0.0, 1.0, (0.5 + 1) / 2, 1.0],
            [1.0, 1.0, 0.0, 1.0, (0 + 1) / 2],
            [1.0, 0.75, 1.0, 0.0, 1.0],
            [0.5, 1.0, 0.5, 1.0, 0.0],
        ]
    )
    assert embed(frame, HAND_COLUMNS).shape == (5, n_features(HAND_COLUMNS)) == (5, 2 + 4)
    np.testing.assert_allclose(gower(frame, HAND_COLUMNS), expected, atol=EXACT)


def test_embedding_matches_naive_gower_on_random_rows() -> None:
    rng = np.random.default_rng(0)
    columns = [
        EmbeddingColumn("u", "numeric", low=-1, high=3),
        EmbeddingColumn("v", "numeric", low=0, high=100),
        EmbeddingColumn("k", "categorical", categories=("p", "q", "r")),
    ]
    n = 40
    u = rng.uniform(-2, 4, n)  # partly outside the bounds, to exercise clipping
    v = rng.uniform(0, 100, n)
    k = rng.choice(["p", "q", "r", "s"], n).astype(object)
    u[rng.random(n) < 0.2], v[rng.random(n) < 0.2], k[rng.random(n) < 0.2] = np.nan, np.nan, None
    frame = pd.DataFrame({"u": u, "v": v, "k": k})

    def part(col: EmbeddingColumn, a: object, b: object) -> float:
        if pd.isna(a) or pd.isna(b):
            return float(pd.isna(a) != pd.isna(b))
        if col.kind == "numeric":
            scale = lambda z: min(max((z - col.low) / (col.high - col.low), 0.0), 1.0)  # noqa: E731
            return abs(scale(a) - scale(b))
        level = lambda z: z if z in col.categories else "<other>"  # noqa: E731
        return float(level(a) != level(b))

    rows = frame.to_dict("records")
    naive = np.array([[np.mean([part(c, r[c.name], s[c.name]) for c in columns]) for s in rows] for r in rows])
    np.testing.assert_allclose(gower(frame, columns), naive, atol=EXACT)


def test_datetime_and_boolean_columns_embed() -> None:
    start, end = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2021-01-01", tz="UTC")
    columns = [
        EmbeddingColumn("t", "numeric", low=start.timestamp(), high=end.timestamp()),
        EmbeddingColumn("b", "categorical", categories=("False", "True")),
    ]
    frame = pd.DataFrame(
        {
            "t": pd.Series([start, start + (end - start) / 4, pd.NaT]).astype("datetime64[ns, UTC]"),
            "b": pd.array([True, False, None], dtype="boolean"),
        }
    )
    expected = np.array([[0.0, (0.25 + 1) / 2, 1.0], [0.625, 0.0, 1.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(gower(frame, columns), expected, atol=1e-9)  # epoch seconds ~1.6e9: 1e-9 is plenty


def test_unseen_levels_share_the_other_slot() -> None:
    # Documented approximation: two different values outside the public list are at distance 0.
    frame = pd.DataFrame({"x": [1.0, 1.0], "c": ["unseen-1", "unseen-2"]})
    assert gower(frame, HAND_COLUMNS)[0, 1] == 0.0


def test_embedding_validates_without_quoting_data() -> None:
    with pytest.raises(RiskError, match="low < high"):
        EmbeddingColumn("x", "numeric", low=1, high=1)
    with pytest.raises(RiskError, match="kind"):
        EmbeddingColumn("x", "ordinal")  # type: ignore[arg-type]
    with pytest.raises(RiskError, match=r"\['c'\]"):
        embed(pd.DataFrame({"x": [1.0]}), HAND_COLUMNS)
    with pytest.raises(RiskError, match="'x' is declared numeric") as caught:
        embed(pd.DataFrame({"x": ["secret-value"], "c": ["a"]}), HAND_COLUMNS)
    assert "secret-value" not in str(caught.value)


# --------------------------------------------------------------------------- exact match


def test_exact_match_hand_cases_with_nulls() -> None:
    synth = pd.DataFrame({"x": [1.0, np.nan, 2.0, 0.3, -0.0], "c": ["a", "b", None, "a", "z"]})
    reference = pd.DataFrame(
        {
            "c": ["a", np.nan, "b", "a", "z"],  # columns in another order: matched by name
            "x": [1.0, 2.0, np.nan, 0.1 + 0.2, 0.0],
        }
    )
    # Row 0 matches; row 1 (NaN, "b") matches (NaN equals NaN); row 2 (2.0, None) matches (None equals NaN);
    # row 3: 0.3 != 0.1 + 0.2 in floating point; row 4: -0.0 == 0.0.
    assert exact_match_share(synth, reference) == pytest.approx(4 / 5, abs=EXACT)
    assert exact_match_share(reference, reference) == 1.0
    assert exact_match_share(synth, reference.iloc[:0]) == 0.0


def test_exact_match_datetimes_and_booleans() -> None:
    stamps = pd.Series(pd.to_datetime(["2020-01-01 10:00", None, "2020-01-02 00:00"], utc=True))
    synth = pd.DataFrame({"t": stamps.astype("datetime64[ns, UTC]"), "b": pd.array([True, None, False], "boolean")})
    reference = pd.DataFrame({"t": stamps.astype("datetime64[s, UTC]"), "b": pd.array([True, None, True], "boolean")})
    assert exact_match_share(synth, reference) == pytest.approx(2 / 3, abs=EXACT)  # units differ, instants match


def test_exact_match_agrees_with_naive_set_lookup() -> None:
    # Small domains, so many rows repeat: thousands of genuine matches and many near-misses.
    rng = np.random.default_rng(1)

    def frame(n: int) -> pd.DataFrame:
        out = pd.DataFrame(
            {
                "x": rng.integers(0, 10, n).astype(float),
                "c": rng.choice(["a", "b", "c", "d", "e"], n).astype(object),
                "y": rng.integers(0, 6, n) / 3,  # thirds: inexact floats
            }
        )
        out.loc[rng.random(n) < 0.2, "x"] = np.nan
        out.loc[rng.random(n) < 0.2, "c"] = None
        return out

    synth, reference = frame(3000), frame(200)

    def key(row: tuple) -> tuple:
        return tuple(None if pd.isna(v) else v for v in row)

    seen = {key(r) for r in reference.itertuples(index=False)}
    naive = np.mean([key(r) in seen for r in synth.itertuples(index=False)])
    assert 0.1 < naive < 0.9
    assert exact_match_share(synth, reference) == pytest.approx(naive, abs=EXACT)


def test_exact_match_needs_the_same_columns() -> None:
    with pytest.raises(RiskError, match="same"):
        exact_match_share(pd.DataFrame({"x": [1.0]}), pd.DataFrame({"y": [1.0]}))
    with pytest.raises(RiskError, match="no rows"):
        exact_match_share(pd.DataFrame({"x": []}), pd.DataFrame({"x": [1.0]}))


# --------------------------------------------------------------------------- distance to closest record

COLUMNS = [
    EmbeddingColumn("age", "numeric", low=0, high=100),
    EmbeddingColumn("income", "numeric", low=0, high=200_000),
    EmbeddingColumn("score", "numeric", low=-5, high=5),
    EmbeddingColumn("region", "categorical", categories=("n", "s", "e", "w")),
    EmbeddingColumn("sex", "categorical", categories=("f", "m")),
]
N = 2000


def _population(n: int, rng: np.random.Generator) -> pd.DataFrame:
    age, score = rng.uniform(18, 90, n), rng.normal(size=n)
    region = rng.choice(["n", "s", "e", "w"], n).astype(object)
    age[rng.random(n) < 0.05] = np.nan
    region[rng.random(n) < 0.05] = None
    return pd.DataFrame(
        {"age": age, "income": rng.lognormal(10.5, 0.6, n), "score": score, "region": region,
         "sex": rng.choice(["f", "m"], n).astype(object)}
    )


@pytest.fixture(scope="module")
def real() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(20)
    return _population(N, rng), _population(N, rng)


def test_distance_to_closest_on_hand_rows() -> None:
    rows = pd.DataFrame({"x": [0.0, 5.0, np.nan], "c": ["a", "b", "a"]})
    emb = embed(rows, HAND_COLUMNS)
    # Row 0 to rows 1 and 2: 0.75 and 0.5 (hand case above); row 1 to row 2: 1.
    got = distance_to_closest(emb[[0, 1]], emb[[1, 2]], n_columns=2)
    np.testing.assert_allclose(got, [0.5, 0.0], atol=EXACT)
    with pytest.raises(RiskError, match="no rows"):
        distance_to_closest(emb, emb[:0], n_columns=2)


def test_copies_of_train_are_flagged(real) -> None:
    train, holdout = real
    copies = train.sample(N, replace=True, random_state=1).reset_index(drop=True)
    risk = disclosure_risk(copies, train, holdout, COLUMNS, rng=np.random.default_rng(0))
    assert (risk.exact_match_share, risk.exact_match_baseline, risk.exact_match_excess) == (1.0, 0.0, 1.0)
    assert risk.near_match_share == 1.0  # DCR 0 is below any threshold
    assert risk.train_closer_share == 1.0  # train and holdout have the same size, so nothing is subsampled
    assert risk.near_match_ci[0] > 0.99 and risk.train_closer_ci[0] > 0.99
    assert (risk.n_synth, risk.n_train, risk.n_holdout, risk.n_reference) == (N, N, N, N)


def test_fresh_sample_looks_like_the_holdout(real) -> None:
    train, holdout = real
    rng = np.random.default_rng(21)
    risk = disclosure_risk(_population(N, rng), train, holdout, COLUMNS, quantile=0.05, rng=rng)
    assert risk.exact_match_share == 0.0  # continuous columns: no exact repeats
    assert risk.near_match_baseline == 0.05  # continuous DCRs, inverted_cdf: exactly 100 of 2000 rows
    # sd of the near-match share: sqrt(2 * 0.05 * 0.95 / 2000) = 0.007 (synthetic rows + holdout quantile);
    # 40 seeds gave sd 0.006. 0.03 is over 4 sd.
    assert abs(risk.near_match_share - 0.05) < 0.03
    # sd: sqrt(0.25 / 2000) = 0.011; 40 seeds gave sd 0.012. 0.05 is over 4 sd.
    assert abs(risk.train_closer_share - 0.5) < 0.05
    assert risk.near_match_ci[0] < risk.near_match_share < risk.near_match_ci[1]
    assert risk.train_closer_ci[1] - risk.train_closer_ci[0] == pytest.approx(2 * 1.96 * 0.5 / np.sqrt(N), abs=1e-3)


def test_partial_copying_raises_the_shares(real) -> None:
    # 20% copies: near-match ~ 0.2 + 0.8 * 0.05 = 0.24, train-closer ~ 0.2 + 0.8 * 0.5 = 0.6.
    train, holdout = real
    rng = np.random.default_rng(22)
    synth = pd.concat([train.iloc[: N // 5], _population(N - N // 5, rng)], ignore_index=True)
    risk = disclosure_risk(synth, train, holdout, COLUMNS, rng=rng)
    assert risk.exact_match_share == pytest.approx(0.2, abs=EXACT)
    assert abs(risk.near_match_share - 0.24) < 0.03  # as in the fresh case, over 4 sd
    assert abs(risk.train_closer_share - 0.6) < 0.05
    assert risk.train_closer_ci[0] > 0.5  # detected at 95% confidence with 2,000 rows


def test_ties_on_a_table_with_few_distinct_rows() -> None:
    # Every combination of two binary columns appears in train and in holdout: every row's DCR is 0.
    grid = pd.DataFrame(list(itertools.product(["a", "b"], ["u", "v"])) * 50, columns=["p", "q"])
    columns = [EmbeddingColumn("p", "categorical", categories=("a", "b")),
               EmbeddingColumn("q", "categorical", categories=("u", "v"))]
    risk = disclosure_risk(grid, grid, grid.copy(), columns, rng=np.random.default_rng(0))
    assert risk.dcr_threshold == 0.0
    assert risk.near_match_share == risk.near_match_baseline == 1.0  # copies are no closer than real rows
    assert risk.exact_match_excess == 0.0
    assert risk.train_closer_share == 0.5  # every row ties: each counts half


def test_train_is_subsampled_to_the_holdout_size(real) -> None:
    train, holdout = real
    rng = np.random.default_rng(23)
    risk = disclosure_risk(_population(500, rng), train, holdout.iloc[:500], COLUMNS, rng=rng)
    assert risk.n_reference == 500
    # Were the 2,000 train rows not cut to 500, fresh rows would be closer to train about 80% of the time.
    assert abs(risk.train_closer_share - 0.5) < 0.1  # sd sqrt(0.25 / 500) = 0.022: over 4 sd


def test_wilson_interval_hand_values() -> None:
    # Textbook values: 50 of 100 -> (0.4038, 0.5962); 0 of 10 -> (0, 0.2775).
    np.testing.assert_allclose(wilson_interval(0.5, 100), (0.4038, 0.5962), atol=1e-4)
    np.testing.assert_allclose(wilson_interval(0.0, 10), (0.0, 0.2775), atol=1e-4)
    with pytest.raises(RiskError):
        wilson_interval(0.5, 0)


def test_disclosure_risk_validates(real) -> None:
    train, holdout = real
    with pytest.raises(RiskError, match="quantile"):
        disclosure_risk(train, train, holdout, COLUMNS, quantile=1.0, rng=np.random.default_rng(0))
    with pytest.raises(RiskError, match="synth sample has no rows"):
        disclosure_risk(train.iloc[:0], train, holdout, COLUMNS, rng=np.random.default_rng(0))
