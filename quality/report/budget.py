"""Group a run's privacy charges by stage, for the report's stacked budget bar and the plan.

A charge label names its stage and columns, never values ("marginal:age,sex", "select:aim-round-2",
"domain:bounds:income", "gate:tvd_1way_mean"). Labels this module does not know go to their own
stage, named by the label's prefix, so a new kind of charge is shown rather than hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["STAGES", "StageSpend", "stage_of", "spend_by_stage"]

# Display order of the known stages; anything else follows, in order of first appearance.
STAGES = ("domains", "1-way", "structure selection", "2-/3-way", "gate")


def stage_of(label: str) -> str:
    """The stage a charge label belongs to."""
    prefix, _, rest = label.partition(":")
    if prefix == "domain":
        return "domains"
    if prefix == "select":
        return "structure selection"
    if prefix == "gate":
        return "gate"
    if prefix == "marginal":
        columns = rest.split(":", 1)[0]
        return "1-way" if "," not in columns else "2-/3-way"
    return prefix or "other"


@dataclass(frozen=True)
class StageSpend:
    """One stage's share of a run: `amount` in the run's unit (ρ under zCDP, ε under pure DP)."""

    stage: str
    n_charges: int
    amount: float
    share: float  # of the run's total spend; 0 when nothing was spent

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "n_charges": self.n_charges, "amount": self.amount, "share": self.share}


def spend_by_stage(charges: Iterable[Mapping[str, Any]], *, unit: str) -> list[StageSpend]:
    """Sum the charges' `unit` ("rho" or "epsilon") per stage, known stages first."""
    totals: dict[str, list[float]] = {}
    for charge in charges:
        entry = totals.setdefault(stage_of(str(charge.get("label", ""))), [0, 0.0])
        entry[0] += 1
        entry[1] += float(charge.get(unit) or 0.0)
    grand = sum(amount for _, amount in totals.values())
    order = [s for s in STAGES if s in totals] + [s for s in totals if s not in STAGES]
    return [StageSpend(s, int(totals[s][0]), totals[s][1], totals[s][1] / grand if grand > 0 else 0.0)
            for s in order]
