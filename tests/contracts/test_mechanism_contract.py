"""Every noise mechanism passes the same checks (in the style of the model contract).

Production noise comes from OpenDP and cannot be seeded, so the distribution check is a two-sample test
against diffprivlib's sampler for the same distribution (the reference, seeded: tests only) at a fixed
significance of 1e-6 on N_DRAWS draws: a correct sampler fails it by chance about once in a million.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2_contingency, ks_2samp

import synthgate.privacy.mechanisms._exact as exact_module
import synthgate.privacy.table as table_module
from synthgate.privacy.accountant import Accountant, Budget, Charge
from synthgate.privacy.domain import Domain
from synthgate.privacy.mechanisms import DiscreteGaussianCounts, GaussianSums, GeometricCounts, LaplaceSums, Mechanism
from synthgate.privacy.table import PrivateTable

N_DRAWS = 10_000
SEED = 4242
ALPHA = 1e-6
REPO = Path(__file__).resolve().parents[2]
# name -> (factory taking a random_state, integer-valued noise?)
MECHANISMS: dict[str, tuple[Callable[[object], Mechanism], bool]] = {
    "discrete_gaussian": (lambda rs: DiscreteGaussianCounts(rho=0.02, sensitivity=2.0, random_state=rs), True),
    "geometric": (lambda rs: GeometricCounts(epsilon=0.4, sensitivity=2.0, random_state=rs), True),
    "gaussian_sums": (lambda rs: GaussianSums(rho=0.1, sensitivity=3.0, random_state=rs), False),
    "laplace_sums": (lambda rs: LaplaceSums(epsilon=0.3, sensitivity=1.5, random_state=rs), False),
}


def check_production_noise_is_one_opendp_call(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, integer = MECHANISMS[name]
    sizes: list[int] = []
    real = exact_module._draw
    monkeypatch.setattr(exact_module, "_draw", lambda kind, n, scale: sizes.append(n) or real(kind, n, scale))
    mechanism = make(None)
    noise = mechanism.randomise(np.zeros((40, 5)))
    assert sizes == [200] and noise.shape == (40, 5)
    grid = 1.0 if integer else mechanism.grid  # type: ignore[attr-defined]
    assert np.array_equal(noise / grid, np.round(noise / grid))  # integers on the mechanism's lattice


def check_matches_the_diffprivlib_reference(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, integer = MECHANISMS[name]
    noise = make(None).randomise(np.zeros(N_DRAWS))
    ref = make(np.random.RandomState(SEED)).randomise(np.zeros(N_DRAWS))
    if integer:
        values = np.union1d(noise, ref)
        table = np.array([[np.sum(x == v) for v in values] for x in (noise, ref)])
        keep = table.sum(axis=0) >= 40
        table = np.column_stack([table[:, keep], table[:, ~keep].sum(axis=1)])
        p = float(chi2_contingency(table[:, table.sum(axis=0) > 0])[1])
    else:
        p = float(ks_2samp(noise, ref).pvalue)
    assert p > ALPHA


def check_variance_matches_samples(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative standard error of a sample variance is at most sqrt(5/n) (Laplace-type kurtosis 6): 2.2%;
    # allow 5 of them.
    make, _ = MECHANISMS[name]
    mechanism = make(None)
    assert mechanism.randomise(np.zeros(N_DRAWS)).var() == pytest.approx(mechanism.variance(),
                                                                          rel=5 * math.sqrt(5 / N_DRAWS))


def check_no_seed_reaches_production_noise(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, _ = MECHANISMS[name]
    draws = []
    for _ in range(2):
        np.random.seed(0)
        random.seed(0)
        draws.append(make(None).randomise(np.zeros(30)))
    assert not np.array_equal(*draws)  # σ > 1 on 30 cells: equal by chance with p far below 1e-20


def mechanism_checks() -> Iterator[Callable[[str, pytest.MonkeyPatch], None]]:
    yield check_production_noise_is_one_opendp_call
    yield check_matches_the_diffprivlib_reference
    yield check_variance_matches_samples
    yield check_no_seed_reaches_production_noise


@pytest.mark.parametrize(("name", "check"), [(n, c) for n in MECHANISMS for c in mechanism_checks()],
                         ids=lambda x: getattr(x, "__name__", str(x)))
def test_mechanism_contract(name: str, check: Callable[[str, pytest.MonkeyPatch], None],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    check(name, monkeypatch)


@pytest.mark.parametrize("budget", [Budget(epsilon=4.0, delta=1e-6), Budget(epsilon=4.0)], ids=["zcdp", "pure"])
def test_the_table_builds_every_mechanism_unseeded(monkeypatch: pytest.MonkeyPatch, budget: Budget) -> None:
    built: list[Mechanism] = []
    for cls in (DiscreteGaussianCounts, GeometricCounts, GaussianSums, LaplaceSums):
        def make(*args: object, _cls: type = cls, **kwargs: object) -> Mechanism:
            built.append(_cls(*args, **kwargs))
            return built[-1]
        monkeypatch.setattr(table_module, cls.__name__, make)
    domain = Domain(("a", "b"), (3, 4))
    codes = np.column_stack([np.arange(60) % 3, np.arange(60) % 4])
    accountant = Accountant(budget)
    table = PrivateTable(codes, domain, accountant)
    table.marginal(["a", "b"], cost=0.1)
    table.second_moments(["a", "b"], [np.zeros(3), np.ones(4)], clip=1.0, cost=0.1)
    table.select([["a"], ["b"]], [np.zeros(3), np.zeros(4)], cost=0.1, label="select:contract")
    assert len(built) == 2 and all(m._reference is None for m in built)  # type: ignore[attr-defined]
    unit = "rho" if budget.accounting == "zcdp" else "epsilon"
    assert [c.label for c in accountant.charges] == ["marginal:a,b", "moments:a,b", "select:contract"]
    assert all(getattr(c, unit) == 0.1 for c in accountant.charges)
    assert isinstance(accountant.charges[0], Charge)


def test_no_production_code_passes_a_seed_to_a_mechanism() -> None:
    pattern = re.compile(r"(DiscreteGaussianCounts|GeometricCounts|GaussianSums|LaplaceSums)\([^)]*random_state")
    offenders = [str(p.relative_to(REPO)) for folder in ("privacy", "pipeline", "quality")
                 for p in (REPO / folder).rglob("*.py") if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
