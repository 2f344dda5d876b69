"""Domains under DP: bounds from a noisy fixed-bin histogram, categories from a thresholded histogram."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthgate.privacy.estimate as estimate_module
from synthgate.privacy.accountant import Accountant, Budget, Charge
from synthgate.privacy.estimate import DomainStatistics, numeric_edges
from synthgate.privacy.mechanisms import DiscreteGaussianCounts, GeometricCounts

SEED = 99


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> np.random.RandomState:
    """Seed the estimator's mechanisms (tests only; production draws from the secure RNG)."""
    state = np.random.RandomState(SEED)
    monkeypatch.setattr(estimate_module, "DiscreteGaussianCounts",
                        functools.partial(DiscreteGaussianCounts, random_state=state))
    monkeypatch.setattr(estimate_module, "GeometricCounts", functools.partial(GeometricCounts, random_state=state))
    return state


def _ages(n: int = 20_000) -> pd.DataFrame:
    return pd.DataFrame({"age": np.random.default_rng(1).integers(18, 91, n)})


@pytest.mark.parametrize(("budget", "cost"), [(Budget(epsilon=1.0, delta=1e-6), 0.01), (Budget(epsilon=1.0), 0.1)],
                         ids=["zcdp", "pure"])
def test_bounds_cover_the_data_and_are_within_a_factor_two(seeded, budget, cost) -> None:
    stats = DomainStatistics({"age": "integer"})
    frame = _ages()
    for start in range(0, len(frame), 5000):   # batch by batch, as the pipeline feeds it
        stats.update(frame.iloc[start:start + 5000])
    accountant = Accountant(budget)
    (released,) = stats.release(accountant, cost=cost)
    low, high = released.bounds
    # Power-of-two bins: 18..90 lies in [16, 32) ∪ [32, 64) ∪ [64, 128), each holding thousands of rows
    # against noise σ ≈ 10 (ρ = 0.005 per stage) or ≈ 20 (ε = 0.05); the fine stage splits those bins
    # into 32 and 1,024 parts. Every integer 18..90 holds ~270 rows. Under ρ (σ ≈ 12 per level) the zoom
    # reaches single integers; under ε = 0.033 per level (line ≈ 360) the finer levels would clamp real
    # rows, so the zoom stops at the power-of-two range: never narrower than the data, never wider than 2×.
    assert low <= 18 and high >= 90                # covers every row
    # and is within a factor 2 of the true range; a low side left on the fixed edge 16 is taken down
    # to 0, which widens [16, 128) by a seventh (`_towards_zero`)
    assert (18 / 2 <= low or low == 0.0) and high <= 90 * 2
    if budget.delta > 0:
        assert (low, high) == (18.0, 90.0)
    unit = "rho" if budget.delta > 0 else "epsilon"
    charged = accountant.charges
    shares = (0.5, 0.25, 0.25)[: len(charged)]  # the zoom may stop early (pure ε): later levels are not spent
    assert charged == tuple(Charge(f"domain:bounds:age:level{k}", **{unit: cost * w}) for k, w in enumerate(shares))


@pytest.mark.parametrize(("budget", "cost"), [(Budget(epsilon=1.0, delta=1e-6), 0.01), (Budget(epsilon=1.0), 0.1)],
                         ids=["zcdp", "pure"])
def test_empty_bins_rarely_stretch_the_bounds(seeded, budget, cost) -> None:
    # ~150 empty bins per release. A flat 3σ line let one through in about 1 release in 6 (discrete
    # Gaussian) or 2 in 3 (geometric), stretching a bound to a far power of two. The line now holds
    # the chance of any empty bin passing to 1e-3 per release, so 2 stretched out of 50 has
    # probability below 1e-3.
    stats = DomainStatistics({"age": "integer"})
    stats.update(_ages())
    bounds = [stats.release(Accountant(budget), cost=cost)[0].bounds for _ in range(50)]
    # A low side taken down to 0 (`_towards_zero`: [16, 128) widened by a seventh) is not a stretch.
    assert sum(not ((16.0 <= b[0] or b[0] == 0.0) and b[1] <= 128.0) for b in bounds) <= 1


