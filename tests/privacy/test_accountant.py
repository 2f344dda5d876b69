"""Accountant: composition arithmetic, check-before-spend, refusals that record nothing."""

from __future__ import annotations

import math

import pytest

from synthgate.pipeline.errors import BudgetExceededError
from synthgate.privacy.accountant import Accountant, Budget, Charge
from synthgate.privacy.cdp import epsilon_from_rho, rho_from_epsilon


def test_pure_epsilon_adds_up() -> None:
    accountant = Accountant(Budget(epsilon=1.0))
    accountant.spend(Charge("marginal:a", epsilon=0.25))
    accountant.spend(Charge("marginal:b", epsilon=0.5))
    spent = accountant.spent()
    assert (spent.epsilon, spent.delta, spent.accounting) == (0.75, 0.0, "pure")
    assert [c.label for c in accountant.charges] == ["marginal:a", "marginal:b"]


def test_zcdp_composes_rho_and_pure_charges_then_converts() -> None:
    budget = Budget(epsilon=2.0, delta=1e-6)
    accountant = Accountant(budget)
    accountant.spend(Charge("marginal:a", rho=0.01))
    accountant.spend(Charge("bounds:b", epsilon=0.1))                     # ε-DP is ε²/2-zCDP: 0.005
    accountant.spend(Charge("domain:categories:c", rho=0.002, delta=1e-7))  # thresholded: δ spent up front
    spent = accountant.spent()
    # Hand-computed: ρ = 0.01 + 0.1²/2 + 0.002 = 0.017; δ left for the conversion = 1e-6 - 1e-7.
    assert spent.rho == pytest.approx(0.017, rel=1e-12)
    assert spent.epsilon == pytest.approx(epsilon_from_rho(0.017, 9e-7), rel=1e-12)
    assert (spent.delta, spent.accounting) == (1e-6, "zcdp")
    # And the conversion itself is the CKS one, tighter than ρ + 2·sqrt(ρ·ln(1/δ)) = 0.4986.
    assert 0.017 < spent.epsilon < 0.017 + 2 * math.sqrt(0.017 * math.log(1 / 9e-7))


def test_check_does_not_record() -> None:
    accountant = Accountant(Budget(epsilon=1.0))
    accountant.spend(Charge("a", epsilon=0.5))
    assert accountant.check(Charge("b", epsilon=0.5))
    assert not accountant.check(Charge("b", epsilon=0.6))
    assert accountant.check(Charge("b", epsilon=0.25), Charge("c", epsilon=0.25))   # several at once
    assert not accountant.check(Charge("b", epsilon=0.25), Charge("c", epsilon=0.3))
    assert accountant.charges == (Charge("a", epsilon=0.5),)
    assert accountant.spent().epsilon == 0.5


@pytest.mark.parametrize(("budget", "unit"), [(Budget(epsilon=1.0), "epsilon"),
                                              (Budget(epsilon=1.0, delta=1e-6), "rho")], ids=["pure", "zcdp"])
def test_over_budget_spend_raises_and_records_nothing(budget, unit) -> None:
    accountant = Accountant(budget)
    share = 0.9 if unit == "epsilon" else 0.9 * accountant.rho_available()
    first = Charge("marginal:a", **{unit: share})
    accountant.spend(first)
    before = accountant.spent()
    with pytest.raises(BudgetExceededError) as caught:
        accountant.spend(Charge("marginal:sex,age", **{unit: share}))
    assert "marginal:sex,age" in str(caught.value)
    assert accountant.charges == (first,)
    assert accountant.spent() == before


def test_zcdp_refuses_past_rho_available() -> None:
    budget = Budget(epsilon=1.0, delta=1e-6)
    accountant = Accountant(budget)
    rho = accountant.rho_available()
    assert rho == pytest.approx(rho_from_epsilon(1.0, 1e-6))
    assert accountant.check(Charge("all", rho=rho))
    assert not accountant.check(Charge("all", rho=rho * 1.001))


def test_shares_that_add_up_to_the_budget_fit() -> None:
    # Thirds do not sum exactly to 1.0 in floating point; the relative slack absorbs that.
    accountant = Accountant(Budget(epsilon=1.0))
    for i in range(3):
        accountant.spend(Charge(f"marginal:{i}", epsilon=1 / 3))
    with pytest.raises(BudgetExceededError):
        accountant.spend(Charge("marginal:extra", epsilon=1e-6))


def test_thresholded_delta_is_set_aside() -> None:
    budget = Budget(epsilon=1.0, delta=1e-6)
    accountant = Accountant(budget)
    reserved = budget.delta / 2
    rho = accountant.rho_available(reserved_delta=reserved)
    assert rho < accountant.rho_available()  # less δ left for the conversion, less ρ
    accountant.spend(Charge("domain:categories:c", rho=rho / 2, delta=reserved))
    accountant.spend(Charge("model", rho=rho / 2))
    assert accountant.spent().epsilon == pytest.approx(1.0, rel=1e-6)
    # A thresholded charge that uses up all of δ leaves nothing to convert with: refused.
    with pytest.raises(BudgetExceededError):
        accountant.spend(Charge("domain:categories:d", rho=1e-9, delta=reserved))


@pytest.mark.parametrize("charge", [Charge("marginal:age", rho=0.1),
                                    Charge("marginal:age", epsilon=0.1, delta=1e-9)], ids=["gaussian", "threshold"])
def test_pure_budget_refuses_gaussian_and_thresholded_charges(charge) -> None:
    accountant = Accountant(Budget(epsilon=5.0))
    with pytest.raises(BudgetExceededError) as caught:
        accountant.spend(charge)
    message = str(caught.value)
    assert "marginal:age" in message and "delta" in message
    assert accountant.charges == ()


def test_refusal_message_names_label_and_budget_only() -> None:
    accountant = Accountant(Budget(epsilon=0.5))
    with pytest.raises(BudgetExceededError) as caught:
        accountant.spend(Charge("marginal:income", epsilon=0.75))
    message = str(caught.value)
    # The accountant never holds data; its message is the label and the budget figures, nothing else.
    assert "'marginal:income'" in message and "epsilon=0.5" in message
    assert "privacy.epsilon" in message  # says how to fix it


def test_replayed_charges_are_checked() -> None:
    past = [Charge("batch1", epsilon=0.6), Charge("batch2", epsilon=0.3)]
    accountant = Accountant(Budget(epsilon=1.0), spent=past)
    assert accountant.charges == tuple(past)
    with pytest.raises(BudgetExceededError):
        Accountant(Budget(epsilon=1.0), spent=[*past, Charge("batch3", epsilon=0.2)])


@pytest.mark.parametrize("costs", [{"rho": -0.1}, {"epsilon": -1.0}, {"delta": -1e-9}, {"rho": float("nan")},
                                   {"epsilon": float("nan")}, {"delta": float("nan")}, {"epsilon": float("inf")}])
def test_bad_charges_raise(costs) -> None:
    with pytest.raises(ValueError, match="marginal:x"):
        Charge("marginal:x", **costs)


@pytest.mark.parametrize(("epsilon", "delta"), [(0.0, 0.0), (-1.0, 0.0), (float("nan"), 0.0), (float("inf"), 0.0),
                                                (1.0, -1e-6), (1.0, 1.0), (1.0, float("nan"))])
def test_bad_budgets_raise(epsilon, delta) -> None:
    with pytest.raises(ValueError):
        Budget(epsilon, delta)


def test_rho_available_needs_zcdp() -> None:
    with pytest.raises(ValueError):
        Accountant(Budget(epsilon=1.0)).rho_available()
