"""The budget split between DP domains and the model depends on the noisy row count (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from synthgate.pipeline.config import config_from_mapping
from synthgate.pipeline.plan import MAX_DOMAIN_SHARE, NULLS_NOTE, plan_budget, rows_needed, split_domains
from synthgate.privacy.accountant import Budget
from synthgate.privacy.estimate import LEVEL_SHARE, level_share_at

ROOT = Path(__file__).resolve().parents[2]


def _plan(n_categorical: int, n_numeric: int, epsilon: float = 1.0):  # type: ignore[no-untyped-def]
    columns = {f"c{i}": {"type": "categorical", "categories": "estimate"} for i in range(n_categorical)}
    columns.update({f"x{i}": {"type": "numeric", "bounds": "estimate"} for i in range(n_numeric)})
    config = config_from_mapping({"dataset": "t", "source": {"path": "t.csv"}, "columns": columns,
                                  "privacy": {"epsilon": epsilon, "delta": 1e-6}})
    kinds = {c: ("categorical" if c.startswith("c") else "numeric") for c in columns}
    return plan_budget(config, Budget(epsilon, 1e-6)), kinds


def test_a_large_table_keeps_the_configured_even_split() -> None:
    plan, kinds = _plan(3, 2)
    split = split_domains(plan, n_hat=1_000_000, kinds=kinds)
    assert all(cost == pytest.approx(plan.domain_cost_per_column) for _, cost in split.domain_costs)
    assert split.model_cost == pytest.approx(plan.model_cost)
    assert split.warning is None and split.level_share is not None and split.level_share < LEVEL_SHARE


def test_a_small_table_gives_domains_what_finds_5_percent_levels_when_affordable() -> None:
    plan, kinds = _plan(1, 1)
    split = split_domains(plan, n_hat=1600, kinds=kinds)
    costs = dict(split.domain_costs)
    assert min(costs.values()) > plan.domain_cost_per_column  # more than the even 10% split
    assert split.level_share is not None and split.level_share <= LEVEL_SHARE
    assert split.warning is None
    assert split.row_count_cost + sum(costs.values()) + split.model_cost + split.gate_cost == pytest.approx(plan.total)
    for column, kind in kinds.items():  # each column's cost reaches the target on its own
        assert level_share_at(kind, costs[column], n_hat=1600, unit_is_rho=True,
                              delta_per_column=plan.delta_per_category_column) <= LEVEL_SHARE


def test_too_many_columns_for_the_budget_are_capped_and_named() -> None:
    plan, kinds = _plan(9, 4)
    split = split_domains(plan, n_hat=1600, kinds=kinds)
    spent = split.row_count_cost + sum(c for _, c in split.domain_costs)
    assert spent == pytest.approx(MAX_DOMAIN_SHARE * plan.total)
    assert split.model_cost == pytest.approx(plan.total - spent - plan.gate_cost) and split.model_cost > 0
    assert split.warning is not None and "c0" in split.warning and "x3" in split.warning
    assert split.level_share is not None and LEVEL_SHARE < split.level_share < 0.2


def test_rows_needed_is_public_and_says_which_columns_a_small_table_cannot_estimate() -> None:
    """`rows_needed` reads the config only: more budget means fewer rows needed, and at the rows it
    names the plan's level share is 5% (a level at 5% is found), while a little below it is not."""
    raw = yaml.safe_load((ROOT / "configs" / "health_insurance.yaml").read_text(encoding="utf-8"))
    raw["columns"]["age"]["bounds"] = "estimate"
    raw["columns"]["education"]["categories"] = "estimate"
    needed = {}
    for epsilon in (0.3, 1.0, 3.0):
        raw["privacy"]["epsilon"] = epsilon
        config = config_from_mapping(raw)
        plan = plan_budget(config, Budget(epsilon, config.privacy.delta))
        needed[epsilon] = rows_needed(plan, config.estimated_kinds)
        for column, rows in needed[epsilon].items():
            assert rows is not None
            shares = dict(split_domains(plan, n_hat=rows, kinds=config.estimated_kinds).level_shares)
            assert shares[column] <= LEVEL_SHARE * (1 + 1e-9)
            shares = dict(split_domains(plan, n_hat=rows * 0.97, kinds=config.estimated_kinds).level_shares)
            assert shares[column] > LEVEL_SHARE
    assert needed[0.3]["age"] > needed[1.0]["age"] > needed[3.0]["age"]
    assert needed[0.3]["education"] > needed[1.0]["education"] > needed[3.0]["education"]


def test_validate_and_plan_name_the_columns_a_small_table_is_too_small_for(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import pandas as pd

    from synthgate.pipeline.cli import main

    pd.read_csv(ROOT / "../shared/datasets/health_insurance.csv").iloc[:400].to_csv(tmp_path / "hi.csv", index=False)
    raw = yaml.safe_load((ROOT / "configs" / "health_insurance.yaml").read_text(encoding="utf-8"))
    raw["source"] = {"path": "hi.csv"}
    raw["columns"]["education"]["categories"] = "estimate"
    (tmp_path / "hi.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    assert main(["plan", str(tmp_path / "hi.yaml"), "--json"]) == 0
    needed = json.loads(capsys.readouterr().out)["domain_rows"]
    assert list(needed) == ["education"] and 400 < needed["education"] < 1e6
    assert main(["validate", str(tmp_path / "hi.yaml")]) == 0
    err = capsys.readouterr().err
    assert "estimated domains: with about" in err and "(education ~" in err
    assert NULLS_NOTE in err  # the counts are of all rows: a column with nulls needs more, and the line says so
    assert main(["--log-json", "validate", str(tmp_path / "hi.yaml")]) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert any(r["level"] == "warning" and "(education ~" in r["event"] for r in records)
    raw["columns"]["education"]["categories"] = ["none", "ged", "highschool", "bachelor", "master", "phd", "other"]
    (tmp_path / "hi.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    assert main(["validate", str(tmp_path / "hi.yaml")]) == 0
    assert "estimated domains" not in capsys.readouterr().err