def test_bounds_ignore_a_few_outliers(seeded) -> None:
    # Three rows at 1e6 are far below the significance line, so they do not stretch the bounds.
    frame = pd.concat([_ages(), pd.DataFrame({"age": [1e6, 1e6, 1e6]})], ignore_index=True)
    stats = DomainStatistics({"age": "numeric"})
    stats.update(frame)
    (released,) = stats.release(Accountant(Budget(epsilon=1.0, delta=1e-6)), cost=0.01)
    low, high = released.bounds
    assert low == 18.0 and 90.0 < high <= 91.0  # 90 sits in the fine bin [90, 91)


def test_negative_and_mixed_values(seeded) -> None:
    frame = pd.DataFrame({"t": np.random.default_rng(2).uniform(-40.0, 50.0, 20_000)})
    stats = DomainStatistics({"t": "numeric"})
    stats.update(frame)
    (released,) = stats.release(Accountant(Budget(epsilon=1.0, delta=1e-6)), cost=0.01)
    low, high = released.bounds
    assert low <= -40 and high >= 50
    assert -41 <= low and high <= 51  # the fine bins near ±40..50 are 1/2 wide at most


def test_bin_edges_are_fixed_and_public() -> None:
    edges = numeric_edges()
    assert np.all(np.diff(edges) > 0)
    assert edges[0] == -(2.0**63) and edges[-1] == 2.0**63
    assert np.array_equal(edges, numeric_edges())


