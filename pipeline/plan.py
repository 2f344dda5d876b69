"""The budget plan: how a run's budget is split between DP domains, the model and the gate, in the open.

The total and the most that domains may take are fixed by public config before any data is read,
and shown in the report. When some domain is estimated, a noisy row count (a small labelled charge,
`domain:rows`, taken from the domain share) then sizes the split: a small table needs far more of
its budget to find its bounds and category levels than a large one (the thresholded histogram's
line is about 5σ rows whatever n is), so each estimated column gets the budget at which a level or
bin holding `LEVEL_SHARE` of the rows is found, never less than the configured even split, and all
domains together at most `MAX_DOMAIN_SHARE` of the run (scaled back evenly past that, with a warning
that names the level share that survives). Post-processing of the noisy count and public config only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from synthgate.privacy.accountant import BatchAmounts, Budget, Charge
from synthgate.privacy.estimate import LEVEL_SHARE, level_share_at, needed_cost

from .config import ReleaseConfig
from .errors import ConfigError

__all__ = ["BudgetPlan", "plan_budget", "gate_weights", "split_domains", "rows_needed", "ROW_COUNT_SHARE",
           "MAX_DOMAIN_SHARE", "NULLS_NOTE"]

ROW_COUNT_SHARE = 0.1  # of the configured domain share: the noisy row count that sizes the split
MAX_DOMAIN_SHARE = 0.6  # of the run: the most that estimated domains may take on a small table
_FEWEST_ROWS, _MOST_ROWS = 100.0, 1e6  # the range `rows_needed` searches
# What `rows_needed` leaves out (it reads the config only, and null shares are data): said wherever it is shown.
NULLS_NOTE = ("shares of all rows, nulls included: a column with missing values needs more rows to keep a level "
              "holding 5% of its values (twice as many when half are missing)")

# How the gate's share is split between its DP queries (relative weights). The per-column checks
# (clamped, other) answer a vector and need more; the scalar TVD sums need little (their noise is
# divided by the row count); `rows` gives every figure its denominators.
_GATE_WEIGHTS = {"rows": 1.0, "exact_match_excess": 1.0, "near_match_excess": 1.0, "tvd_1way_mean": 0.5,
                 "tvd_2way_mean": 0.5, "clamped_share": 2.0, "other_share": 2.0, "tstr_score": 1.0}


@dataclass(frozen=True)
class BudgetPlan:
    """Costs in `unit` (ρ under zCDP, ε under pure DP)."""

    unit: str
    total: float
    domain_cost_per_column: float
    n_estimated_columns: int
    delta_per_category_column: float
    model_cost: float
    gate_cost: float = 0.0
    gate_costs: dict[str, float] = field(default_factory=dict)  # DP gate query -> its cost
    row_count_cost: float = 0.0
    # Set by `split_domains` once the noisy row count is known (before that, every column's cost is
    # `domain_cost_per_column`): per column cost, the count, and the share of rows a category level
    # or bounds bin must hold to be found at that cost (the worst over the estimated columns).
    domain_costs: tuple[tuple[str, float], ...] = ()
    level_shares: tuple[tuple[str, float], ...] = ()  # per estimated column, the share it can find
    n_hat: float | None = None
    level_share: float | None = None
    warning: str | None = None

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["domain_costs"] = dict(self.domain_costs)
        out["level_shares"] = dict(self.level_shares)
        return out

    def domain_cost(self, column: str) -> float:
        return dict(self.domain_costs).get(column, self.domain_cost_per_column)

    def planned_amounts(self, budget: Budget) -> BatchAmounts:
        """The most this plan can spend, for the ledger's reservation before any data is read: its
        total as one charge (ρ and the thresholding δ under zCDP, ε under pure DP)."""
        if self.unit == "rho":
            whole = Charge("plan:total", rho=self.total, delta=budget.delta - self._conversion_delta(budget))
        else:
            whole = Charge("plan:total", epsilon=self.total)
        return BatchAmounts.from_charges([whole])

    def _conversion_delta(self, budget: Budget) -> float:
        return budget.delta / 2 if self.delta_per_category_column > 0 else budget.delta


def gate_weights(config: ReleaseConfig) -> dict[str, float]:
    """The DP gate queries this config makes, with their weights: public config only.

    A check is measured when its threshold is set and it applies to the table (clamping needs a
    column with estimated bounds, `__other__` one with estimated categories, TSTR a target). The
    schema model reads no data, so nothing about the data decides its release."""
    if config.model.kind == "schema":
        return {}
    gate = config.gate
    attributes = config.attributes
    applies = {
        "exact_match_excess": gate.max_exact_match_excess is not None,
        "near_match_excess": gate.max_near_match_excess is not None,
        "tvd_1way_mean": gate.max_tvd_1way_mean is not None,
        "tvd_2way_mean": gate.max_tvd_2way_mean is not None and len(attributes) >= 2,
        "clamped_share": gate.max_clamped_share is not None and any(c.bounds == "estimate" for c in attributes),
        "other_share": gate.max_other_share is not None and any(c.categories == "estimate" for c in attributes),
        "tstr_score": gate.min_tstr_score is not None and config.utility.target is not None,
    }
    chosen = {name: _GATE_WEIGHTS[name] for name, on in applies.items() if on}
    return {"rows": _GATE_WEIGHTS["rows"], **chosen} if chosen else {}


def plan_budget(config: ReleaseConfig, budget: Budget) -> BudgetPlan:
    """Split the run's budget: `privacy.domain_share` to estimated domains, `gate.share` to the DP
    gate's queries, the rest to the model."""
    estimated = [c for c in config.attributes if c.is_estimated]
    category_columns = [c for c in estimated if c.type == "categorical"]
    zcdp = budget.accounting == "zcdp"
    unit = "rho" if zcdp else "epsilon"
    if config.model.kind == "schema":
        return BudgetPlan(unit, 0.0, 0.0, 0, 0.0, 0.0)
    if category_columns and not zcdp:
        raise ConfigError("privacy.delta: 'categories: estimate' needs delta > 0 (thresholded histogram)")
    reserved_delta = budget.delta / 2 if category_columns else 0.0
    total = budget.rho_available(reserved_delta) if zcdp else budget.epsilon
    domain_total = total * config.privacy.domain_share if estimated else 0.0
    weights = gate_weights(config)
    gate_total = total * config.gate.share if weights else 0.0
    if domain_total + gate_total >= total:
        raise ConfigError(f"{config.path or '<config>'}: privacy.domain_share + gate.share leave nothing for the "
                          "model: lower them")
    weight_sum = sum(weights.values())
    row_count = domain_total * ROW_COUNT_SHARE
    return BudgetPlan(
        unit=unit,
        total=total,
        domain_cost_per_column=(domain_total - row_count) / len(estimated) if estimated else 0.0,
        n_estimated_columns=len(estimated),
        delta_per_category_column=reserved_delta / len(category_columns) if category_columns else 0.0,
        model_cost=total - domain_total - gate_total,
        gate_cost=gate_total,
        gate_costs={name: gate_total * w / weight_sum for name, w in weights.items()},
        row_count_cost=row_count,
    )


