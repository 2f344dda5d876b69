"""Gate and budget plan: thresholds decide, disabled checks say so, shares add up to the budget."""

from __future__ import annotations

import pytest

from synthgate.pipeline.config import GateSpec, config_from_mapping
from synthgate.pipeline.gate import HOLD, RELEASE, gate
from synthgate.pipeline.plan import plan_budget
from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.cdp import rho_from_epsilon


def test_all_passing_figures_release() -> None:
    decision = gate({"tvd_1way_mean": 0.01, "tvd_2way_mean": 0.05, "exact_match_excess": 0.0,
                     "near_match_excess": 0.0, "train_closer_share": 0.5}, GateSpec())
    assert decision.decision == RELEASE
    assert decision.reasons == ["every enabled check passed"]


def test_one_failing_figure_holds_and_names_it() -> None:
    decision = gate({"tvd_1way_mean": 0.5, "train_closer_share": 0.9}, GateSpec())
    assert decision.decision == HOLD
    assert any(r.startswith("tvd_1way_mean = 0.5") and "FAIL" in r for r in decision.reasons)
    assert any(r.startswith("train_closer_share") for r in decision.reasons)


def test_min_threshold_direction() -> None:
    spec = GateSpec(min_tstr_ratio=0.8)
    assert gate({"tstr_ratio": 0.7}, spec).decision == HOLD
    assert gate({"tstr_ratio": 0.9}, spec).decision == RELEASE


def test_disabled_and_missing_checks_are_reported_not_passed() -> None:
    decision = gate({}, GateSpec(max_tvd_1way_mean=None))
    tvd = next(c for c in decision.checks if c.name == "tvd_1way_mean")
    assert tvd.passed is None and "disabled" in tvd.reason
    corr = next(c for c in decision.checks if c.name == "correlation_error")
    assert corr.passed is None


def _config(**overrides: object) -> object:
    raw = {
        "dataset": "t",
        "source": {"path": "t.csv"},
        "columns": {"a": {"type": "categorical", "categories": ["x", "y"]},
                    "b": {"type": "numeric", "bounds": "estimate"},
                    "c": {"type": "categorical", "categories": "estimate"}},
        "privacy": {"epsilon": 1.0, "delta": 1e-6, "domain_share": 0.2},
    }
    raw.update(overrides)
    return config_from_mapping(raw)


def test_zcdp_plan_reserves_delta_for_thresholding_and_splits_rho() -> None:
    config = _config()
    accountant = Accountant(Budget(1.0, 1e-6))
    plan = plan_budget(config, accountant)
    assert plan.unit == "rho"
    assert plan.total == pytest.approx(rho_from_epsilon(1.0, 0.5e-6))
    assert plan.domain_cost_per_column * 2 + plan.row_count_cost + plan.model_cost == pytest.approx(plan.total)
    assert plan.domain_cost_per_column * 2 + plan.row_count_cost == pytest.approx(0.2 * plan.total)
    assert plan.delta_per_category_column == pytest.approx(0.5e-6)


def test_pure_plan_without_estimates_gives_everything_to_the_model() -> None:
    config = config_from_mapping({
        "dataset": "t", "source": {"path": "t.csv"},
        "columns": {"a": {"type": "integer", "bounds": [0, 9]}},
        "privacy": {"epsilon": 0.5, "delta": 0},
    })
    plan = plan_budget(config, Accountant(Budget(0.5, 0.0)))
    assert plan.unit == "epsilon" and plan.model_cost == 0.5 and plan.n_estimated_columns == 0
