"""`synthgate plan CONFIG`: what a run of CONFIG would spend and whether the dataset's ledger has it.

A dry run: reads the config and the ledger, never the data, and writes nothing (a ledger file that
does not exist yet is not created). The planned spend is `plan_budget`'s, the same numbers `run`
reserves before it reads any data; the fit test is the ledger's own composition (`compose_epsilon`).
A run spends exactly the plan, except that DP bounds may stop zooming early and spend less.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from synthgate.privacy.accountant import Budget
from synthgate.privacy.ledger import BatchAmounts, Ledger, compose_epsilon
from synthgate.privacy.ledger_store import is_url

from .config import ReleaseConfig
from .plan import NULLS_NOTE, plan_budget, rows_needed

__all__ = ["DryRun", "dry_run", "domain_rows_lines"]


@dataclass(frozen=True)
class DryRun:
    """The plan of one run and the ledger's answer. Amounts are in `unit` (ρ under zCDP, ε under pure DP)."""

    dataset: str
    config: str
    model: str
    accounting: str
    unit: str
    budget: dict[str, float]
    total: float
    stages: list[dict[str, Any]]
    ledger: dict[str, Any]
    fits: bool
    reason: str
    measurements_known: bool = field(default=False)
    # per estimated column: about how many training rows its estimate needs at this budget (None: > 10^6)
    domain_rows: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text_lines(self) -> list[str]:
        """The plan for people: a row per stage and per known measurement, the ledger, the verdict."""
        unit = "rho" if self.unit == "rho" else "epsilon"
        lines = [f"plan: {self.dataset} ({self.config}), model {self.model}, {self.accounting} accounting; "
                 f"run budget epsilon={self.budget['epsilon']:g}, delta={self.budget['delta']:g}",
                 f"  {'stage':<58} {unit:>10} {'share':>6}"]
        for stage in self.stages:
            share = stage["amount"] / self.total if self.total else 0.0
            lines.append(f"  {stage['stage']:<58} {stage['amount']:>10.4g} {share:>6.0%}")
            lines += [f"    {m['label']:<56} {m['amount']:>10.4g}{' (at most)' if m.get('at_most') else ''}"
                      for m in stage["measurements"] or []]
        lines.append(f"  {'total':<58} {self.total:>10.4g}")
        ledger = self.ledger
        if "lifetime_epsilon" in ledger:
            lines.append(f"ledger {ledger['path']}: lifetime epsilon={ledger['lifetime_epsilon']:g} (from "
                         f"{ledger['lifetime_from']}), spent {ledger['spent_epsilon']:.4g} over {ledger['n_batches']} "
                         f"batch(es), left {ledger['remaining_epsilon']:.4g}; after this run left "
                         f"{ledger['remaining_epsilon_after']:.4g}")
        return [*lines, *domain_rows_lines(self.domain_rows), self.reason]


def _stages(config: ReleaseConfig, plan: Any) -> tuple[list[dict[str, Any]], bool]:
    estimated = [c for c in config.attributes if c.is_estimated]
    # DP bounds zoom in levels and stop at the first level that would trim real mass, leaving the
    # later levels' share unspent: their amount is an upper bound ("at_most").
    # On a small table each column's share grows with what a noisy row count (domain:rows) says it
    # needs, up to plan.MAX_DOMAIN_SHARE of the run, and the model gets the rest: the amounts shown
    # are the least a column gets ("at_least"); the run's total is the plan's total either way.
    domains = [{"label": f"domain:{'categories' if c.type == 'categorical' else 'bounds'}:{c.name}",
                "amount": plan.domain_cost_per_column, "at_most": c.type != "categorical", "at_least": True}
               for c in estimated]
    stages = []
    if domains:
        rows = [{"label": "domain:rows", "amount": plan.row_count_cost, "at_most": False}] if plan.row_count_cost else []
        stages.append({"stage": "domains (at least; sized by the noisy row count)",
                       "amount": plan.domain_cost_per_column * len(domains) + plan.row_count_cost,
                       "measurements": rows + domains})
    if plan.model_cost > 0:
        # How the model splits its share (1-way, structure selection, 2-/3-way) is decided inside the
        # model, some of it adaptively under DP: only the stage total is known before the run.
        stages.append({"stage": f"model ({config.model.kind}: 1-way, structure selection, 2-/3-way)",
                       "amount": plan.model_cost, "measurements": None})
    gate = [{"label": f"gate:{name}", "amount": cost, "at_most": False} for name, cost in plan.gate_costs.items()]
    if gate:
        stages.append({"stage": "gate (DP release checks)", "amount": plan.gate_cost, "measurements": gate})
    return stages, plan.model_cost == 0


