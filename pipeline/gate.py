"""Gate: compare each check's figure with its threshold; RELEASE only if every deciding check passes.

The DP checks decide on noisy figures (privacy/checks.py), so the decision, the exit code and the
folder are inside the guarantee and may be published with their figures. A DP figure fails only
when it passes its threshold by more than `gate.hold_margin` standard deviations of its noise: a
HOLD is DP evidence that the threshold is passed, and a release is not held on noise alone.
Non-DP checks decide only when the config names them in `gate.non_dp_checks`; the decision is then
outside the guarantee, and the manifest says so.

No re-sampling until a run passes: that would turn the checks into a selection on the data
and break the guarantee. A HOLD needs a new batch and new budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .config import GateSpec

__all__ = ["CheckResult", "Decision", "Figure", "Rule", "RULES", "gate", "RELEASE", "HOLD"]

RELEASE = "RELEASE"
HOLD = "HOLD"


@dataclass(frozen=True)
class Rule:
    threshold_field: str
    direction: Literal["max", "min"]
    description: str
    dp: bool


RULES: dict[str, Rule] = {
    "exact_match_excess": Rule("max_exact_match_excess", "max", "share of training rows with an exact synthetic copy, "
                               "less the same share for unseen holdout rows (noisy counts over individuals)", True),
    "near_match_excess": Rule("max_near_match_excess", "max", "share of training rows with a synthetic row within "
                              "gate.near_match_distance, less the same share for holdout rows (noisy counts)", True),
    "tvd_1way_mean": Rule("max_tvd_1way_mean", "max", "mean total variation distance of 1-way marginals "
                          "(noisy sum of absolute count errors over the training rows)", True),
    "tvd_2way_mean": Rule("max_tvd_2way_mean", "max", "mean total variation distance of 2-way marginals "
                          "(noisy sum of absolute count errors over the training rows)", True),
    "clamped_share": Rule("max_clamped_share", "max", "share of training values outside a column's DP-estimated "
                          "bounds, clamped to them (noisy count per column)", True),
    "other_share": Rule("max_other_share", "max", "share of training rows merged into a column's '__other__' "
                        "level (noisy count per column)", True),
    "tstr_score": Rule("min_tstr_score", "min", "share of holdout rows that a model trained on the synthetic "
                       "table predicts right (noisy count)", True),
    "train_closer_share": Rule("max_train_closer_share", "max", "share of synthetic rows closer to training rows "
                               "than to unseen holdout rows (exact: not DP)", False),
    "correlation_error": Rule("max_correlation_error", "max", "largest absolute error in the numeric correlation "
                              "matrix (exact: not DP)", False),
    "tstr_ratio": Rule("min_tstr_ratio", "min", "train-on-synthetic score as a share of train-on-real, on the "
                       "holdout (exact: not DP)", False),
}


@dataclass(frozen=True)
class Figure:
    """One gate figure: its value, its noise's standard deviation (0 when exact), whether it is DP,
    per-column values for per-column checks, and why it is missing when it is."""

    value: float | None
    stddev: float = 0.0
    dp: bool = True
    columns: Mapping[str, float] = field(default_factory=dict)
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"value": self.value, "stddev": self.stddev, "dp": self.dp, "columns": dict(self.columns),
                "note": self.note}


@dataclass(frozen=True)
class CheckResult:
    name: str
    value: float | None
    stddev: float
    threshold: float | None
    direction: str
    passed: bool | None      # None: disabled, not computable, or non-DP and not opted in
    description: str
    dp: bool
    decides: bool
    margin: float = 0.0
    failing_columns: tuple[str, ...] = ()
    note: str | None = None
    per_column: Mapping[str, float] = field(default_factory=dict)  # DP figures only: each column's value

    @property
    def limit(self) -> float | None:
        """Where the figure fails: the threshold, moved by the noise margin."""
        if self.threshold is None:
            return None
        shift = self.margin * self.stddev
        return self.threshold + shift if self.direction == "max" else self.threshold - shift

    @property
    def reason(self) -> str:
        if self.passed is None:
            if self.threshold is None:
                why = "disabled in config"
            elif not self.decides:
                why = "not DP: in the internal report only; name it in gate.non_dp_checks to let it decide"
            else:
                why = self.note or "not computable for this table"
            return f"{self.name}: not checked ({why})"
        sign = "<=" if self.direction == "max" else ">="
        verdict = "pass" if self.passed else "FAIL"
        noise = f" ± {self.stddev:.2g} (DP)" if self.dp else " (exact, not DP)"
        where = f" in column(s) {', '.join(repr(c) for c in self.failing_columns)}" if self.failing_columns else ""
        past = f", fails past {self.limit:.4g}" if self.dp and self.margin and self.stddev else ""
        said = f" ({self.note})" if self.note else ""
        return (f"{self.name} = {self.value:.4g}{noise} (must be {sign} {self.threshold:g}{past}): "
                f"{verdict}{where}{said}")

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "stddev": self.stddev, "threshold": self.threshold,
                "limit": self.limit, "direction": self.direction, "passed": self.passed, "dp": self.dp,
                "decides": self.decides, "failing_columns": list(self.failing_columns),
                "description": self.description, "reason": self.reason,
                **({"per_column": dict(self.per_column)} if self.per_column else {})}


@dataclass(frozen=True)
class Decision:
    decision: str
    checks: tuple[CheckResult, ...]

    @property
    def reasons(self) -> list[str]:
        failed = [c.reason for c in self.checks if c.passed is False]
        return failed or ["every deciding check passed"]

    @property
    def released(self) -> bool:
        return self.decision == RELEASE

    @property
    def outside_guarantee(self) -> bool:
        """True when a non-DP figure took part in the decision (the config opted in)."""
        return any(c.decides and not c.dp and c.passed is not None for c in self.checks)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the decision itself must say in the manifest (public: it names config, not figures)."""
        if self.outside_guarantee:
            return ("the release decision used non-DP checks (gate.non_dp_checks): the decision is outside the DP "
                    "guarantee",)
        return ()

    def published_checks(self) -> list[dict[str, object]]:
        """What the manifest and --json may show: the DP checks, and non-DP ones only as names and verdicts
        when they decided (their values are exact figures of the real data)."""
        shown = []
        for check in self.checks:
            entry = check.to_json()
            if not check.dp:
                entry = {k: entry[k] for k in ("name", "threshold", "direction", "passed", "dp", "decides",
                                                "description")}
            shown.append(entry)
        return shown


