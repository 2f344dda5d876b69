"""Conditional sampling (`Model.condition`) against an independent reference: the exact conditional,
computed by enumerating every cell of a small domain (6 x 2 x 5 x 3 = 180 cells) from the fitted
model's own factors, restricted to the evidence and normalised.

Statistical test: 20,000 conditional draws (seed fixed) against the exact cell probabilities by
Pearson's chi-square, cells with expected count < 5 pooled; fails at p < 1e-4 (a correct sampler
fails about once in 10,000 runs; a sampler that ignores the evidence's effect on other columns
fails at p ~ 0 here, checked by `test_the_reference_would_catch_plain_filtering`).
"""

from __future__ import annotations

import functools
import numpy as np
import pytest
from scipy.stats import chisquare

import synthgate.privacy.models.base as base_module
import synthgate.privacy.table as table_module
from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.domain import Domain
from synthgate.privacy.mechanisms import DiscreteGaussianCounts, GaussianSums, GeometricCounts, LaplaceSums
from synthgate.privacy.models import AdaptiveModel, CopulaModel, IndependentModel, Model, SchemaModel, TreeModel
from synthgate.privacy.models.conditional import ConditionError, Evidence
from synthgate.privacy.table import PrivateTable

from services.exact import chi_square_p, exact_conditional

DOMAIN = Domain(("a", "b", "c", "d"), (6, 2, 5, 3), ordered=(True, False, False, False))
EVIDENCE = Evidence.from_mapping({"b": [1], "c": [2, 3]})
N_DRAWS, ALPHA = 20_000, 1e-4


@pytest.fixture(autouse=True)
def seeded_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    state = np.random.RandomState(7)
    for cls in (DiscreteGaussianCounts, GeometricCounts, GaussianSums, LaplaceSums):
        monkeypatch.setattr(table_module, cls.__name__, functools.partial(cls, random_state=state))


def _codes(n: int = 20_000) -> np.ndarray:
    """Dependent columns, so conditioning on b and c moves a and d."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 6, n)
    b = (a > 2).astype(int) ^ (rng.random(n) < 0.1)
    c = (a + rng.integers(0, 2, n)) % 5
    d = (b + c) % 3
    return np.column_stack([a, b, c, d]).astype(np.int32)


@functools.cache
def _fitted(kind: str) -> Model:
    model: Model = {"schema": SchemaModel, "independent": IndependentModel, "copula": CopulaModel,
                    "tree": TreeModel, "aim": AdaptiveModel}[kind]()
    table = PrivateTable(_codes(), DOMAIN, Accountant(Budget(epsilon=10.0, delta=1e-6)))
    return model.fit(table, 0.0 if kind == "schema" else 0.5)


def _exact_conditional(kind: str, evidence: Evidence) -> tuple[np.ndarray, float]:
    return exact_conditional(_fitted(kind), DOMAIN, evidence)


def _chi_square_p(draws: np.ndarray, expected_p: np.ndarray) -> float:
    return chi_square_p(draws, expected_p, DOMAIN)


@pytest.mark.parametrize("kind", ["schema", "independent", "tree", "aim"])
def test_conditional_draws_match_the_exact_conditional(kind: str) -> None:
    conditional = _fitted(kind).condition(EVIDENCE)
    draws = conditional.sample(N_DRAWS, np.random.default_rng(3))
    assert EVIDENCE.accepts(draws, DOMAIN).all()
    expected, probability = _exact_conditional(kind, EVIDENCE)
    assert _chi_square_p(draws, expected) > ALPHA
    # p(evidence): exact for restriction and belief propagation; the AIM pilot (100,000 draws) within 5 s.e.
    tolerance = 1e-9 if kind != "aim" else 5 * np.sqrt(probability * (1 - probability) / 100_000)
    assert conditional.probability == pytest.approx(probability, abs=tolerance)


def test_the_reference_would_catch_plain_filtering() -> None:
    """Guard: drawing the evidence columns' codes alone, others unconditionally, fails the test."""
    model = _fitted("tree")
    draws = model.sample(N_DRAWS, np.random.default_rng(4))
    draws[:, 1] = 1
    draws[:, 2] = np.random.default_rng(5).choice([2, 3], N_DRAWS)
    expected, _ = _exact_conditional("tree", EVIDENCE)
    assert _chi_square_p(draws, expected) < 1e-12


def test_copula_rejection_matches_filtered_draws() -> None:
    """No closed form for the copula: its rejection draws against unconditional draws filtered by the
    evidence (a two-sample chi-square on the cells of a and d)."""
    model = _fitted("copula")
    conditional = model.condition(EVIDENCE)
    draws = conditional.sample(N_DRAWS, np.random.default_rng(6))
    pool = model.sample(400_000, np.random.default_rng(7))
    pool = pool[EVIDENCE.accepts(pool, DOMAIN)]
    assert EVIDENCE.accepts(draws, DOMAIN).all() and conditional.probability == pytest.approx(len(pool) / 400_000, rel=0.05)
    a = np.bincount(draws[:, 0] * 3 + draws[:, 3], minlength=18).astype(float)
    b = np.bincount(pool[:, 0] * 3 + pool[:, 3], minlength=18).astype(float)
    keep = (a + b) > 10
    expected = b[keep] / b[keep].sum() * a[keep].sum()
    assert chisquare(a[keep], expected).pvalue > ALPHA / 10  # the pool is itself a sample


@pytest.mark.parametrize("kind", ["schema", "independent", "tree", "aim", "copula"])
def test_a_condition_below_the_floor_is_refused(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind refuses through the same floor (raised here so that EVIDENCE, p ~ 0.1-0.2, is below it)."""
    monkeypatch.setattr(base_module, "MIN_PROBABILITY", 0.5)
    with pytest.raises(ConditionError, match="probability"):
        _fitted(kind).condition(EVIDENCE)


def test_a_code_the_model_gives_no_mass_is_refused() -> None:
    model = _fitted("independent")
    assert isinstance(model, IndependentModel)
    saved = model.probabilities_[0].copy()
    model.probabilities_[0] = np.array([0.2, 0.2, 0.2, 0.2, 0.2, 0.0])
    try:
        with pytest.raises(ConditionError, match="probability 0 "):
            model.condition(Evidence.from_mapping({"a": [5]}))
    finally:
        model.probabilities_[0] = saved


def test_evidence_outside_the_domain_is_refused() -> None:
    with pytest.raises(ConditionError, match="outside"):
        _fitted("tree").condition(Evidence.from_mapping({"c": [9]}))
    with pytest.raises(ConditionError, match="no such column"):
        _fitted("tree").condition(Evidence.from_mapping({"zz": [0]}))
