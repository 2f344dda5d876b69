"""Noise mechanisms: calibration (mean, variance, tails, whole distribution), parameter checks, cost and
secure randomness.

Production noise comes from OpenDP, which cannot be seeded (by design: no seed reaches DP noise). So the
statistical tests below draw unseeded OpenDP samples, with a fixed n and a fixed significance stated next to
each test; diffprivlib's samplers, seeded (`random_state`, tests only), are the reference the OpenDP
samples are compared against, beside the closed forms. Every test rejects at a significance of at most
1e-6 (5 standard errors for the moment tests), so a correct sampler fails this file by chance with
probability below 1e-4 in all; the `*_can_fail` tests show that the same tests catch a 25% scale error.
OpenDP draws cost about 10-25 µs a cell and diffprivlib's 20-60 µs, so 20,000 draws stay near a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import opendp.prelude as dp
import pytest
from diffprivlib.mechanisms import Exponential
from scipy import integrate
from scipy.stats import binom, chi2, chi2_contingency, chisquare, ks_2samp, norm

import synthgate.privacy.mechanisms._exact as exact_module
from synthgate.privacy.accountant import Charge
from synthgate.privacy.mechanisms import (
    DiscreteGaussianCounts,
    GaussianSums,
    GeometricCounts,
    LaplaceSums,
    Mechanism,
    MechanismError,
    select_index,
    sigma_for_rho,
)
from synthgate.privacy.mechanisms._exact import report_noisy_max

N_DRAWS = 20_000
SEED = 20240611
ALPHA = 1e-6  # significance of every distribution test below


def _discrete_pmf(log_weight: Callable[[np.ndarray], np.ndarray], reach: int) -> tuple[np.ndarray, np.ndarray]:
    support = np.arange(-reach, reach + 1)
    weights = np.exp(log_weight(support.astype(float)))
    return support, weights / weights.sum()


def _discrete_gaussian_pmf(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    return _discrete_pmf(lambda k: -(k**2) / (2 * sigma**2), int(40 * sigma) + 5)


def _geometric_pmf(epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    # Two-sided geometric: P(k) ∝ α^|k| with α = exp(-ε) for sensitivity 1.
    return _discrete_pmf(lambda k: -epsilon * np.abs(k), int(60 / epsilon) + 5)


def _kurtosis(support: np.ndarray, pmf: np.ndarray) -> float:
    variance = float(np.sum(pmf * support**2))
    return float(np.sum(pmf * support**4)) / variance**2


# (name, factory, kurtosis of the noise, P(|noise| > 2σ) in theory, integer-valued?)
# GaussianSums/LaplaceSums use sensitivity 2 so a wrong sensitivity factor would show in the variance.
_DG_SIGMA = 3.25  # 2σ = 6.5 sits halfway between lattice points, so the discrete tail ≈ the Gaussian one
_DG_SUPPORT, _DG_PMF = _discrete_gaussian_pmf(_DG_SIGMA)
_GEO_EPSILON = 0.5
_GEO_SUPPORT, _GEO_PMF = _geometric_pmf(_GEO_EPSILON)
_GEO_ALPHA = math.exp(-_GEO_EPSILON)
_GEO_SIGMA = math.sqrt(2 * _GEO_ALPHA) / (1 - _GEO_ALPHA)

CASES = [
    ("discrete_gaussian", lambda rs: DiscreteGaussianCounts(rho=1 / (2 * _DG_SIGMA**2), random_state=rs),
     _kurtosis(_DG_SUPPORT, _DG_PMF), float(_DG_PMF[np.abs(_DG_SUPPORT) > 2 * _DG_SIGMA].sum()), True),
    # Closed form: P(|X| >= m) = 2α^m / (1 + α), and |X| > 2σ means |X| >= floor(2σ) + 1.
    ("geometric", lambda rs: GeometricCounts(epsilon=_GEO_EPSILON, random_state=rs),
     _kurtosis(_GEO_SUPPORT, _GEO_PMF), 2 * _GEO_ALPHA ** (math.floor(2 * _GEO_SIGMA) + 1) / (1 + _GEO_ALPHA), True),
    ("gaussian", lambda rs: GaussianSums(rho=0.125, sensitivity=2.0, random_state=rs),
     3.0, float(2 * norm.sf(2.0)), False),
    # Laplace with scale b: P(|X| > t) = exp(-t / b), σ = b·sqrt(2), so P(|X| > 2σ) = exp(-2·sqrt(2)).
    ("laplace", lambda rs: LaplaceSums(epsilon=0.5, sensitivity=2.0, random_state=rs),
     6.0, math.exp(-2 * math.sqrt(2)), False),
]
IDS = [c[0] for c in CASES]


@pytest.fixture(scope="module")
def draws() -> dict[str, tuple[Mechanism, np.ndarray]]:
    """N_DRAWS production (OpenDP, unseeded) noise values per mechanism, shared by the statistical tests."""
    out = {}
    for name, make, *_ in CASES:
        mechanism = make(None)
        out[name] = (mechanism, mechanism.randomise(np.zeros(N_DRAWS)))
    return out


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    """N_DRAWS seeded draws per mechanism from diffprivlib's samplers: the reference distribution."""
    return {name: make(np.random.RandomState(SEED)).randomise(np.zeros(N_DRAWS)) for name, make, *_ in CASES}


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_mean_noise_is_zero(draws, name, make, kurtosis, tail, integer) -> None:
    mechanism, noise = draws[name]
    # 5 standard errors of the mean: a correct sampler fails this about 1 time in 1.7 million.
    assert abs(noise.mean()) <= 5 * mechanism.stddev / math.sqrt(N_DRAWS)


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_sample_variance_matches_variance(draws, name, make, kurtosis, tail, integer) -> None:
    mechanism, noise = draws[name]
    # The sample variance's relative standard error is sqrt((kurtosis - 1) / n): 1.0% for Gaussian
    # noise, 1.6% for Laplace. Allow 5 of them (5-8%); a wrong scale factor (e.g. √2) is far outside.
    tolerance = 5 * math.sqrt((kurtosis - 1) / N_DRAWS)
    assert noise.var() == pytest.approx(mechanism.variance(), rel=tolerance)


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_tail_share_matches_theory(draws, name, make, kurtosis, tail, integer) -> None:
    mechanism, noise = draws[name]
    share = float(np.mean(np.abs(noise) > 2 * mechanism.stddev))
    # Binomial standard error of a share near 5% over 20,000 draws is about 0.15%; allow 5 of them.
    assert share == pytest.approx(tail, abs=5 * math.sqrt(tail * (1 - tail) / N_DRAWS))


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_opendp_and_diffprivlib_agree_on_moments_and_tails(draws, reference, name, make, kurtosis, tail,
                                                           integer) -> None:
    mechanism, noise = draws[name]
    ref = reference[name]
    # Difference of two independent means: standard error σ·sqrt(2/n); allow 5 of them.
    assert abs(noise.mean() - ref.mean()) <= 5 * mechanism.stddev * math.sqrt(2 / N_DRAWS)
    # Ratio of two sample variances: relative standard error sqrt(2·(kurtosis - 1)/n); allow 5 of them.
    assert noise.var() / ref.var() == pytest.approx(1.0, abs=5 * math.sqrt(2 * (kurtosis - 1) / N_DRAWS))
    # Difference of two tail shares near 5%: standard error sqrt(2·p(1-p)/n); allow 5 of them.
    threshold = 2 * mechanism.stddev
    shares = [float(np.mean(np.abs(x) > threshold)) for x in (noise, ref)]
    assert abs(shares[0] - shares[1]) <= 5 * math.sqrt(2 * tail * (1 - tail) / N_DRAWS)