def _categories(counts: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame({"dept": [k for k, c in counts.items() for _ in range(c)]})


SINGLETONS = {f"s{i:04d}": 1 for i in range(2000)}


def test_big_categories_released_singletons_never(seeded) -> None:
    # ρ = 0.5 gives σ = 1; δ = 1e-6 puts the release line at 1 + 6 (P(noise >= 6) = 6e-9), low enough
    # that a category with 20 rows is always released: the test is not passing by releasing nothing.
    counts = {"zeta": 5000, "alpha": 3000, "mid": 20, **SINGLETONS}
    stats = DomainStatistics({"dept": "categorical"})
    stats.update(_categories(counts))
    for _ in range(5):  # 5 releases x 2,000 singletons: 10,000 chances, expected leaks 6e-5
        (released,) = stats.release(Accountant(Budget(epsilon=20.0, delta=1e-5)), cost=0.5, delta_per_column=1e-6)
        assert released.categories == ("alpha", "mid", "zeta")   # sorted, not first-seen order


def test_singleton_release_rate_is_at_most_delta(seeded) -> None:
    # A loose δ = 0.02 at σ = 0.97 is where the continuous quantile σ·Φ⁻¹(1 - δ) = 1.99 falls just
    # below a lattice point: thresholding there released a singleton 5.3% of the time, 2.6x δ.
    delta, sigma = 0.02, 0.97
    stats = DomainStatistics({"dept": "categorical"})
    stats.update(_categories({"big": 1000, **SINGLETONS}))
    released = 0
    trials = 0
    for _ in range(5):
        accountant = Accountant(Budget(epsilon=50.0, delta=0.1))
        (domain,) = stats.release(accountant, cost=1 / (2 * sigma**2), delta_per_column=delta)
        assert "big" in domain.categories
        released += len(domain.categories) - 1
        trials += len(SINGLETONS)
    # Binomial(10,000, ≤ 0.02): mean ≤ 200, sd ≤ 14; allow 4 sd above δ. The old rule gave ~530.
    assert released / trials <= delta + 4 * math.sqrt(delta * (1 - delta) / trials)


def test_categories_cost_rho_and_delta_per_column(seeded) -> None:
    stats = DomainStatistics({"age": "integer", "dept": "categorical", "city": "categorical"})
    frame = _ages(3000)
    frame["dept"] = np.where(np.arange(3000) % 2 == 0, "a", "b")
    frame["city"] = np.where(np.arange(3000) % 3 == 0, "x", "y")
    stats.update(frame)
    accountant = Accountant(Budget(epsilon=2.0, delta=1e-6))
    released = stats.release(accountant, cost=0.02, delta_per_column=2.5e-7)
    assert [d.label for d in released] == ["domain:bounds:age", "domain:categories:dept", "domain:categories:city"]
    levels = [c for c in accountant.charges if c.label.startswith("domain:bounds:age")]
    assert levels == [Charge(f"domain:bounds:age:level{k}", rho=0.02 * w)  # the zoom may stop early
                      for k, w in zip(range(len(levels)), (0.5, 0.25, 0.25))]
    assert accountant.charges[len(levels):] == (
                                  Charge("domain:categories:dept", rho=0.02, delta=2.5e-7),
                                  Charge("domain:categories:city", rho=0.02, delta=2.5e-7))
    assert released[1].categories == ("a", "b") and released[2].categories == ("x", "y")
    assert released[1].to_json() == {"column": "dept", "kind": "categories", "n_categories": 2}


@pytest.mark.parametrize(("budget", "delta"), [(Budget(epsilon=1.0), 1e-7), (Budget(epsilon=1.0, delta=1e-6), 0.0)],
                         ids=["pure-budget", "no-delta-share"])
def test_categories_need_zcdp_and_a_delta_refused_before_any_spend(budget, delta) -> None:
    stats = DomainStatistics({"age": "integer", "dept": "categorical"})
    stats.update(pd.DataFrame({"age": [30, 40], "dept": ["a", "b"]}))
    accountant = Accountant(budget)
    with pytest.raises(ValueError):
        stats.release(accountant, cost=0.01, delta_per_column=delta)
    assert accountant.charges == ()   # the bounds column before it was not released either


def test_nulls_are_not_counted(seeded) -> None:
    stats = DomainStatistics({"dept": "categorical", "x": "numeric"})
    stats.update(pd.DataFrame({"dept": ["a"] * 500 + [None] * 500, "x": [5.0] * 500 + [np.nan] * 500}))
    dept, x = stats.release(Accountant(Budget(epsilon=20.0, delta=1e-6)), cost=0.5, delta_per_column=1e-7)
    assert dept.categories == ("a",)
    low, high = x.bounds  # the fixed bin [4, 8) or a zoomed cell of it, always holding 5
    assert 4.0 <= low <= 5.0 < high <= 8.0


def test_an_individuals_keys_show_at_most_delta_with_several_rows_each(seeded) -> None:
    # With up to k = 3 rows per individual, one person can add 3 keys, or one key 3 times. Keys held
    # by a single person (count 3 here, the worst case) must each show at a rate of at most δ/k.
    delta, sigma, k = 0.06, 0.97, 3
    triples = {f"t{i:04d}": k for i in range(2000)}
    stats = DomainStatistics({"dept": "categorical"})
    stats.update(_categories({"big": 1000, **triples}))
    released = trials = 0
    for _ in range(5):
        accountant = Accountant(Budget(epsilon=50.0, delta=0.1))
        (domain,) = stats.release(accountant, cost=k**2 / (2 * sigma**2), delta_per_column=delta, contribution=k)
        assert "big" in domain.categories
        released += len(domain.categories) - 1
        trials += len(triples)
    rate = delta / k
    assert released / trials <= rate + 4 * math.sqrt(rate * (1 - rate) / trials)
    # The same release calibrated for one row per person would show most of them: the bound is not vacuous.
    (loose,) = stats.release(Accountant(Budget(epsilon=50.0, delta=0.1)), cost=1 / (2 * sigma**2),
                             delta_per_column=delta)
    assert len(loose.categories) - 1 > 0.5 * len(triples)


def test_bounds_histograms_are_calibrated_to_the_contribution(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[float] = []

    def recording(**kwargs):
        made.append(kwargs.get("sensitivity", 1.0))
        return DiscreteGaussianCounts(**kwargs)
    monkeypatch.setattr(estimate_module, "DiscreteGaussianCounts", recording)
    stats = DomainStatistics({"age": "integer"})
    stats.update(_ages(2000))
    stats.release(Accountant(Budget(epsilon=5.0, delta=1e-6)), cost=0.05, contribution=4)
    assert made and set(made) == {4}


def test_a_spike_does_not_swallow_the_bounds_of_a_skewed_column(seeded) -> None:
    # acs12 income: 45% zeros, the rest spread from hundreds to 450,000. At the init default (10% of
    # epsilon 1 on this column), the finer zoom levels kept only the spike at 0 and clamped 55% of
    # the values, in most releases. A finer level may now trim only inside the outermost coarse bins.
    from pathlib import Path
    source = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "acs12.csv"
    income = pd.read_csv(source, usecols=["income"]).dropna()
    shares = []
    for _ in range(10):
        stats = DomainStatistics({"income": "numeric"})
        stats.update(income)
        accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
        (domain,) = stats.release(accountant, cost=0.1 * accountant.rho_available())
        low, high = domain.bounds
        shares.append(float(((income["income"] < low) | (income["income"] > high)).mean()))
    assert np.median(shares) < 0.1 and max(shares) < 0.25, shares


SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
# acs12's per-column ρ for bounds at ε = 1 with `init` defaults (13 estimated columns, n ~ 1,600 training
# rows): what the plan's split gives (bench/fidelity/domains.json, `cost`).
SMALL_TABLE_RHO = 0.0013


def _training_like(table: str, column: str, n_rows: int, seed: int) -> pd.Series:
    """`n_rows` of a shared table drawn with `seed`, then the ~80% a run would train on."""
    values = pd.read_csv(SHARED / f"{table}.csv", usecols=[column])[column]
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(values), size=min(n_rows, len(values)), replace=False)
    return values.iloc[rows[rng.random(rows.size) < 0.8]].reset_index(drop=True)


def _clamped(values: pd.Series, bounds: tuple[float, float]) -> float:
    x = values.dropna().to_numpy(float)
    return float(np.mean((x < bounds[0]) | (x > bounds[1])))


@pytest.mark.parametrize(("table", "column"), [("acs12", "income"), ("acs12", "hrs_work"), ("acs12", "age"),
                                               ("acs12", "time_to_work"), ("health_insurance", "age"),
                                               ("health_insurance", "family"), ("census2000", "educ"),
                                               ("census2000", "exper"), ("fertility", "age")])
def test_bounds_of_a_2k_row_table_clamp_at_most_5_percent(seeded, table, column) -> None:
    # Issue 11: at n ~ 2,000 and ε = 1 with `init` defaults, no column's bounds may collapse. Seven draws
    # (subsample and noise), seeded; the median must clamp <= 5% and no draw more than 10%. Measured
    # unseeded over 12 draws per column (bench/fidelity/domains.md and the same loop): medians <= 4.4%,
    # worst draw 9% (income, whose top 2.5% lies in octaves too thin for the noise). Before the zoom's
    # 1% cap and the step to 0, time_to_work's median was 18% and hrs_work's worst draw 39%.
    shares = []
    for draw in range(7):
        values = _training_like(table, column, 2000, draw)
        stats = DomainStatistics({column: "integer"})
        stats.update(pd.DataFrame({column: values}))
        (domain,) = stats.release(Accountant(Budget(epsilon=1.0, delta=1e-6)), cost=SMALL_TABLE_RHO)
        shares.append(_clamped(values, domain.bounds))
    assert np.median(shares) <= 0.05 and max(shares) <= 0.10, shares


def test_a_zoom_is_refused_when_the_previous_level_says_it_cuts_real_mass() -> None:
    # 40 dropped bins whose noise happens to sum to 0 look empty bin by bin; the previous level kept
    # 1,000 rows in this range and only 600 are kept here, so about 400 (40%) would be cut.
    noisy = np.zeros(50)
    noisy[45:] = 120.0
    significant = np.array([45, 49])
    previous = estimate_module._Kept(mass=1000.0, variance=2 * 30.0**2)
    assert estimate_module._trims_real_mass(noisy, significant, 30.0, previous)
    # The same trim when the previous level also saw ~600 rows: nothing is cut beyond noise.
    assert not estimate_module._trims_real_mass(noisy, significant, 1.0, estimate_module._Kept(600.0, 4.0))


def test_the_dropped_mass_estimate_is_calibrated() -> None:
    # The combined estimate of the dropped mass is unbiased and its variance is the inverse-variance
    # combination: checked on 20,000 simulated releases (Gaussian noise, σ = 10, 30 range bins of which
    # 5 are kept; the previous level saw the range once with σ = 7). Tolerances: 4 standard errors.
    rng = np.random.default_rng(5)
    sigma, previous_sigma, size, true_dropped = 10.0, 7.0, 30, 25.0
    counts = np.zeros(size)
    counts[10:15] = 200.0
    counts[0] = true_dropped
    direct_variance, difference_variance = 25 * sigma**2, previous_sigma**2 + 5 * sigma**2
    combined_variance = 1 / (1 / direct_variance + 1 / difference_variance)
    estimates = []
    for _ in range(20_000):
        noisy = counts + rng.normal(0, sigma, size)
        previous = counts.sum() + rng.normal(0, previous_sigma)
        inside = noisy[10:15].sum()
        dropped = noisy.sum() - inside
        estimates.append((dropped / direct_variance + (previous - inside) / difference_variance) * combined_variance)
    estimates_array = np.array(estimates)
    assert abs(estimates_array.mean() - true_dropped) < 4 * np.sqrt(combined_variance / 20_000)
    assert abs(estimates_array.var() / combined_variance - 1) < 4 * np.sqrt(2 / 20_000)
    # and the function refuses exactly when estimate + 1 sd passes 1% of the range's mass
    noisy = counts.copy()
    refused = estimate_module._trims_real_mass(noisy, np.array([10, 14]), sigma,
                                               estimate_module._Kept(counts.sum(), previous_sigma**2))
    assert refused == (true_dropped + np.sqrt(combined_variance) > 0.01 * counts.sum())


def test_a_range_near_zero_is_taken_down_to_zero_only_on_a_fixed_edge() -> None:
    towards_zero = estimate_module._towards_zero
    assert towards_zero(16.0, 64.0, True, True) == (0.0, 64.0)      # widens [16, 64) by a third
    assert towards_zero(16.0, 64.0, False, True) == (16.0, 64.0)    # the zoom found where the data starts
    assert towards_zero(32.0, 64.0, True, True) == (32.0, 64.0)     # would double the width
    assert towards_zero(44.0, 46.0, True, True) == (44.0, 46.0)     # latitude: far from zero
    assert towards_zero(-64.0, -16.0, True, True) == (-64.0, 0.0)   # the mirror image
    assert towards_zero(-8.0, 64.0, True, True) == (-8.0, 64.0)     # already spans zero


def test_a_year_of_dates_in_a_2k_row_table_is_not_clamped_at_its_ends(seeded) -> None:
    # mpls_stops 2017: the 30-day bins start on 1900-01-01, so January 1-16 and December 13-31 fall in
    # part-bins holding ~5% of rows each, under the noise line at n ~ 1,600; without the one-bin margin
    # the median release clamped 6.6% (bench/fidelity/domains.md). Seven seeded draws, as above.
    shares = []
    for draw in range(7):
        values = pd.to_datetime(_training_like("mpls_stops", "date", 2000, draw), utc=True)
        stats = DomainStatistics({"date": "datetime"})
        stats.update(pd.DataFrame({"date": values}))
        (domain,) = stats.release(Accountant(Budget(epsilon=1.0, delta=1e-6)), cost=SMALL_TABLE_RHO)
        low, high = domain.bounds
        shares.append(float(((values < low) | (values > high)).mean()))
    assert np.median(shares) <= 0.05 and max(shares) <= 0.10, shares
