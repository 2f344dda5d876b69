"""zCDP <-> (ε, δ) conversion (Canonne, Kamath, Steinke 2020, Prop. 12; as private-pgm's cdp2adp).

The reference values come from an independent derivation: the CKS bound

    δ(ρ, ε) = min over α > 1 of  exp((α-1)(αρ - ε)) / (α-1) · (1 - 1/α)^α

minimised numerically with scipy (not bisection on the derivative, as the module does), and the
inverse solved with brentq. private-pgm's cdp_eps / cdp_rho compute the same quantities, so these
are the values it gives for the same inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq, minimize_scalar

from synthgate.privacy.cdp import delta_from_rho, epsilon_from_rho, rho_from_epsilon


def _reference_log_delta(rho: float, epsilon: float) -> float:
    def log_bound(alpha: float) -> float:
        return (alpha - 1) * (alpha * rho - epsilon) + alpha * math.log1p(-1 / alpha) - math.log(alpha - 1)
    result = minimize_scalar(log_bound, bounds=(1 + 1e-9, 1e6), method="bounded", options={"xatol": 1e-12})
    return float(result.fun)


def _reference_epsilon(rho: float, delta: float) -> float:
    return float(brentq(lambda e: _reference_log_delta(rho, e) - math.log(delta), rho, 100.0, xtol=1e-14))


def _reference_rho(epsilon: float, delta: float) -> float:
    return float(brentq(lambda r: _reference_log_delta(r, epsilon) - math.log(delta), 1e-8, epsilon, xtol=1e-15))


# Fixed values from the derivation above (printed once, kept here so a change in either side shows).
KNOWN = [
    # (rho, delta, epsilon)
    (0.1, 1e-6, 2.14193892838548),
    (0.024355970359538, 1e-6, 1.0),
]


@pytest.mark.parametrize(("rho", "delta", "epsilon"), KNOWN)
def test_known_values(rho, delta, epsilon) -> None:
    # The module's bisections run 200 steps; 1e-9 relative is far coarser than their resolution.
    assert epsilon_from_rho(rho, delta) == pytest.approx(epsilon, rel=1e-9)
    assert rho_from_epsilon(epsilon, delta) == pytest.approx(rho, rel=1e-9)


def test_known_delta_value() -> None:
    # δ(ρ = 0.1, ε = 2) = 4.3252e-6 by the same derivation; the textbook bound would need ε = 2.45.
    assert delta_from_rho(0.1, 2.0) == pytest.approx(4.3252108690926e-06, rel=1e-9)


GRID = [(rho, delta) for rho in (1e-4, 0.01, 0.1, 0.5, 2.0, 10.0) for delta in (1e-3, 1e-6, 1e-9, 1e-12)]


@pytest.mark.parametrize(("rho", "delta"), GRID)
def test_matches_independent_derivation(rho, delta) -> None:
    # Two numerical minimisations of the same smooth bound agree to 1e-7 relative.
    assert epsilon_from_rho(rho, delta) == pytest.approx(_reference_epsilon(rho, delta), rel=1e-7)


@pytest.mark.parametrize(("rho", "delta"), GRID)
def test_tighter_than_textbook_and_at_least_rho(rho, delta) -> None:
    epsilon = epsilon_from_rho(rho, delta)
    textbook = rho + 2 * math.sqrt(rho * math.log(1 / delta))
    assert rho <= epsilon < textbook


@pytest.mark.parametrize(("rho", "delta"), GRID)
def test_conversion_is_sound(rho, delta) -> None:
    # The ε returned really achieves δ (the search keeps the safe side of the bisection).
    assert delta_from_rho(rho, epsilon_from_rho(rho, delta)) <= delta


@pytest.mark.parametrize("epsilon", [0.1, 0.5, 1.0, 3.0, 10.0])
@pytest.mark.parametrize("delta", [1e-5, 1e-9])
def test_rho_and_epsilon_are_inverses(epsilon, delta) -> None:
    rho = rho_from_epsilon(epsilon, delta)
    assert delta_from_rho(rho, epsilon) <= delta  # the ρ returned is safe for (ε, δ)
    assert epsilon_from_rho(rho, delta) == pytest.approx(epsilon, abs=1e-6)
    assert rho_from_epsilon(epsilon_from_rho(rho, delta), delta) == pytest.approx(rho, abs=1e-6)
    assert rho == pytest.approx(_reference_rho(epsilon, delta), rel=1e-7)


def test_monotone() -> None:
    rhos = [1e-4, 1e-3, 0.01, 0.1, 1.0, 10.0]
    assert np.all(np.diff([epsilon_from_rho(r, 1e-6) for r in rhos]) > 0)          # more ρ, more ε
    deltas = [1e-3, 1e-6, 1e-9, 1e-12]
    assert np.all(np.diff([epsilon_from_rho(0.1, d) for d in deltas]) > 0)        # less δ, more ε
    epsilons = [0.1, 0.5, 1.0, 2.0, 5.0]
    assert np.all(np.diff([rho_from_epsilon(e, 1e-6) for e in epsilons]) > 0)     # more ε, more ρ
    assert np.all(np.diff([delta_from_rho(0.1, e) for e in epsilons]) < 0)        # more ε, less δ


def test_zero_rho_costs_nothing() -> None:
    assert epsilon_from_rho(0.0, 1e-6) == 0.0
    assert delta_from_rho(0.0, 1.0) == 0.0


@pytest.mark.parametrize(("call", "args"), [
    (epsilon_from_rho, (0.1, 0.0)), (epsilon_from_rho, (0.1, 1.0)), (epsilon_from_rho, (0.1, -1e-6)),
    (rho_from_epsilon, (0.0, 1e-6)), (rho_from_epsilon, (-1.0, 1e-6)), (rho_from_epsilon, (1.0, 0.0)),
    (delta_from_rho, (-0.1, 1.0)), (delta_from_rho, (0.1, -1.0)),
])
def test_bad_arguments_raise(call, args) -> None:
    with pytest.raises(ValueError):
        call(*args)