def _binned(samples: list[np.ndarray], width: float, min_expected: float = 20.0) -> np.ndarray:
    """Counts of each sample in common bins of `width` (integers for count noise), with sparse tails
    pooled so every bin expects at least `min_expected` draws: a valid chi-square table."""
    pooled = np.concatenate(samples)
    edges = np.arange(np.floor(pooled.min() / width) * width - width / 2, pooled.max() + width, width)
    table = np.array([np.histogram(x, edges)[0] for x in samples])
    total = table.sum(axis=0)
    keep = np.flatnonzero(total >= min_expected * len(samples))
    low, high = keep.min(), keep.max()
    middle = table[:, low:high + 1]
    return np.column_stack([table[:, :low].sum(axis=1), middle, table[:, high + 1:].sum(axis=1)])


def _same_distribution_p(noise: np.ndarray, ref: np.ndarray, integer: bool, stddev: float) -> float:
    if integer:  # exact lattice: two-sample chi-square on the values themselves
        return float(chi2_contingency(_binned([noise, ref], 1.0))[1])
    return float(ks_2samp(noise, ref).pvalue)  # grid of 2^-20: effectively continuous


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_opendp_matches_diffprivlib_distribution(draws, reference, name, make, kurtosis, tail, integer) -> None:
    # Two-sample chi-square (integer noise) or Kolmogorov-Smirnov (sums) at significance ALPHA.
    mechanism, noise = draws[name]
    assert _same_distribution_p(noise, reference[name], integer, mechanism.stddev) > ALPHA


