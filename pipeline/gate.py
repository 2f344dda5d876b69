"""Gate: compare each check's figure with its threshold; RELEASE only if every enabled check passes.

No re-sampling until a run passes: that would turn the checks into a selection on the data
and break the guarantee. A HOLD needs a new batch and new budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .config import GateSpec

__all__ = ["CheckResult", "Decision", "gate", "RELEASE", "HOLD"]

RELEASE = "RELEASE"
HOLD = "HOLD"

# figure name -> (threshold field of GateSpec, direction, description)
_RULES: dict[str, tuple[str, Literal["max", "min"], str]] = {
    "exact_match_excess": ("max_exact_match_excess", "max",
                           "share of synthetic rows equal to a training row, above the holdout's own share"),
    "near_match_excess": ("max_near_match_excess", "max",
                          "share of synthetic rows within the holdout's 5th-percentile distance of a training row, "
                          "above the holdout's own share"),
    "train_closer_share": ("max_train_closer_share", "max",
                           "share of synthetic rows closer to training rows than to unseen holdout rows"),
    "tvd_1way_mean": ("max_tvd_1way_mean", "max", "mean total variation distance of 1-way marginals"),
    "tvd_2way_mean": ("max_tvd_2way_mean", "max", "mean total variation distance of 2-way marginals"),
    "correlation_error": ("max_correlation_error", "max", "largest absolute error in the numeric correlation matrix"),
    "tstr_ratio": ("min_tstr_ratio", "min", "train-on-synthetic score as a share of train-on-real, on the holdout"),
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    value: float | None
    threshold: float | None
    direction: str
    passed: bool | None      # None: disabled or not computable
    description: str

    @property
    def reason(self) -> str:
        if self.passed is None:
            why = "disabled in config" if self.threshold is None else "not computable for this table"
            return f"{self.name}: not checked ({why})"
        sign = "<=" if self.direction == "max" else ">="
        verdict = "pass" if self.passed else "FAIL"
        return f"{self.name} = {self.value:.4g} (must be {sign} {self.threshold:g}): {verdict}"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "threshold": self.threshold, "direction": self.direction,
                "passed": self.passed, "description": self.description, "reason": self.reason}


@dataclass(frozen=True)
class Decision:
    decision: str
    checks: tuple[CheckResult, ...]

    @property
    def reasons(self) -> list[str]:
        failed = [c.reason for c in self.checks if c.passed is False]
        return failed or ["every enabled check passed"]

    @property
    def released(self) -> bool:
        return self.decision == RELEASE


def gate(figures: dict[str, float | None], thresholds: GateSpec) -> Decision:
    """RELEASE when every enabled, computable check passes; HOLD with the failing checks otherwise."""
    checks = []
    for name, (field, direction, description) in _RULES.items():
        threshold = getattr(thresholds, field)
        value = figures.get(name)
        if threshold is None or value is None:
            passed = None
        else:
            passed = value <= threshold if direction == "max" else value >= threshold
        checks.append(CheckResult(name, value, threshold, direction, passed, description))
    decision = HOLD if any(c.passed is False for c in checks) else RELEASE
    return Decision(decision, tuple(checks))