def dry_run(config: ReleaseConfig, *, ledger_path: str | Path) -> DryRun:
    """Plan CONFIG's run against the ledger at `ledger_path`; spends nothing, reads no data."""
    budget = Budget(config.privacy.epsilon, config.privacy.delta)
    plan = plan_budget(config, budget)
    planned = plan.planned_amounts(budget)
    stages, known = _stages(config, plan)
    lifetime: tuple[float, float] | None = None
    counted: list[BatchAmounts] = []
    source = "config"
    # a SQLite ledger that does not exist yet is not created by a plan; a PostgreSQL one is looked up
    exists = is_url(ledger_path) or Path(ledger_path).exists()
    if exists and config.dataset in (ledger := Ledger(ledger_path)).datasets():
        status = ledger.show(config.dataset)
        lifetime, source = (status.lifetime_epsilon, status.lifetime_delta), "ledger"
        counted = [BatchAmounts(b.rho, b.rho_gaussian, b.epsilon_pure, b.delta_approx)
                   for b in status.batches if b.status != "released_unspent"]
    elif config.privacy.lifetime is not None:
        lifetime = config.privacy.lifetime
    info: dict[str, Any] = {"path": str(ledger_path), "lifetime_from": source if lifetime else None,
                            "n_batches": len(counted)}
    if lifetime is None:
        fits, reason = False, (f"dataset '{config.dataset}' has no lifetime budget in the ledger or the config: set "
                               f"privacy.lifetime_epsilon, or run: synthgate budget set {config.dataset} "
                               "--lifetime-epsilon E")
    else:
        before = compose_epsilon(counted, lifetime[1])
        after = compose_epsilon([*counted, planned], lifetime[1])
        fits = after <= lifetime[0] * (1 + 1e-9)
        info.update(lifetime_epsilon=lifetime[0], lifetime_delta=lifetime[1], spent_epsilon=before,
                    remaining_epsilon=max(0.0, lifetime[0] - before), spent_epsilon_after=after,
                    remaining_epsilon_after=max(0.0, lifetime[0] - after))
        reason = (f"fits: the dataset's lifetime epsilon={lifetime[0]:g} would be {after:.4g} spent after this run"
                  if fits else f"does not fit: this run would take the dataset to epsilon={after:.4g} of its "
                  f"lifetime {lifetime[0]:g}")
    return DryRun(config.dataset, str(config.path) if config.path else "", config.model.kind, budget.accounting,
                  plan.unit, {"epsilon": budget.epsilon, "delta": budget.delta}, plan.total, stages, info, fits,
                  reason, known, rows_needed(plan, config.estimated_kinds, config.contribution))


def domain_rows_lines(needed: dict[str, float | None], n_train: int | None = None) -> list[str]:
    """What the estimated domains need, in words; with `n_train` (validate: exact, internal), only the
    columns that this table is too small for."""
    if n_train is not None:
        needed = {c: n for c, n in needed.items() if n is None or n > n_train}
    if not needed:
        return []
    shown = ", ".join(f"{c} ~{n:,.0f}" if n is not None else f"{c} >1,000,000" for c, n in sorted(needed.items()))
    head = (f"estimated domains: with about {n_train:,} training rows these estimates will miss category levels or "
            "bounds bins holding 5% of the rows" if n_train is not None else
            "estimated domains: training rows each estimate needs at this budget to keep every category level and "
            "bounds bin holding 5% of the rows")
    return [f"{head} ({shown}; {NULLS_NOTE}); below that, give public bounds or category lists for them"]