@pytest.mark.parametrize(("name", "support", "pmf"), [("discrete_gaussian", _DG_SUPPORT, _DG_PMF),
                                                      ("geometric", _GEO_SUPPORT, _GEO_PMF)])
def test_count_noise_matches_the_exact_pmf(draws, name, support, pmf) -> None:
    # Chi-square goodness of fit against the closed-form pmf, tails pooled to >= 20 expected per bin.
    _, noise = draws[name]
    expected = pmf * N_DRAWS
    keep = expected >= 20
    observed = np.array([np.sum(noise < support[keep][0]),
                         *[np.sum(noise == k) for k in support[keep]],
                         np.sum(noise > support[keep][-1])])
    wanted = np.array([expected[support < support[keep][0]].sum(), *expected[keep],
                       expected[support > support[keep][-1]].sum()])
    assert chisquare(observed, wanted * observed.sum() / wanted.sum()).pvalue > ALPHA


def test_distribution_tests_can_fail() -> None:
    # The same tests, fed a sampler whose scale is 25% too large, must reject (power check). At this
    # n a 25% error gives a KS distance near 0.06 against a critical 0.027, and a chi-square far past it.
    wide_dg = DiscreteGaussianCounts(rho=1 / (2 * (1.25 * _DG_SIGMA) ** 2)).randomise(np.zeros(N_DRAWS))
    ref_dg = DiscreteGaussianCounts(rho=1 / (2 * _DG_SIGMA**2),
                                    random_state=np.random.RandomState(SEED)).randomise(np.zeros(N_DRAWS))
    assert _same_distribution_p(wide_dg, ref_dg, True, _DG_SIGMA) < ALPHA
    wide_lap = LaplaceSums(epsilon=0.5 / 1.25, sensitivity=2.0).randomise(np.zeros(N_DRAWS))
    ref_lap = LaplaceSums(epsilon=0.5, sensitivity=2.0, random_state=np.random.RandomState(SEED)).randomise(
        np.zeros(N_DRAWS))
    assert _same_distribution_p(wide_lap, ref_lap, False, 4.0) < ALPHA


def test_discrete_gaussian_tail_is_close_to_the_gaussian_tail() -> None:
    exact = float(_DG_PMF[np.abs(_DG_SUPPORT) > 2 * _DG_SIGMA].sum())
    # With 2σ halfway between lattice points the continuity correction is exact to first order:
    # the two tails agree to within 2% of each other at σ = 3.25.
    assert exact == pytest.approx(2 * norm.sf(2.0), rel=0.02)


