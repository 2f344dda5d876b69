"""Stage 2, DP domains: the bounds and category lists the config leaves to `estimate`, released
with noise, and the codec built from them and the public config.

The budget for the domains is sized by a noisy row count (`domain:rows`), so the plan that comes
out says what each column's estimate cost. The warnings are functions of DP output and public
config only, so they may be published.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from synthgate.privacy.accountant import Accountant
from synthgate.privacy.estimate import EstimatedDomain

from .config import ReleaseConfig
from .encode import TableCodec, codec_from_spec
from .plan import BudgetPlan, split_domains
from .validate import Validated

__all__ = ["Domains", "release_domains"]

log = logging.getLogger("synthgate.domains")


@dataclass(frozen=True)
class Domains:
    """The released domains, the codec over them, the plan with the domain costs filled in, and
    the (publishable) warnings the estimates raised."""

    codec: TableCodec
    estimated: tuple[EstimatedDomain, ...]
    plan: BudgetPlan
    warnings: tuple[str, ...]


def release_domains(config: ReleaseConfig, validated: Validated, accountant: Accountant, plan: BudgetPlan) -> Domains:
    """Charge and release every estimated domain (nothing when the config gives them all)."""
    statistics = validated.statistics
    estimated: list[EstimatedDomain] = []
    if statistics.columns:
        n_hat = statistics.release_row_count(accountant, cost=plan.row_count_cost, contribution=config.contribution)
        plan = split_domains(plan, n_hat=n_hat, kinds=statistics.kinds, contribution=config.contribution)
        estimated = statistics.release(accountant, costs=dict(plan.domain_costs),
                                       delta_per_column=plan.delta_per_category_column,
                                       contribution=config.contribution)
    by_column = {e.column: e.as_codec_input() for e in estimated}
    codec = TableCodec([codec_from_spec(c, bins=config.model.bins, estimated=by_column.get(c.name))
                        for c in config.attributes])
    warnings = [f"column '{e.column}': {e.warning}" for e in estimated if e.warning]
    if plan.warning:
        warnings.append(plan.warning)
    for warning in warnings:
        log.warning(warning)
    return Domains(codec, tuple(estimated), plan, tuple(warnings))
