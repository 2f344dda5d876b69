"""Noise mechanisms: calibration (mean, variance, tails), parameter checks, cost and secure randomness.

Statistical checks use fixed seeds (`random_state`, for tests only) and N_DRAWS draws per mechanism;
diffprivlib's samplers are scalar loops (about 5-30 µs a draw), so 20,000 draws cost well under a second.
Each tolerance is a multiple of the statistic's own standard error, stated next to it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable

import numpy as np
import pytest
from scipy.stats import norm

from synthgate.privacy.accountant import Charge
from synthgate.privacy.mechanisms import (
    DiscreteGaussianCounts,
    GaussianSums,
    GeometricCounts,
    LaplaceSums,
    Mechanism,
    MechanismError,
    sigma_for_rho,
)

N_DRAWS = 20_000
SEED = 20240611


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
    """One seeded run of N_DRAWS noise values per mechanism, shared by the statistical tests."""
    out = {}
    for name, make, *_ in CASES:
        mechanism = make(np.random.RandomState(SEED))
        out[name] = (mechanism, mechanism.randomise(np.zeros(N_DRAWS)))
    return out


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_mean_noise_is_zero(draws, name, make, kurtosis, tail, integer) -> None:
    mechanism, noise = draws[name]
    # 4 standard errors of the mean: a correct sampler fails this about 1 time in 16,000.
    assert abs(noise.mean()) <= 4 * mechanism.stddev / math.sqrt(N_DRAWS)


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
    # Binomial standard error of a share near 5% over 20,000 draws is about 0.15%; allow 4 of them.
    assert share == pytest.approx(tail, abs=4 * math.sqrt(tail * (1 - tail) / N_DRAWS))


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
def test_unseeded_mechanisms_use_the_secure_generator(name) -> None:
    mechanism = FACTORIES[name](0.1)
    assert isinstance(mechanism._mechanism._rng, secrets.SystemRandom)


@pytest.mark.parametrize(("name", "make", "kurtosis", "tail", "integer"), CASES, ids=IDS)
def test_seeded_mechanisms_are_reproducible(name, make, kurtosis, tail, integer) -> None:
    # The test-only seed must work, or the statistical tests above are not repeatable.
    first = make(np.random.RandomState(7)).randomise(np.zeros(20))
    second = make(np.random.RandomState(7)).randomise(np.zeros(20))
    np.testing.assert_array_equal(first, second)


def test_charges_report_their_cost() -> None:
    assert DiscreteGaussianCounts(rho=0.3).charge("m:a") == Charge("m:a", rho=0.3)
    assert GaussianSums(rho=0.2, sensitivity=4.0).charge("s:a") == Charge("s:a", rho=0.2)
    assert GeometricCounts(epsilon=0.7).charge("m:b") == Charge("m:b", epsilon=0.7)
    assert LaplaceSums(epsilon=0.4, sensitivity=3.0).charge("s:b") == Charge("s:b", epsilon=0.4)


@pytest.mark.parametrize("sensitivity", [1.0, 2.0, 5.5])
def test_gaussian_scale_gives_the_charged_rho(sensitivity) -> None:
    # Bun & Steinke: Gaussian noise σ on an L2-sensitivity-Δ query is Δ²/(2σ²)-zCDP.
    for mechanism in (DiscreteGaussianCounts(rho=0.05, sensitivity=sensitivity),
                      GaussianSums(rho=0.05, sensitivity=sensitivity)):
        assert mechanism.sensitivity**2 / (2 * mechanism.sigma**2) == pytest.approx(0.05, rel=1e-12)


def test_laplace_and_geometric_scales_give_the_charged_epsilon() -> None:
    # Laplace scale b = Δ/ε has variance 2b²; geometric α = exp(-ε/Δ) has variance 2α/(1-α)².
    assert LaplaceSums(epsilon=0.5, sensitivity=3.0).variance() == pytest.approx(2 * 36.0)
    alpha = math.exp(-0.5 / 2)
    assert GeometricCounts(epsilon=0.5, sensitivity=2).variance() == pytest.approx(2 * alpha / (1 - alpha) ** 2)
    # A fractional L1 sensitivity is rounded up (more noise, never less).
    assert GeometricCounts(epsilon=0.5, sensitivity=1.5).variance() == GeometricCounts(
        epsilon=0.5, sensitivity=2).variance()
