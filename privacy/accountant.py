"""Composes every charge of one run against its budget; checks before it spends.

Accounting: with δ > 0 the run is accounted in zero-concentrated DP (Bun & Steinke 2016).
Gaussian measurements cost ρ; a pure-ε measurement costs ε²/2 in ρ; a thresholded release of
category names adds its failure probability to δ (approximate zCDP). The total converts to
(ε, δ) with the Canonne-Kamath-Steinke bound. zCDP composes the many marginals a model takes
far more tightly than adding ε. With δ = 0 the run is accounted in pure ε: only pure-ε charges
are allowed and their ε add up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import BudgetExceededError

from .cdp import epsilon_from_rho, rho_from_epsilon

__all__ = ["Budget", "Charge", "Accountant", "Spend"]

_SLACK = 1e-9  # relative slack for floating-point sums of shares that add up to the budget


@dataclass(frozen=True)
class Budget:
    """A run's privacy budget in (ε, δ)."""

    epsilon: float
    delta: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epsilon) and self.epsilon > 0 and 0 <= self.delta < 1):
            raise ValueError("a budget needs a finite epsilon > 0 and 0 <= delta < 1")

    @property
    def accounting(self) -> str:
        return "zcdp" if self.delta > 0 else "pure"


@dataclass(frozen=True)
class Charge:
    """One noisy query's cost. The label names stage and columns, never values."""

    label: str
    rho: float = 0.0
    epsilon: float = 0.0
    delta: float = 0.0

    def __post_init__(self) -> None:
        # `min(...) < 0` alone lets NaN through (every comparison with NaN is False).
        if not all(math.isfinite(v) and v >= 0 for v in (self.rho, self.epsilon, self.delta)):
            raise ValueError(f"charge '{self.label}': costs must be finite and non-negative")

    def to_json(self) -> dict[str, object]:
        return {"label": self.label, "rho": self.rho, "epsilon": self.epsilon, "delta": self.delta}


@dataclass(frozen=True)
class Spend:
    """What a list of charges adds up to, in the budget's accounting."""

    epsilon: float
    delta: float
    rho: float
    accounting: str

    def to_json(self) -> dict[str, object]:
        return {"epsilon": self.epsilon, "delta": self.delta, "rho": self.rho, "accounting": self.accounting}


class Accountant:
    """Composes the charges of one run. Pass it explicitly; there is no default accountant."""

    def __init__(self, budget: Budget, spent: Sequence[Charge] = (),
                 on_spend: Callable[[Sequence[Charge]], None] | None = None) -> None:
        """`on_spend` is called with every charge so far, after a charge is recorded and before
        the query draws its noise: the ledger uses it to write each spend down first."""
        self._budget = budget
        self._spent: list[Charge] = []
        self._on_spend = None
        for charge in spent:
            self.spend(charge)
        self._on_spend = on_spend

    @property
    def budget(self) -> Budget:
        return self._budget

    @property
    def charges(self) -> tuple[Charge, ...]:
        return tuple(self._spent)

    def rho_available(self, reserved_delta: float = 0.0) -> float:
        """Total ρ the budget allows once `reserved_delta` is set aside for thresholded releases."""
        if self._budget.accounting != "zcdp":
            raise ValueError("rho is only defined for zCDP accounting (delta > 0)")
        return rho_from_epsilon(self._budget.epsilon, self._budget.delta - reserved_delta)

    def compose(self, charges: Sequence[Charge]) -> Spend:
        if self._budget.accounting == "pure":
            if refused := [c.label for c in charges if c.rho > 0 or c.delta > 0]:
                raise BudgetExceededError(
                    f"'{refused[0]}' is a Gaussian or thresholded measurement, which needs privacy.delta > 0;"
                    " set a delta in the config"
                )
            return Spend(sum(c.epsilon for c in charges), 0.0, 0.0, "pure")
        rho = sum(c.rho + c.epsilon**2 / 2 for c in charges)
        delta_approx = sum(c.delta for c in charges)
        delta_left = self._budget.delta - delta_approx
        if delta_left <= 0:
            return Spend(float("inf"), self._budget.delta, rho, "zcdp")
        return Spend(epsilon_from_rho(rho, delta_left), self._budget.delta, rho, "zcdp")

    def check(self, *charges: Charge) -> bool:
        """Would these charges, added to what is spent, stay within the budget?"""
        spend = self.compose([*self._spent, *charges])
        return spend.epsilon <= self._budget.epsilon * (1 + _SLACK)

    def spend(self, charge: Charge) -> None:
        """Record a charge; raises BudgetExceededError (and records nothing) if it does not fit."""
        if not self.check(charge):
            raise BudgetExceededError(
                f"'{charge.label}' does not fit: {self.spent().epsilon:.4g} of epsilon="
                f"{self._budget.epsilon:g} is spent; lower the plan's shares or raise privacy.epsilon"
            )
        self._spent.append(charge)
        if self._on_spend is not None:
            self._on_spend(tuple(self._spent))

    def spent(self) -> Spend:
        return self.compose(self._spent)