def test_discrete_gaussian_variance_is_the_exact_discrete_variance() -> None:
    mechanism = DiscreteGaussianCounts(rho=1 / (2 * 0.6**2))
    support, pmf = _discrete_gaussian_pmf(0.6)
    # Below σ ≈ 1 the discrete variance departs from σ²; variance() must be the discrete one.
    assert mechanism.variance() == pytest.approx(float(np.sum(pmf * support**2)), rel=1e-9)
    assert mechanism.variance() < 0.6**2 * 0.99


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_count_noise_is_integer_valued(draws, name, make, kurtosis, tail, integer) -> None:
    _, noise = draws[name]
    assert np.array_equal(noise, np.round(noise)) == integer


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_randomise_keeps_shape_and_adds_to_values(name, make, kurtosis, tail, integer) -> None:
    values = np.arange(12).reshape(3, 4)
    noisy_a = make(np.random.RandomState(1)).randomise(values)
    noise = make(np.random.RandomState(1)).randomise(np.zeros((3, 4), dtype=values.dtype))
    assert noisy_a.shape == (3, 4)
    np.testing.assert_allclose(noisy_a - values, noise)  # noise does not depend on the value
    assert make(None).randomise(values).shape == (3, 4)  # production path keeps the shape too


def test_discrete_gaussian_tail_threshold_is_exact() -> None:
    # σ ≈ 0.97 and δ = 0.02 is where σ·Φ⁻¹(1 - δ) = 1.99 sits just below a lattice point: the
    # continuous quantile would keep noise >= 2, which has probability 5.3%, not 2%.
    sigma = 0.97
    mechanism = DiscreteGaussianCounts(rho=1 / (2 * sigma**2))
    support, pmf = _discrete_gaussian_pmf(mechanism.sigma)
    for delta in (0.02, 1e-3, 1e-6, 1e-12):
        t = mechanism.tail_threshold(delta)
        assert pmf[support >= t].sum() <= delta < pmf[support >= t - 1].sum()
    assert mechanism.tail_threshold(0.02) == 3


@pytest.mark.parametrize("epsilon", [0.05, 0.5, 2.0])
@pytest.mark.parametrize("delta", [0.3, 1e-3, 6.7e-6, 1e-12])
def test_geometric_tail_threshold_is_exact(epsilon, delta) -> None:
    mechanism = GeometricCounts(epsilon=epsilon)
    support, pmf = _geometric_pmf(epsilon)
    t = mechanism.tail_threshold(delta)
    assert t >= 0 and pmf[support >= t].sum() <= delta * (1 + 1e-9)
    assert t == 0 or pmf[support >= t - 1].sum() > delta


FACTORIES: dict[str, Callable[..., Mechanism]] = {
    "discrete_gaussian": lambda cost, sensitivity=1.0: DiscreteGaussianCounts(rho=cost, sensitivity=sensitivity),
    "geometric": lambda cost, sensitivity=1.0: GeometricCounts(epsilon=cost, sensitivity=sensitivity),
    "gaussian": lambda cost, sensitivity=1.0: GaussianSums(rho=cost, sensitivity=sensitivity),
    "laplace": lambda cost, sensitivity=1.0: LaplaceSums(epsilon=cost, sensitivity=sensitivity),
}
BAD = [0.0, -1.0, float("nan"), float("inf"), -float("inf")]


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("cost", BAD, ids=[str(b) for b in BAD])
def test_bad_cost_raises_mechanism_error(name, cost) -> None:
    with pytest.raises(MechanismError):
        FACTORIES[name](cost)


@pytest.mark.parametrize("name", FACTORIES)
@pytest.mark.parametrize("sensitivity", BAD, ids=[str(b) for b in BAD])
def test_bad_sensitivity_raises_mechanism_error(name, sensitivity) -> None:
    with pytest.raises(MechanismError):
        FACTORIES[name](0.5, sensitivity)


def test_sigma_for_rho_rejects_bad_rho() -> None:
    for rho in BAD:
        with pytest.raises(MechanismError):
            sigma_for_rho(rho, 1.0)