def split_domains(plan: BudgetPlan, *, n_hat: float, kinds: dict[str, str], contribution: int = 1) -> BudgetPlan:
    """The plan with each estimated column's cost sized to the noisy row count `n_hat` (see the module
    docstring); what domains do not take goes to the model. Post-processing of DP output only."""
    if not kinds:
        return plan
    rho = plan.unit == "rho"
    base = plan.domain_cost_per_column
    facts = {"n_hat": n_hat, "unit_is_rho": rho, "contribution": contribution}

    def need(kind: str) -> float:
        if kind == "categorical":
            return needed_cost(kind, delta_per_column=plan.delta_per_category_column, **facts)  # type: ignore[arg-type]
        return needed_cost(kind, **facts)  # type: ignore[arg-type]

    # Columns of one kind need the same cost and find the same share: compute each kind once.
    extra_by_kind = {k: max(need(k) - base, 0.0) for k in set(kinds.values())}
    extra = {c: extra_by_kind[k] for c, k in kinds.items()}
    room = max(plan.total * MAX_DOMAIN_SHARE - plan.row_count_cost - base * len(kinds), 0.0)
    scale = min(1.0, room / sum(extra.values())) if sum(extra.values()) > 0 else 0.0
    costs = {c: base + extra[c] * scale for c in kinds}
    share_by_kind = {k: level_share_at(k, base + extra_by_kind[k] * scale, delta_per_column=plan.delta_per_category_column,
                                       **facts)  # type: ignore[arg-type]
                     for k in extra_by_kind}
    shares = {c: share_by_kind[k] for c, k in kinds.items()}
    worst = max(shares.values())
    warning = None
    if worst > LEVEL_SHARE:
        thin = sorted(c for c, s in shares.items() if s > LEVEL_SHARE)
        warning = (f"with about {max(n_hat, 0):,.0f} training rows at this budget, estimated domains find only levels and "
                   f"bins holding at least {min(worst, 1.0):.0%} of the rows (rarer category levels become "
                   f"'__other__', bounds may clamp); give public bounds or category lists for: {', '.join(thin)}")
    spent = plan.row_count_cost + sum(costs.values())
    return replace(plan, domain_costs=tuple(costs.items()), level_shares=tuple(shares.items()), n_hat=float(n_hat),
                   level_share=worst, warning=warning, model_cost=plan.total - spent - plan.gate_cost)


def rows_needed(plan: BudgetPlan, kinds: dict[str, str], contribution: int = 1) -> dict[str, float | None]:
    """Per estimated column, about how many training rows its DP domain estimate needs, at this budget,
    to find every category level or bounds bin holding `LEVEL_SHARE` of the rows (None: more than
    `_MOST_ROWS`). Public: a function of the config alone, so `plan` and `init` can say before anything
    is spent which columns a small table should give public bounds or lists for.

    The share is of all rows, nulls included: the estimates count the rows that hold each value, so a
    level holding 5% of a column's *values* is found only at rows_needed / (the column's non-null share)
    rows (twice as many where half the values are missing). Null shares are not public, so this says so
    (`NULLS_NOTE`, in every message built from it) instead of guessing them."""
    if plan.total <= 0 or not kinds:
        return {}

    def found(n: float) -> dict[str, bool]:  # the share found falls with n: a level at LEVEL_SHARE is found
        shares = split_domains(plan, n_hat=n, kinds=kinds, contribution=contribution).level_shares
        return {column: share <= LEVEL_SHARE * (1 + 1e-9) for column, share in shares}

    grid = np.geomspace(_FEWEST_ROWS, _MOST_ROWS, 17)  # 4 steps a decade, then bisected to about 1%
    on_grid = [found(float(n)) for n in grid]
    needed: dict[str, float | None] = {}
    for column in kinds:
        first = next((i for i, ok in enumerate(on_grid) if ok[column]), None)
        if first is None or first == 0:
            needed[column] = None if first is None else float(grid[0])
            continue
        low, high = math.log(grid[first - 1]), math.log(grid[first])
        while high - low > 0.01:
            middle = (low + high) / 2
            low, high = (low, middle) if found(math.exp(middle))[column] else (middle, high)
        needed[column] = math.exp(high)
    return needed
