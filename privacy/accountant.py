"""The accounting module: what charges add up to, and the run's accountant that checks before it spends.

`compose` is the one composition rule, used by a run's `Accountant`, the ledger's lifetime
composition across batches and the budget plan; `BatchAmounts` are charges summed into composable
units, and `Budget.rho_available` is the one ε→ρ conversion of a budget (privacy/cdp.py holds the
maths). Accounting: with δ > 0 the run is accounted in zero-concentrated DP (Bun & Steinke 2016).
Gaussian measurements cost ρ; a pure-ε measurement costs ε²/2 in ρ; a thresholded release of
category names adds its failure probability to δ (approximate zCDP). The total converts to
(ε, δ) with the Canonne-Kamath-Steinke bound. zCDP composes the many marginals a model takes
far more tightly than adding ε. With δ = 0 the run is accounted in pure ε: only pure-ε charges
are allowed and their ε add up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .cdp import epsilon_from_rho, rho_from_epsilon
from .errors import BudgetExceededError

__all__ = ["Budget", "Charge", "Accountant", "BatchAmounts", "Spend", "compose"]

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

    def rho_available(self, reserved_delta: float = 0.0) -> float:
        """Total ρ this budget allows once `reserved_delta` is set aside for thresholded releases."""
        if self.accounting != "zcdp":
            raise ValueError("rho is only defined for zCDP accounting (delta > 0)")
        return rho_from_epsilon(self.epsilon, self.delta - reserved_delta)


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


@dataclass(frozen=True)
class BatchAmounts:
    """A batch's (one run's) charges summed into composable units.

    `rho` is the zCDP cost of every charge (a pure-ε charge counts ε²/2), `rho_gaussian` the part
    from Gaussian charges alone, `epsilon_pure` the sum of pure-ε charges and `delta_approx` the
    δ of thresholded releases. A batch composes in pure ε only if it has no Gaussian or δ part.
    """

    rho: float
    rho_gaussian: float
    epsilon_pure: float
    delta_approx: float

    @classmethod
    def from_charges(cls, charges: Iterable[Charge]) -> BatchAmounts:
        total = _NOTHING
        for charge in charges:
            total = total.plus(charge)
        return total

    def plus(self, charge: Charge) -> BatchAmounts:
        """These amounts with one more charge: O(1), so a run's accountant never re-adds its past."""
        return BatchAmounts(rho=self.rho + (charge.rho + charge.epsilon**2 / 2),
                       rho_gaussian=self.rho_gaussian + charge.rho,
                       epsilon_pure=self.epsilon_pure + charge.epsilon,
                       delta_approx=self.delta_approx + charge.delta)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.rho, self.rho_gaussian, self.epsilon_pure, self.delta_approx)


_NOTHING = BatchAmounts(0.0, 0.0, 0.0, 0.0)


def compose(parts: Iterable[BatchAmounts], *, delta: float) -> Spend:
    """What `parts` (a run's charges, or the batches of a dataset) add up to under a budget with this δ.

    Pure ε (δ = 0): the ε add up; a part with a Gaussian or thresholded charge cannot be accounted
    in pure ε, so the spend is infinite. zCDP (δ > 0): the ρ add up and the thresholding δ add up;
    the total ρ converts to ε with the δ left after those (none left: infinite)."""
    parts = list(parts)
    if delta == 0:
        if any(p.rho_gaussian > 0 or p.delta_approx > 0 for p in parts):
            return Spend(float("inf"), 0.0, 0.0, "pure")
        return Spend(sum(p.epsilon_pure for p in parts), 0.0, 0.0, "pure")
    rho = sum(p.rho for p in parts)
    delta_left = delta - sum(p.delta_approx for p in parts)
    if delta_left <= 0:
        return Spend(float("inf"), delta, rho, "zcdp")
    return Spend(epsilon_from_rho(rho, delta_left), delta, rho, "zcdp")


class Accountant:
    """Composes the charges of one run. Pass it explicitly; there is no default accountant."""

    def __init__(self, budget: Budget, spent: Sequence[Charge] = (),
                 on_spend: Callable[[int, Charge], None] | None = None) -> None:
        """`on_spend(seq, charge)` is called with each new charge and its place in the run (0, 1, ...),
        after the charge is recorded and before the query draws its noise: the ledger uses it to write
        each spend down first."""
        self._budget = budget
        self._spent: list[Charge] = []
        self._amounts = _NOTHING  # running total of `_spent`, so a check never re-adds the past
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
        return self._budget.rho_available(reserved_delta)

    def compose(self, charges: Sequence[Charge]) -> Spend:
        """What `charges` add up to in this budget's accounting (`compose`)."""
        self._refuse_under_pure(charges)
        return compose([BatchAmounts.from_charges(charges)], delta=self._budget.delta)

    def check(self, *charges: Charge) -> bool:
        """Would these charges, added to what is spent, stay within the budget? O(1) in what is spent."""
        self._refuse_under_pure(charges)
        after = self._amounts
        for charge in charges:
            after = after.plus(charge)
        spend = compose([after], delta=self._budget.delta)
        return spend.epsilon <= self._budget.epsilon * (1 + _SLACK)

    def spend(self, charge: Charge) -> None:
        """Record a charge; raises BudgetExceededError (and records nothing) if it does not fit."""
        if not self.check(charge):
            raise BudgetExceededError(
                f"'{charge.label}' does not fit: {self.spent().epsilon:.4g} of epsilon="
                f"{self._budget.epsilon:g} is spent; lower the plan's shares or raise privacy.epsilon"
            )
        self._spent.append(charge)
        self._amounts = self._amounts.plus(charge)
        if self._on_spend is not None:
            self._on_spend(len(self._spent) - 1, charge)

    def spent(self) -> Spend:
        return compose([self._amounts], delta=self._budget.delta)

    def _refuse_under_pure(self, charges: Sequence[Charge]) -> None:
        if self._budget.accounting == "pure" and (
                refused := [c.label for c in charges if c.rho > 0 or c.delta > 0]):
            raise BudgetExceededError(
                f"'{refused[0]}' is a Gaussian or thresholded measurement, which needs privacy.delta > 0;"
                " set a delta in the config"
            )
