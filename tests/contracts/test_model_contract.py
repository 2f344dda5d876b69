"""Every model kind passes the same checks (in the style of sklearn's estimator_checks).

Noise is seeded through the table's mechanisms for repeatability (tests only); the sampling seed
is the model's own `rng` argument.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from scipy.stats import spearmanr

import synthgate.privacy.table as table_module
from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.domain import Domain, Measurement
from synthgate.privacy.mechanisms import DiscreteGaussianCounts, GaussianSums, GeometricCounts, LaplaceSums
from synthgate.privacy.models import (AdaptiveModel, CopulaModel, IndependentModel, Model, ModelError, SchemaModel,
                                      TreeModel)
from synthgate.privacy.table import PrivateTable

SEED = 31337
DOMAIN = Domain(("age", "sex", "region"), (6, 2, 5))
N_ROWS = 20_000


@pytest.fixture(autouse=True)
def seeded_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    state = np.random.RandomState(SEED)
    for cls in (DiscreteGaussianCounts, GeometricCounts, GaussianSums, LaplaceSums):
        monkeypatch.setattr(table_module, cls.__name__, functools.partial(cls, random_state=state))


def _codes(domain: Domain = DOMAIN, n: int = N_ROWS, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    columns = []
    for size in domain.sizes:
        p = rng.dirichlet(np.ones(size))
        columns.append(rng.choice(size, n, p=p))
    return np.column_stack(columns).astype(np.int32)


def _accountant(accounting: str) -> Accountant:
    return Accountant(Budget(epsilon=10.0, delta=1e-6) if accounting == "zcdp" else Budget(epsilon=10.0))


def _budget(model: Model) -> float:
    return 0.0 if isinstance(model, SchemaModel) else 0.5


def _fitted(model: Model, domain: Domain = DOMAIN, accounting: str = "zcdp") -> tuple[Model, Accountant]:
    accountant = _accountant(accounting)
    model.fit(PrivateTable(_codes(domain), domain, accountant), _budget(model))
    return model, accountant


class SpyTable:
    """Stands in for a PrivateTable and lets through only its public query interface."""

    ALLOWED = frozenset({"domain", "contribution", "cost_unit", "count_stddev", "marginal", "second_moments", "select"})

    def __init__(self, table: PrivateTable) -> None:
        self._table = table
        self.accessed: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.accessed.append(name)
        if name not in self.ALLOWED:
            raise AttributeError(f"a model read '{name}' from the table: only {sorted(self.ALLOWED)} are public")
        return getattr(self._table, name)


# ---- the checks -------------------------------------------------------------------------------------------

def check_fit_returns_self(model: Model) -> None:
    accountant = _accountant("zcdp")
    assert model.fit(PrivateTable(_codes(), DOMAIN, accountant), _budget(model)) is model


def check_fit_charges_exactly_its_budget(model: Model) -> None:
    # Under both accountings, and on a one-column table (where the copula has no correlation to buy).
    for accounting in ("zcdp", "pure"):
        for domain in (DOMAIN, DOMAIN.project(["age"])):
            _, accountant = _fitted(copy.deepcopy(model), domain, accounting)
            charges = accountant.charges
            total = sum(c.rho for c in charges) if accounting == "zcdp" else sum(c.epsilon for c in charges)
            # Shares are budget·(share)/d: float sums of a few terms, exact to ~1e-16 relative.
            assert total == pytest.approx(_budget(model), rel=1e-12, abs=1e-15), (accounting, domain.columns)
            if accounting == "zcdp":
                assert accountant.spent().rho == pytest.approx(_budget(model), rel=1e-12, abs=1e-15)
            assert all(c.label for c in charges)


def check_fit_reads_only_through_private_table(model: Model) -> None:
    codes = _codes()
    spy = SpyTable(PrivateTable(codes, DOMAIN, _accountant("zcdp")))
    model.fit(spy, _budget(model))  # type: ignore[arg-type]
    assert set(spy.accessed) <= SpyTable.ALLOWED

    def arrays(value: Any) -> Iterator[np.ndarray]:
        if isinstance(value, np.ndarray):
            yield value
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from arrays(v)
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            for v in vars(value).values():
                yield from arrays(v)
    # Nothing the model keeps is, or shares memory with, the training codes, or has one entry per row.
    for kept in arrays(model):
        assert not np.shares_memory(kept, codes)
        assert kept.shape[:1] != (N_ROWS,)


def check_same_seed_same_rows(model: Model) -> None:
    model, _ = _fitted(model)
    first = model.sample(500, np.random.default_rng(7))
    second = model.sample(500, np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, model.sample(500, np.random.default_rng(8)))


def check_samples_stay_in_domain(model: Model) -> None:
    model, _ = _fitted(model)
    rows = model.sample(5000, np.random.default_rng(1))
    assert rows.shape == (5000, len(DOMAIN.columns)) and np.issubdtype(rows.dtype, np.integer)
    assert rows.min() >= 0 and np.all(rows.max(axis=0) < np.array(DOMAIN.sizes))
    assert model.sample(0, np.random.default_rng(1)).shape == (0, len(DOMAIN.columns))


def check_sample_before_fit_raises(model: Model) -> None:
    with pytest.raises(ModelError):
        model.sample(10, np.random.default_rng(0))


def check_n_estimate_close_to_n(model: Model) -> None:
    model, _ = _fitted(model)
    if isinstance(model, SchemaModel):
        assert model.n_estimate is None  # measured nothing, so it knows nothing about n
        return
    counts = [m for m in model.measurements_ if not m.label.startswith("moments:")]
    sd = 1 / np.sqrt(sum(1 / (m.noisy_counts.size * m.stddev**2) for m in counts))
    # Inverse-variance average of unbiased totals: within 5 of its standard deviations (here ≈ 3 rows).
    assert abs(model.n_estimate - N_ROWS) <= 5 * sd


def check_init_only_stores_params(model: Model) -> None:
    # sklearn's convention: __init__ keeps each parameter as given (no copies, no checks); fit checks.
    params = model.get_params()
    again = type(model)(**params)
    assert again.get_params() == params and all(getattr(again, k) is v for k, v in params.items())
    assert again.measurements_ == [] and again.domain_ is None


def check_bad_params_are_refused_by_fit_before_any_spend(model: Model) -> None:
    for name in model.get_params():
        broken = copy.deepcopy(model)
        setattr(broken, name, "not a value")  # no parameter accepts a string
        accountant = _accountant("zcdp")
        with pytest.raises(ModelError, match=f"{type(model).__name__}: {name} must be"):
            broken.fit(PrivateTable(_codes(), DOMAIN, accountant), _budget(model))
        assert not accountant.charges


def check_describe_is_public_json(model: Model) -> None:
    model, _ = _fitted(model)
    description = model.describe()
    assert isinstance(description, dict)
    json.dumps(description)  # goes into the manifest as it is


def check_restore_gives_the_same_rows(model: Model) -> None:
    # Replay's promise: the stored measurements and public structure rebuild the same sampler, spending nothing.
    fitted, _ = _fitted(copy.deepcopy(model))
    stored = json.loads(json.dumps({"structure": fitted.structure(),
                                    "measurements": [m.to_json() for m in fitted.measurements_]}))
    restored = model.restore(DOMAIN, [Measurement.from_json(m) for m in stored["measurements"]], stored["structure"])
    np.testing.assert_array_equal(restored.sample(500, np.random.default_rng(4)),
                                  fitted.sample(500, np.random.default_rng(4)))


MODELS: list[Model] = [SchemaModel(), IndependentModel(), CopulaModel(), TreeModel(groups=4), AdaptiveModel(groups=4)]


def model_checks(model: Model) -> Iterator[Callable[[Model], None]]:
    yield check_fit_returns_self
    yield check_fit_charges_exactly_its_budget
    yield check_fit_reads_only_through_private_table
    yield check_same_seed_same_rows
    yield check_samples_stay_in_domain
    yield check_sample_before_fit_raises
    yield check_n_estimate_close_to_n
    yield check_init_only_stores_params
    yield check_describe_is_public_json
    yield check_restore_gives_the_same_rows
    if model.get_params():
        yield check_bad_params_are_refused_by_fit_before_any_spend


@pytest.mark.parametrize(("model", "check"), [(m, c) for m in MODELS for c in model_checks(m)],
                         ids=lambda x: getattr(x, "__name__", type(x).__name__))
def test_model_contract(model: Model, check: Callable[[Model], None]) -> None:
    check(copy.deepcopy(model))


# ---- model-specific behaviour ------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [IndependentModel(), CopulaModel(), TreeModel(groups=4), AdaptiveModel(groups=4)],
                         ids=lambda m: type(m).__name__)
def test_failed_fit_leaves_the_model_unfitted(model: Model) -> None:
    with pytest.raises(ModelError):
        model.fit(PrivateTable(_codes(), DOMAIN, _accountant("zcdp")), 0.0)
    with pytest.raises(ModelError):
        model.sample(10, np.random.default_rng(0))


def test_schema_model_refuses_a_budget() -> None:
    with pytest.raises(ModelError):
        SchemaModel().fit(PrivateTable(_codes(), DOMAIN, _accountant("zcdp")), 0.5)


def test_independent_marginals_converge_to_the_truth() -> None:
    n = 200_000
    domain = Domain(("a", "b"), (5, 10))
    codes = _codes(domain, n, seed=5)
    model = IndependentModel().fit(PrivateTable(codes, domain, Accountant(Budget(epsilon=50.0, delta=1e-6))), 10.0)
    rows = model.sample(n, np.random.default_rng(2))
    for j, size in enumerate(domain.sizes):
        truth = np.bincount(codes[:, j], minlength=size) / n
        synthetic = np.bincount(rows[:, j], minlength=size) / n
        # Sampling error of 200,000 draws over ≤ 10 cells gives a TVD of about 0.003; the DP noise
        # (σ ≈ 0.4 counts per cell at ρ = 5 per column) adds ~1e-6. 0.01 is three times the sampling error.
        assert 0.5 * np.abs(truth - synthetic).sum() < 0.01


def _correlated_codes(n: int, rho_latent: float, sizes: tuple[int, ...], seed: int) -> np.ndarray:
    """Codes from a Gaussian copula: latent normals (first two correlated, the third independent) cut into
    equal-probability bins."""
    rng = np.random.default_rng(seed)
    cov = np.eye(3)
    cov[0, 1] = cov[1, 0] = rho_latent
    latent = rng.multivariate_normal(np.zeros(3), cov, n)
    ranks = latent.argsort(axis=0).argsort(axis=0) / n
    return np.column_stack([np.floor(ranks[:, j] * size).astype(np.int32) for j, size in enumerate(sizes)])


def test_copula_recovers_a_strong_rank_correlation() -> None:
    n = 50_000
    domain = Domain(("x", "y", "z"), (20, 20, 8))
    # Latent r = 0.8135 gives a Spearman correlation of 0.8 ((6/π)·asin(r/2)); 20 bins keep nearly all of it.
    codes = _correlated_codes(n, 0.8135, domain.sizes, seed=11)
    true_xy = spearmanr(codes[:, 0], codes[:, 1]).statistic
    assert true_xy == pytest.approx(0.8, abs=0.02)
    model = CopulaModel().fit(PrivateTable(codes, domain, Accountant(Budget(epsilon=50.0, delta=1e-6))), 5.0)
    rows = model.sample(n, np.random.default_rng(3))
    # At ρ = 5 the moment sums (≈ n) get noise σ ≈ 4.4, so the correlation is estimated to ~1e-4; the
    # rest is sampling error of 50,000 rows (~0.003). 0.1 is the stated goal, with wide room.
    assert spearmanr(rows[:, 0], rows[:, 1]).statistic == pytest.approx(true_xy, abs=0.1)
    assert spearmanr(rows[:, 0], rows[:, 2]).statistic == pytest.approx(0.0, abs=0.1)
    assert abs(model.correlation_[0, 1] - 0.8135) < 0.1
