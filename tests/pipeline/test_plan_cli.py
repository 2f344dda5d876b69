"""`synthgate plan`: a dry run that reads no data, writes nothing, and plans what `run` then spends."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from services.configs import GATE_PASSES
from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_BUDGET, EXIT_RELEASED


def write_case(root: Path, *, lifetime: float = 10.0, model: str = "graphical", income: Any = "estimate") -> Path:
    rng = np.random.default_rng(4)
    n = 1200
    pd.DataFrame({"age": rng.integers(18, 90, n), "income": rng.gamma(2.0, 20_000, n).round(0),
                  "city": rng.choice(["Qorvath", "Blensk", "Tamarind Bay"], n),
                  "flag": rng.choice([True, False], n)}).to_csv(root / "toy.csv", index=False)
    raw: dict[str, Any] = {
        "dataset": "toy", "source": {"path": str(root / "toy.csv")},
        "columns": {"age": {"type": "integer", "bounds": [0, 120]}, "income": {"type": "numeric", "bounds": income},
                    "city": {"type": "categorical", "categories": "estimate"}, "flag": {"type": "boolean"}},
        "privacy": {"epsilon": 1.0, "delta": 1e-6, "lifetime_epsilon": lifetime, "lifetime_delta": 1e-5},
        "model": {"kind": model},
        "gate": GATE_PASSES,  # every DP gate check planned and charged, none can hold: a run is released, exit 0
    }
    path = root / "toy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def unasked_gate_amount(plan: dict[str, Any], report: dict[str, Any]) -> float:
    """The planned share of gate comparisons the run did not ask, after checking each reported no figure.

    A comparison the noisy row counts say cannot be made (too few holdout rows beyond 3σ) is not asked,
    so its share is not spent: on a 1,200-row table that depends on the noise, which no seed fixes.
    """
    gate = next(s for s in plan["stages"] if s["stage"].startswith("gate"))["measurements"]
    labels = {c["label"] for c in report["privacy"]["charges"]}
    unasked = [m for m in gate if m["label"] not in labels]
    assert all(report["figures"][m["label"].removeprefix("gate:")]["value"] is None for m in unasked)
    return float(sum(m["amount"] for m in unasked))


def plan_json(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["plan", str(config), "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("model", ["graphical", "independent"])
def test_plan_total_is_what_the_following_run_spends(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     model: str) -> None:
    config = write_case(tmp_path, model=model, income=[0, 500_000])
    code, plan = plan_json(config, capsys)
    assert code == EXIT_RELEASED and plan["fits"] and plan["unit"] == "rho"
    assert [s["stage"] for s in plan["stages"]][0].startswith("domains")
    assert [m["label"] for m in plan["stages"][0]["measurements"]] == ["domain:rows", "domain:categories:city"]
    assert sum(s["amount"] for s in plan["stages"]) == pytest.approx(plan["total"])
    for round_ in range(2):  # the second plan sees the first run in the ledger
        code = main(["run", str(config), "--out", str(tmp_path / f"run{round_}"), "--seed", "2", "--json"])
        assert code == EXIT_RELEASED
        result = json.loads(capsys.readouterr().out)
        report = json.loads((tmp_path / f"run{round_}" / "internal" / "report.json").read_text())
        expected = plan["total"] - unasked_gate_amount(plan, report)
        assert result["spent"]["rho"] == pytest.approx(expected, rel=1e-9)
        domains = {c["label"]: c["rho"] for c in report["privacy"]["charges"] if c["label"].startswith("domain:")}
        planned = {m["label"]: m["amount"] for m in plan["stages"][0]["measurements"]}
        assert set(domains) == set(planned) and domains["domain:rows"] == pytest.approx(planned["domain:rows"])
        # a small table's columns get at least the even split, sized by the noisy row count
        assert domains["domain:categories:city"] >= planned["domain:categories:city"] * (1 - 1e-9)
        dataset = result["spent"]["dataset"]["spent_epsilon"]
        if expected == plan["total"]:
            assert dataset == pytest.approx(plan["ledger"]["spent_epsilon_after"])
        else:  # the ledger composes what was spent: less than the plan's reservation, more than before the run
            assert plan["ledger"].get("spent_epsilon", 0.0) < dataset < plan["ledger"]["spent_epsilon_after"]
        code, plan = plan_json(config, capsys)
        assert plan["ledger"]["lifetime_from"] == "ledger" and plan["ledger"]["n_batches"] == round_ + 1


def test_dp_bounds_spend_at_most_their_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Zooming DP bounds may stop at an early level and leave the rest of their share unspent."""
    config = write_case(tmp_path)
    code, plan = plan_json(config, capsys)
    bounds = next(m for m in plan["stages"][0]["measurements"] if m["label"] == "domain:bounds:income")
    assert bounds["at_most"] is True
    assert main(["run", str(config), "--out", str(tmp_path / "run"), "--seed", "2", "--json"]) == EXIT_RELEASED
    result = json.loads(capsys.readouterr().out)
    report = json.loads((tmp_path / "run" / "internal" / "report.json").read_text())
    charges, report_plan = report["privacy"]["charges"], report["privacy"]["plan"]
    run_bounds = report_plan["domain_costs"]["income"]  # the run's own share for the column, sized by n
    spent_bounds = sum(c["rho"] for c in charges if c["label"].startswith("domain:bounds:income"))
    assert run_bounds >= bounds["amount"] * (1 - 1e-9) and 0 < spent_bounds <= run_bounds * (1 + 1e-9)
    # an unasked gate comparison is the only other way to spend less than the plan
    expected = plan["total"] - run_bounds + spent_bounds - unasked_gate_amount(plan, report)
    assert result["spent"]["rho"] == pytest.approx(expected, rel=1e-9)


def test_plan_reads_no_data_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_case(tmp_path)
    (tmp_path / "toy.csv").unlink()  # no data at all: the plan does not need it
    ledger = Path(os.environ["SYNTHGATE_LEDGER"])
    assert main(["plan", str(config)]) == EXIT_RELEASED
    out = capsys.readouterr().out
    assert "domain:bounds:income" in out and out.strip().splitlines()[-1].startswith("fits:")
    assert not ledger.exists()


def test_plan_says_when_the_run_would_not_fit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_case(tmp_path)
    assert main(["budget", "set", "toy", "--lifetime-epsilon", "0.5"]) == 0  # the ledger's budget wins
    capsys.readouterr()
    code, plan = plan_json(config, capsys)
    assert plan["ledger"]["lifetime_from"] == "ledger"
    assert code == EXIT_BUDGET and not plan["fits"] and "does not fit" in plan["reason"]
    # and `run` agrees: refused before any data is read
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == EXIT_BUDGET


def test_plan_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text("dataset: x\n", encoding="utf-8")
    assert main(["plan", str(tmp_path / "bad.yaml")]) == EXIT_BAD_INPUT
