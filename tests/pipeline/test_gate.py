"""Gate and budget plan: thresholds decide, disabled checks say so, shares add up to the budget."""

from __future__ import annotations

import pytest

from synthgate.pipeline.config import GateSpec, config_from_mapping
from synthgate.pipeline.gate import HOLD, RELEASE, Figure, gate
from synthgate.pipeline.plan import plan_budget
from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.cdp import rho_from_epsilon


def dp(value: float, stddev: float = 0.0, **columns: float) -> Figure:
    return Figure(value, stddev, dp=True, columns=columns)


def exact(value: float) -> Figure:
    return Figure(value, dp=False)


def test_all_passing_figures_release() -> None:
    decision = gate({"tvd_1way_mean": dp(0.01), "tvd_2way_mean": dp(0.05), "exact_match_excess": dp(0.0),
                     "near_match_excess": dp(0.0), "train_closer_share": exact(0.9)}, GateSpec())
    assert decision.decision == RELEASE
    assert decision.reasons == ["every deciding check passed"]
    assert not decision.outside_guarantee


def test_one_failing_dp_figure_holds_and_names_it() -> None:
    decision = gate({"tvd_1way_mean": dp(0.5, 0.01)}, GateSpec())
    assert decision.decision == HOLD
    (reason,) = decision.reasons
    assert reason.startswith("tvd_1way_mean = 0.5 ± 0.01 (DP)") and "FAIL" in reason


def test_a_noisy_figure_fails_only_past_the_noise_margin() -> None:
    """0.14 with noise sd 0.03 is within 2 sd of 0.10: not DP evidence of a failure."""
    spec = GateSpec(max_tvd_1way_mean=0.10, hold_margin=2.0)
    assert gate({"tvd_1way_mean": dp(0.14, 0.03)}, spec).decision == RELEASE
    assert gate({"tvd_1way_mean": dp(0.17, 0.03)}, spec).decision == HOLD
    assert gate({"tvd_1way_mean": dp(0.14, 0.03)}, GateSpec(hold_margin=0.0)).decision == HOLD


def test_per_column_checks_name_the_failing_columns() -> None:
    decision = gate({"clamped_share": dp(0.45, 0.02, income=0.45, hours=0.28, age=0.01)}, GateSpec())
    assert decision.decision == HOLD
    (check,) = [c for c in decision.checks if c.name == "clamped_share"]
    assert check.failing_columns == ("income", "hours")
    assert "'income', 'hours'" in check.reason


def test_each_columns_dp_figure_is_published_an_exact_one_never() -> None:
    decision = gate({"other_share": dp(0.31, 0.02, city=0.31, job=0.02),
                     "correlation_error": Figure(0.2, dp=False, columns={"age": 0.2})},
                    GateSpec(max_other_share=0.5))
    checks = {c["name"]: c for c in decision.published_checks()}
    assert checks["other_share"]["per_column"] == {"city": 0.31, "job": 0.02}
    assert "per_column" not in checks["correlation_error"]


def test_non_dp_figures_never_decide_unless_the_config_opts_in() -> None:
    figures = {"train_closer_share": exact(0.9), "tvd_1way_mean": dp(0.01)}
    quiet = gate(figures, GateSpec(max_train_closer_share=0.6))
    assert quiet.decision == RELEASE and not quiet.outside_guarantee
    (check,) = [c for c in quiet.checks if c.name == "train_closer_share"]
    assert check.passed is None and "not DP" in check.reason
    opted = gate(figures, GateSpec(max_train_closer_share=0.6, non_dp_checks=("train_closer_share",)))
    assert opted.decision == HOLD and opted.outside_guarantee
    published = {c["name"]: c for c in opted.published_checks()}
    assert "value" not in published["train_closer_share"], "an exact figure was marked for publication"


def test_the_gate_refuses_an_exact_figure_where_a_dp_one_belongs() -> None:
    with pytest.raises(TypeError, match="tvd_1way_mean"):
        gate({"tvd_1way_mean": exact(0.01)}, GateSpec())


def test_opting_in_a_non_dp_check_needs_its_threshold() -> None:
    with pytest.raises(ValueError, match="max_correlation_error"):
        GateSpec(non_dp_checks=("correlation_error",))


def test_min_threshold_direction() -> None:
    spec = GateSpec(min_tstr_score=0.8)
    assert gate({"tstr_score": dp(0.7)}, spec).decision == HOLD
    assert gate({"tstr_score": dp(0.9)}, spec).decision == RELEASE


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
    plan = plan_budget(config, accountant.budget)
    assert plan.unit == "rho"
    assert plan.total == pytest.approx(rho_from_epsilon(1.0, 0.5e-6))
    assert plan.domain_cost_per_column * 2 + plan.row_count_cost + plan.model_cost + plan.gate_cost == \
        pytest.approx(plan.total)
    assert plan.gate_cost == pytest.approx(0.05 * plan.total) and sum(plan.gate_costs.values()) == \
        pytest.approx(plan.gate_cost)
    assert set(plan.gate_costs) == {"rows", "exact_match_excess", "near_match_excess", "tvd_1way_mean",
                                    "tvd_2way_mean", "clamped_share", "other_share"}
    assert plan.domain_cost_per_column * 2 + plan.row_count_cost == pytest.approx(0.2 * plan.total)
    assert plan.delta_per_category_column == pytest.approx(0.5e-6)


def test_pure_plan_without_estimates_gives_everything_to_the_model() -> None:
    config = config_from_mapping({
        "dataset": "t", "source": {"path": "t.csv"},
        "columns": {"a": {"type": "integer", "bounds": [0, 9]}},
        "privacy": {"epsilon": 0.5, "delta": 0},
    })
    plan = plan_budget(config, Budget(0.5, 0.0))
    assert plan.unit == "epsilon" and plan.n_estimated_columns == 0
    assert plan.model_cost == pytest.approx(0.5 * 0.95) and plan.gate_cost == pytest.approx(0.5 * 0.05)
    assert "clamped_share" not in plan.gate_costs and "tvd_2way_mean" not in plan.gate_costs  # one public column


def test_the_schema_model_plans_no_gate_queries() -> None:
    """It reads no data, so nothing about the data may decide its release."""
    config = _config(model={"kind": "schema"}, output={"rows": 10}, columns={"a": {"type": "categorical", "categories": ["x", "y"]},
                                                        "b": {"type": "numeric", "bounds": [0, 1]}})
    plan = plan_budget(config, Budget(1.0, 1e-6))
    assert plan.gate_cost == 0.0 and plan.gate_costs == {}
