"""PrivateTable, the privacy boundary: every read is charged first, then noised at the right scale."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import synthgate.privacy.table as table_module
from synthgate.pipeline.errors import BudgetExceededError
from synthgate.privacy.accountant import Accountant, Budget, Charge
from synthgate.privacy.domain import Domain
from synthgate.privacy.mechanisms import DiscreteGaussianCounts, GaussianSums, GeometricCounts, LaplaceSums
from synthgate.privacy.table import PrivateTable

SEED = 1234
DOMAIN = Domain(("a", "b", "c"), (3, 4, 5))


class Recorder:
    """Seeds the table's mechanisms (tests only) and records, in order, every spend, read and draw."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.mechanisms: list[Any] = []
        self.state = np.random.RandomState(SEED)

    def factory(self, cls: type) -> Any:
        def make(**kwargs: Any) -> Any:
            mechanism = cls(**kwargs, random_state=self.state)
            randomise = mechanism.randomise

            def recorded(values: np.ndarray) -> np.ndarray:
                self.events.append("noise")
                return randomise(values)
            mechanism.randomise = recorded  # type: ignore[method-assign]
            self.mechanisms.append(mechanism)
            return mechanism
        return make


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    rec = Recorder()
    for cls in (DiscreteGaussianCounts, GeometricCounts, GaussianSums, LaplaceSums):
        monkeypatch.setattr(table_module, cls.__name__, rec.factory(cls))
    return rec


class SpyCodes(np.ndarray):
    """A codes array that logs every element read (indexing), so a test can see when data is touched."""

    log: list[str]

    def __array_finalize__(self, obj: Any) -> None:
        self.log = getattr(obj, "log", [])

    def __getitem__(self, key: Any) -> Any:
        self.log.append("read")
        return np.asarray(self).__getitem__(key)


def spy_codes(codes: np.ndarray, log: list[str]) -> SpyCodes:
    spy = codes.view(SpyCodes)
    spy.log = log
    return spy


class RecordingAccountant(Accountant):
    def __init__(self, budget: Budget, log: list[str]) -> None:
        super().__init__(budget)
        self._log = log

    def spend(self, charge: Charge) -> None:
        self._log.append("spend:" + charge.label)
        super().spend(charge)


def _codes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.integers(0, size, n) for size in DOMAIN.sizes]).astype(np.int32)


def _zcdp() -> Accountant:
    return Accountant(Budget(epsilon=20.0, delta=1e-6))


def test_marginal_spends_exactly_its_cost_before_reading(recorder: Recorder) -> None:
    accountant = RecordingAccountant(Budget(epsilon=20.0, delta=1e-6), recorder.events)
    table = PrivateTable(spy_codes(_codes(2000), recorder.events), DOMAIN, accountant)
    recorder.events.clear()
    table.marginal(["a", "b"], cost=0.25)
    assert accountant.charges == (Charge("marginal:a,b", rho=0.25),)
    assert recorder.events[0] == "spend:marginal:a,b"
    assert "read" in recorder.events and recorder.events[-1] == "noise"
    assert recorder.events.index("spend:marginal:a,b") < recorder.events.index("read")


def test_marginal_counts_shape_and_total(recorder: Recorder) -> None:
    n = 5000
    table = PrivateTable(_codes(n), DOMAIN, _zcdp())
    m = table.marginal(["b", "c"], cost=0.5)
    assert m.shape == (4, 5) and m.noisy_counts.shape == (4, 5)
    assert m.columns == ("b", "c") and m.label == "marginal:b,c"
    sigma = recorder.mechanisms[-1].sigma
    assert m.stddev == pytest.approx(sigma, rel=1e-6) and sigma == pytest.approx(1 / math.sqrt(2 * 0.5))
    # The total is n plus the sum of 20 independent noises: sd = σ·sqrt(20); allow 4 sd.
    assert abs(m.noisy_counts.sum() - n) <= 4 * sigma * math.sqrt(20)
    exact = np.zeros((4, 5))
    np.add.at(exact, (table._PrivateTable__codes[:, 1], table._PrivateTable__codes[:, 2]), 1)  # test-only peek
    assert np.max(np.abs(m.noisy_counts - exact)) <= 5 * sigma  # each cell within 5σ of its exact count
    with pytest.raises(ValueError):
        m.noisy_counts[0, 0] = 0  # measurements are read-only


def test_empty_marginal_is_a_noisy_row_count(recorder: Recorder) -> None:
    table = PrivateTable(_codes(777), DOMAIN, _zcdp())
    m = table.marginal([], cost=0.5)
    assert m.noisy_counts.shape == (1,)
    assert abs(m.noisy_counts[0] - 777) <= 5 * m.stddev