def gate(figures: Mapping[str, Figure], spec: GateSpec) -> Decision:
    """RELEASE when every deciding, computable check passes; HOLD with the failing checks otherwise."""
    checks = []
    for name, rule in RULES.items():
        threshold = getattr(spec, rule.threshold_field)
        figure = figures.get(name) or Figure(None, dp=rule.dp)
        if figure.dp != rule.dp:
            raise TypeError(f"gate check '{name}' got a {'DP' if figure.dp else 'non-DP'} figure; its rule says "
                            f"{'DP' if rule.dp else 'non-DP'}")
        decides = rule.dp or name in spec.non_dp_checks
        margin = spec.hold_margin if rule.dp else 0.0
        passed: bool | None = None
        failing: tuple[str, ...] = ()
        if figure.value is not None and not math.isfinite(figure.value):
            figure = Figure(None, figure.stddev, figure.dp, note="the figure is not a finite number")
        if threshold is not None and figure.value is not None and decides:
            passed = _passes(figure.value, figure.stddev, threshold, rule.direction, margin)
            failing = tuple(column for column, value in figure.columns.items()
                            if not _passes(value, figure.stddev, threshold, rule.direction, margin))
        # Each column's DP figure is shown too (how much of each column went to '__other__' or was clamped),
        # whether or not the check decides; an exact per-column figure never leaves the internal figures.
        per_column = dict(figure.columns) if figure.dp and figure.value is not None else {}
        checks.append(CheckResult(name, figure.value, figure.stddev, threshold, rule.direction, passed,
                                  rule.description, rule.dp, decides, margin, failing, figure.note, per_column))
    decision = HOLD if any(c.passed is False for c in checks) else RELEASE
    return Decision(decision, tuple(checks))


def _passes(value: float, stddev: float, threshold: float, direction: str, margin: float) -> bool:
    if direction == "max":
        return value <= threshold + margin * stddev
    return value >= threshold - margin * stddev