@pytest.mark.parametrize("name", FACTORIES)
def test_unseeded_mechanisms_draw_different_noise(name) -> None:
    # Two mechanisms built without random_state, and the numpy global seed reset before each:
    # 50 draws of noise with σ ≥ 1 collide by chance with probability far below 1e-20.
    np.random.seed(0)
    first = FACTORIES[name](0.1).randomise(np.zeros(50))
    np.random.seed(0)
    second = FACTORIES[name](0.1).randomise(np.zeros(50))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", FACTORIES)
def test_unseeded_mechanisms_draw_from_opendp_in_one_call(name, monkeypatch) -> None:
    # Production noise: one vectorised OpenDP draw per randomise, and diffprivlib's samplers never run.
    calls: list[int] = []
    real_draw = exact_module._draw

    def spy(kind: str, n: int, scale: float) -> np.ndarray:
        calls.append(n)
        return real_draw(kind, n, scale)  # type: ignore[arg-type]
    monkeypatch.setattr(exact_module, "_draw", spy)
    for cls in ("GaussianDiscrete", "Gaussian", "Geometric", "Laplace"):
        monkeypatch.setattr(f"diffprivlib.mechanisms.{cls}.randomise", _forbidden)
    mechanism = FACTORIES[name](0.1)
    assert mechanism._reference is None
    mechanism.randomise(np.zeros((3, 7)))
    assert calls == [21]


def _forbidden(*args: object, **kwargs: object) -> None:
    raise AssertionError("production noise must not come from diffprivlib's samplers")


@pytest.mark.parametrize("name", ["discrete_gaussian", "geometric"])
def test_large_counts_get_exact_noise_and_overflow_is_refused(name) -> None:
    # OpenDP saturates at the int64 limits without saying so; noise is drawn on zeros and added here.
    mechanism = FACTORIES[name](0.1)
    big = np.full(200, 2**52, dtype=np.int64)  # still exact in the float64 output
    noise = mechanism.randomise(big) - 2.0**52
    assert np.array_equal(noise, np.round(noise)) and np.abs(noise).max() < 100 * mechanism.stddev
    assert noise.std() > 0
    with pytest.raises(MechanismError, match="2\\^61"):
        mechanism.randomise(np.array([2**62], dtype=np.int64))


@pytest.mark.parametrize("cls", [GaussianSums, LaplaceSums])
def test_sums_off_the_public_grid_are_refused(cls) -> None:
    kwargs = {"rho": 0.1} if cls is GaussianSums else {"epsilon": 0.1}
    mechanism = cls(**kwargs, sensitivity=1.0, grid=0.25)
    assert np.all(np.mod(mechanism.randomise(np.array([0.5, -1.25, 3.0])), 0.25) == 0)
    with pytest.raises(MechanismError, match="grid"):
        mechanism.randomise(np.array([0.1]))


# ---- selection (exponential mechanism) -------------------------------------------------------------------

N_SELECT = 3000  # OpenDP builds one measurement per selection (~0.5 ms), so fewer draws than for noise
UTILITY = np.array([0.0, 1.0, 2.0, 4.0])


def _exponential_noise_winner_pmf(utility: np.ndarray, scale: float) -> np.ndarray:
    """P(i wins) for report-noisy-max with Exp(scale) noise, by numerical integration of
    f_i(x)·Π_{j≠i} F_j(x) over the noisy score x of candidate i."""
    def cdf(x: float, u: float) -> float:
        return 0.0 if x < u else 1 - math.exp(-(x - u) / scale)
    out = []
    for i, u in enumerate(utility):
        def density(x: float, i: int = i, u: float = float(u)) -> float:
            rest = math.prod(cdf(x, float(v)) for j, v in enumerate(utility) if j != i)
            return math.exp(-(x - u) / scale) / scale * rest
        out.append(integrate.quad(density, float(u), float(u) + 60 * scale, limit=200,
                                  points=[float(v) for v in utility if v > u])[0])
    return np.array(out)