def test_pure_accounting_uses_geometric_noise_and_charges_epsilon(recorder: Recorder) -> None:
    accountant = Accountant(Budget(epsilon=1.0))
    table = PrivateTable(_codes(1000), DOMAIN, accountant)
    assert table.cost_unit == "epsilon"
    m = table.marginal(["a"], cost=0.4)
    assert isinstance(recorder.mechanisms[-1], GeometricCounts)
    assert accountant.charges == (Charge("marginal:a", epsilon=0.4),)
    assert np.array_equal(m.noisy_counts, np.round(m.noisy_counts))


def test_query_over_budget_raises_before_any_read_or_draw(recorder: Recorder) -> None:
    log: list[str] = []
    codes = _codes(777)
    codes[:, 0] = 0  # a distinctive count (777 rows in cell a=0) that must not reach the message
    accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
    table = PrivateTable(spy_codes(codes, log), DOMAIN, accountant)
    log.clear()
    recorder.events.clear()
    with pytest.raises(BudgetExceededError) as caught:
        table.marginal(["a"], cost=10.0)
    assert log == [] and recorder.events == []   # no row read, no noise drawn
    assert accountant.charges == ()
    assert "marginal:a" in str(caught.value) and "777" not in str(caught.value)
    with pytest.raises(BudgetExceededError):
        table.second_moments(["a", "b"], [np.zeros(3), np.zeros(4)], clip=1.0, cost=10.0)
    assert log == [] and recorder.events == [] and accountant.charges == ()


@pytest.mark.parametrize("cost", [0.0, -0.1, float("nan")])
def test_bad_cost_raises_before_spending(recorder: Recorder, cost: float) -> None:
    accountant = _zcdp()
    table = PrivateTable(_codes(100), DOMAIN, accountant)
    with pytest.raises(ValueError):
        table.marginal(["a"], cost=cost)
    assert accountant.charges == ()


def test_second_moments_clips_scores_and_fixes_sensitivity(recorder: Recorder) -> None:
    n, clip, rho = 3000, 2.0, 0.5
    codes = _codes(n, seed=3)
    accountant = _zcdp()
    table = PrivateTable(codes, DOMAIN, accountant)
    scores = [np.array([-1.0, 0.5, 1e9]),               # one huge score: must be clipped to 2
              np.array([-3.0, -1.0, 1.0, 3.0]),
              np.array([0.0, 1.0, -1e12, 2.0, 0.5])]
    m = table.second_moments(["a", "b", "c"], scores, clip=clip, cost=rho)
    n_entries = 6
    expected_sigma = clip**2 * math.sqrt(n_entries) / math.sqrt(2 * rho)
    assert recorder.mechanisms[-1].sigma == pytest.approx(expected_sigma, rel=1e-12)
    assert m.stddev == pytest.approx(expected_sigma, rel=1e-12)
    assert accountant.charges == (Charge("moments:a,b,c", rho=rho),)
    z = np.column_stack([np.clip(s, -clip, clip)[codes[:, j]] for j, s in enumerate(scores)])
    exact = (z.T @ z)[np.triu_indices(3)]
    assert m.shape == (n_entries,)
    # Each entry gets Gaussian noise σ ≈ 9.8; 5σ bounds every one of 6 entries with room to spare,
    # while an unclipped score of 1e9 would put the sums off by ~1e20.
    assert np.max(np.abs(m.noisy_counts - exact)) <= 5 * expected_sigma


def test_second_moments_are_exact_sums_on_the_score_grid_plus_discrete_noise() -> None:
    # No fixture: production noise. Scores are rounded to multiples of 2^-10 before summing, so every
    # noisy entry is a multiple of 2^-20 (integer sums on the grid plus integer noise, scaled back).
    table = PrivateTable(_codes(400, seed=5), DOMAIN, _zcdp())
    scores = [np.array([-1.0, 0.3, 1.7]), np.array([0.1, -0.7, 1.0, 2.5])]
    m = table.second_moments(["a", "b"], scores, clip=2.0, cost=0.5)
    units = m.noisy_counts * 2.0**20
    assert np.array_equal(units, np.round(units))
    assert not np.array_equal(units % 2**10, np.zeros(3))  # the noise itself is finer than the score grid


def test_second_moments_under_pure_accounting_uses_l1_sensitivity(recorder: Recorder) -> None:
    accountant = Accountant(Budget(epsilon=2.0))
    table = PrivateTable(_codes(500), DOMAIN, accountant)
    m = table.second_moments(["a", "b"], [np.ones(3), np.ones(4)], clip=1.5, cost=1.0)
    mechanism = recorder.mechanisms[-1]
    assert isinstance(mechanism, LaplaceSums)
    assert mechanism.sensitivity == pytest.approx(1.5**2 * 3)  # 3 entries, each moved by at most clip²
    assert m.stddev == pytest.approx(math.sqrt(2) * 1.5**2 * 3 / 1.0)
    assert accountant.charges == (Charge("moments:a,b", epsilon=1.0),)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_second_moments_rejects_non_finite_scores_before_spending(recorder: Recorder, bad: float) -> None:
    # A NaN score would survive clipping and make a sum NaN exactly when some row holds that code.
    accountant = _zcdp()
    table = PrivateTable(_codes(100), DOMAIN, accountant)
    with pytest.raises(ValueError, match="'b'"):
        table.second_moments(["a", "b"], [np.zeros(3), np.array([0.0, bad, 0.0, 0.0])], clip=1.0, cost=0.1)
    assert accountant.charges == () and recorder.events == []


