"""The budget plan: how a run's budget is split between DP domains and the model, in the open.

Every share is fixed by public config before any data is read, and shown in the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.ledger import BatchAmounts

from .config import ReleaseConfig
from .errors import ConfigError

__all__ = ["BudgetPlan", "plan_budget"]


@dataclass(frozen=True)
class BudgetPlan:
    """Costs in `unit` (ρ under zCDP, ε under pure DP)."""

    unit: str
    total: float
    domain_cost_per_column: float
    n_estimated_columns: int
    delta_per_category_column: float
    model_cost: float

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def planned_amounts(self, budget: Budget) -> BatchAmounts:
        """The most this plan can spend, for the ledger's reservation before any data is read."""
        if self.unit == "rho":
            return BatchAmounts(rho=self.total, rho_gaussian=self.total, epsilon_pure=0.0,
                                delta_approx=budget.delta - self._conversion_delta(budget))
        return BatchAmounts(rho=self.total**2 / 2, rho_gaussian=0.0, epsilon_pure=self.total, delta_approx=0.0)

    def _conversion_delta(self, budget: Budget) -> float:
        return budget.delta / 2 if self.delta_per_category_column > 0 else budget.delta


def plan_budget(config: ReleaseConfig, accountant: Accountant) -> BudgetPlan:
    """Split the run's budget: `privacy.domain_share` to estimated domains, the rest to the model."""
    estimated = [c for c in config.attributes if c.is_estimated]
    category_columns = [c for c in estimated if c.type == "categorical"]
    zcdp = accountant.budget.accounting == "zcdp"
    unit = "rho" if zcdp else "epsilon"
    if config.model.kind == "schema":
        return BudgetPlan(unit, 0.0, 0.0, 0, 0.0, 0.0)
    if category_columns and not zcdp:
        raise ConfigError("privacy.delta: 'categories: estimate' needs delta > 0 (thresholded histogram)")
    reserved_delta = accountant.budget.delta / 2 if category_columns else 0.0
    total = accountant.rho_available(reserved_delta) if zcdp else accountant.budget.epsilon
    domain_total = total * config.privacy.domain_share if estimated else 0.0
    return BudgetPlan(
        unit=unit,
        total=total,
        domain_cost_per_column=domain_total / len(estimated) if estimated else 0.0,
        n_estimated_columns=len(estimated),
        delta_per_category_column=reserved_delta / len(category_columns) if category_columns else 0.0,
        model_cost=total - domain_total,
    )