def test_selection_under_zcdp_is_the_exponential_mechanism() -> None:
    # ρ = 0.125 buys ε = 1: P(i) ∝ exp(ε·u_i / 2) with Δ = 1. Chi-square against the softmax, and a
    # two-sample chi-square against diffprivlib's Exponential (seeded reference), each at ALPHA.
    picks = np.array([select_index(UTILITY, cost=0.125, unit="rho", sensitivity=1.0) for _ in range(N_SELECT)])
    observed = np.bincount(picks, minlength=UTILITY.size)
    softmax = np.exp(UTILITY / 2) / np.exp(UTILITY / 2).sum()
    assert chisquare(observed, softmax * N_SELECT).pvalue > ALPHA
    reference = Exponential(epsilon=1.0, sensitivity=1.0, utility=list(UTILITY),
                            random_state=np.random.RandomState(SEED))
    ref = np.bincount([reference.randomise() for _ in range(N_SELECT)], minlength=UTILITY.size)
    assert chi2_contingency(np.vstack([observed, ref]))[1] > ALPHA
    # Power: ε = 2 (twice the charge) is rejected by the same test.
    assert chisquare(observed, np.exp(UTILITY) / np.exp(UTILITY).sum() * N_SELECT).pvalue < ALPHA


def test_selection_under_pure_epsilon_is_report_noisy_max_with_exponential_noise() -> None:
    # ε = 1, Δ = 1: exponential noise of scale 2Δ/ε = 2 on each utility (permute-and-flip's distribution).
    picks = np.array([select_index(UTILITY, cost=1.0, unit="epsilon", sensitivity=1.0) for _ in range(N_SELECT)])
    observed = np.bincount(picks, minlength=UTILITY.size)
    pmf = _exponential_noise_winner_pmf(UTILITY, 2.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-6)
    assert chisquare(observed, pmf / pmf.sum() * N_SELECT).pvalue > ALPHA
    # It is ε-DP, so no outcome's probability may exceed e^ε times its value when every utility moves by Δ
    # (here: the top candidate's utility lowered by 1); checked on the exact pmf.
    moved = _exponential_noise_winner_pmf(UTILITY - np.array([0, 0, 0, 1.0]), 2.0)
    assert np.all(pmf <= math.e * moved + 1e-9) and np.all(moved <= math.e * pmf + 1e-9)


def test_selection_refuses_to_run_above_its_charge() -> None:
    # OpenDP's map at this scale is ε = 2Δ/scale = 1; charging 0.5 must be refused before any draw.
    with pytest.raises(MechanismError, match="more than"):
        report_noisy_max(UTILITY, scale=2.0, measure="epsilon", sensitivity=1.0, cost=0.5)
    with pytest.raises(MechanismError):
        select_index([float("nan"), 1.0], cost=0.1, unit="rho", sensitivity=1.0)


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_seeded_mechanisms_are_reproducible(name, make, kurtosis, tail, integer) -> None:
    # The test-only seed (diffprivlib reference path) must work, or the contract tests are not repeatable.
    first = make(np.random.RandomState(7)).randomise(np.zeros(20))
    second = make(np.random.RandomState(7)).randomise(np.zeros(20))
    np.testing.assert_array_equal(first, second)


def test_charges_report_their_cost() -> None:
    assert DiscreteGaussianCounts(rho=0.3).charge("m:a") == Charge("m:a", rho=0.3)
    assert GaussianSums(rho=0.2, sensitivity=4.0).charge("s:a") == Charge("s:a", rho=0.2)
    assert GeometricCounts(epsilon=0.7).charge("m:b") == Charge("m:b", epsilon=0.7)
    assert LaplaceSums(epsilon=0.4, sensitivity=3.0).charge("s:b") == Charge("s:b", epsilon=0.4)