def test_second_moments_rejects_bad_arguments_before_spending(recorder: Recorder) -> None:
    accountant = _zcdp()
    table = PrivateTable(_codes(100), DOMAIN, accountant)
    for scores, clip in [([np.zeros(3)], 1.0), ([np.zeros(3), np.zeros(3)], 1.0),
                         ([np.zeros(3), np.zeros(4)], 0.0), ([np.zeros(3), np.zeros(4)], float("nan"))]:
        with pytest.raises(ValueError):
            table.second_moments(["a", "b"], scores, clip=clip, cost=0.1)
    assert accountant.charges == ()


@pytest.mark.parametrize("offsets", [[0.0], [0.0, float("nan")], [0.0, float("inf")]])
def test_select_checks_its_offsets_before_spending(recorder: Recorder, offsets: list[float]) -> None:
    """A bad call must cost nothing: the offsets were checked after the charge (issue 9, part 5)."""
    accountant = _zcdp()
    table = PrivateTable(_codes(100), DOMAIN, accountant)
    candidates = [("a",), ("b",)]
    estimates = [np.zeros(DOMAIN.size("a")), np.zeros(DOMAIN.size("b"))]
    with pytest.raises(ValueError, match="offset"):
        table.select(candidates, estimates, cost=0.1, label="select:test", offsets=offsets)
    assert accountant.charges == ()


def test_codes_are_checked_against_the_domain() -> None:
    accountant = _zcdp()
    codes = _codes(50)
    codes[7, 2] = 5  # column c has 5 codes: 0..4
    with pytest.raises(ValueError, match="'c'") as caught:
        PrivateTable(codes, DOMAIN, accountant)
    assert "7" not in str(caught.value)
    codes[7, 2] = -1
    with pytest.raises(ValueError, match="'c'"):
        PrivateTable(codes, DOMAIN, accountant)
    with pytest.raises(ValueError):
        PrivateTable(codes[:, :2], DOMAIN, accountant)
    with pytest.raises(ValueError):
        PrivateTable(_codes(50).astype(float), DOMAIN, accountant)
    PrivateTable(np.zeros((0, 3), np.int32), DOMAIN, accountant)  # an empty table is fine


def test_no_public_accessor_to_the_rows() -> None:
    table = PrivateTable(_codes(10), DOMAIN, _zcdp())
    assert {name for name in dir(table) if not name.startswith("_")} == {
        "domain", "contribution", "cost_unit", "count_stddev", "marginal", "second_moments", "select"}


def test_unseeded_table_noise_differs_between_runs() -> None:
    # No fixture here: production mechanisms, secure RNG. Same query, same data, two draws.
    codes = _codes(1000)
    first = PrivateTable(codes, DOMAIN, _zcdp()).marginal(["c"], cost=0.01).noisy_counts
    second = PrivateTable(codes, DOMAIN, _zcdp()).marginal(["c"], cost=0.01).noisy_counts
    assert not np.array_equal(first, second)  # σ ≈ 7 on 5 cells: equal by chance with p ≈ 1e-7


@pytest.mark.parametrize("k", [1, 3])
def test_every_query_is_calibrated_to_the_rows_one_individual_holds(recorder: Recorder, monkeypatch, k: int) -> None:
    rho = 0.5
    table = PrivateTable(_codes(500), DOMAIN, _zcdp(), contribution=k)
    table.marginal(["a"], cost=rho)
    assert recorder.mechanisms[-1].sigma == pytest.approx(k / math.sqrt(2 * rho))
    scores = [np.zeros(3), np.zeros(4)]
    table.second_moments(["a", "b"], scores, clip=2.0, cost=rho)
    assert recorder.mechanisms[-1].sigma == pytest.approx(k * 4.0 * math.sqrt(3) / math.sqrt(2 * rho))
    sensitivities: list[float] = []
    real_select = table_module.select_index

    def recording(utility, **kwargs):
        sensitivities.append(kwargs["sensitivity"])
        return real_select(utility, **kwargs)
    monkeypatch.setattr(table_module, "select_index", recording)
    table.select([["a"], ["b"]], [np.zeros(3), np.zeros(4)], cost=0.01, label="select:test")
    assert sensitivities == [k]
    pure = PrivateTable(_codes(500), DOMAIN, Accountant(Budget(epsilon=5.0, delta=0.0)), contribution=k)
    pure.marginal(["a"], cost=1.0)
    assert recorder.mechanisms[-1].sensitivity == k


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_contribution_must_be_a_positive_whole_number(bad) -> None:
    with pytest.raises(ValueError, match="contribution"):
        PrivateTable(_codes(10), DOMAIN, _zcdp(), contribution=bad)