@pytest.mark.parametrize("sensitivity", [1.0, 2.0, 5.5])
def test_gaussian_noise_drawn_gives_the_charged_rho(sensitivity) -> None:
    # Bun & Steinke: Gaussian noise σ on an L2-sensitivity-Δ query is Δ²/(2σ²)-zCDP, so the charge fixes
    # σ = Δ/sqrt(2ρ) with no help from the mechanism. Over N_DRAWS unseeded production draws (zero mean),
    # n·mean(X²)/σ² is chi-square with n degrees of freedom (the discrete Gaussian's moments match at
    # σ >= 3.16 to far below this test's resolution); reject outside its two-sided 1 - ALPHA interval,
    # about ±4.9% in σ² here. A σ off by √2 (a classic slip) doubles the statistic.
    sigma = sensitivity / math.sqrt(2 * 0.05)
    low, high = chi2.ppf(ALPHA / 2, N_DRAWS), chi2.isf(ALPHA / 2, N_DRAWS)
    for mechanism in (DiscreteGaussianCounts(rho=0.05, sensitivity=sensitivity),
                      GaussianSums(rho=0.05, sensitivity=sensitivity)):
        noise = mechanism.randomise(np.zeros(N_DRAWS))
        statistic = float(np.sum(noise**2)) / sigma**2
        assert low <= statistic <= high, f"{type(mechanism).__name__}: n·s²/σ² = {statistic:.0f} for n = {N_DRAWS}"
    # And OpenDP's own privacy map, at the σ the mechanism uses, certifies the same ρ.
    if sensitivity.is_integer():
        space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64")
        certified = dp.m.make_gaussian(*space, scale=DiscreteGaussianCounts(rho=0.05, sensitivity=sensitivity).sigma)
        assert certified.map(int(sensitivity)) == pytest.approx(0.05, rel=1e-9)


def test_laplace_and_geometric_noise_drawn_gives_the_charged_epsilon() -> None:
    # Laplace: the charge fixes the scale b = Δ/ε = 6. |X| is exponential with mean b, so 2·Σ|X|/b over
    # N_DRAWS unseeded draws is chi-square with 2n degrees of freedom; reject outside its two-sided
    # 1 - ALPHA interval (about ±3.5% in b). A scale off by 25% is far outside.
    noise = LaplaceSums(epsilon=0.5, sensitivity=3.0).randomise(np.zeros(N_DRAWS))
    statistic = 2 * float(np.abs(noise).sum()) / (3.0 / 0.5)
    assert chi2.ppf(ALPHA / 2, 2 * N_DRAWS) <= statistic <= chi2.isf(ALPHA / 2, 2 * N_DRAWS)
    # Geometric: the charge fixes α = exp(-ε/Δ), with Δ = 1.5 rounded up to 2, and P(X = 0) = (1 - α)/(1 + α)
    # ≈ 0.124. The number of zeros is Binomial(n, P(X = 0)) exactly; reject when either tail of it at the
    # observed count is below ALPHA/2 (about ±4.9 standard errors, ε within about ±9%; a wrong Δ = 1.5
    # would give P(X = 0) ≈ 0.165, 18 standard errors away).
    alpha = math.exp(-0.5 / 2)
    p_zero = (1 - alpha) / (1 + alpha)
    for sensitivity in (2.0, 1.5):
        zeros = int(np.sum(GeometricCounts(epsilon=0.5, sensitivity=sensitivity).randomise(np.zeros(N_DRAWS)) == 0))
        assert binom.cdf(zeros, N_DRAWS, p_zero) >= ALPHA / 2 and binom.sf(zeros - 1, N_DRAWS, p_zero) >= ALPHA / 2, \
            f"Δ = {sensitivity}: {zeros} zeros in {N_DRAWS} draws, expected about {p_zero * N_DRAWS:.0f}"
    # OpenDP's own privacy map at the scale GeometricCounts uses certifies ε for the rounded-up Δ.
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    assert dp.m.make_laplace(*space, scale=GeometricCounts(epsilon=0.5, sensitivity=1.5).scale).map(2) == \
        pytest.approx(0.5, rel=1e-9)
