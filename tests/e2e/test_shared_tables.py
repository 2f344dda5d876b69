"""End to end: every reviewed config in configs/ on its real table, with each model kind that applies.

Every model kind that spends budget (independent, copula, graphical: config.MODEL_KINDS) applies to
every table; schema only where every domain is public (it spends no budget, so it cannot estimate
one) and then with output.rows given. Each run uses a temporary copy
of the reviewed config at epsilon 1, with `utility.sample_rows: 1000` to keep the checks quick.

health_insurance, acs12 and census2000 run in the default suite (a second or two each); the two largest
tables, mpls_stops (52k rows) and fertility (255k rows), are marked slow and run only when asked for
(`pytest -m slow`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from services.configs import GATE_PASSES, SHARED_TABLES
from synthgate.pipeline.cli import main
from synthgate.pipeline.config import MODEL_KINDS, load_config, parse_yaml
from synthgate.pipeline.errors import EXIT_RELEASED

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
DEFAULT_TABLES = {"health_insurance", "acs12", "census2000"}  # a few seconds each
SCHEMA_ROWS = 2000


def _all_public(name: str) -> bool:
    return not any(c.is_estimated for c in load_config(CONFIG_DIR / f"{name}.yaml").attributes)


CASES = [
    pytest.param(name, model, id=f"{name}-{model}",
                 marks=() if name in DEFAULT_TABLES else (pytest.mark.slow,))
    for name in SHARED_TABLES
    for model in MODEL_KINDS
    if model != "schema" or _all_public(name)
]


def _temp_config(name: str, model: str, root: Path) -> Path:
    original = CONFIG_DIR / f"{name}.yaml"
    raw: dict[str, Any] = parse_yaml(original.read_text(encoding="utf-8"))
    raw["source"]["path"] = str(load_config(original).source_path)
    raw["privacy"].update(epsilon=1.0, lifetime_epsilon=10.0, lifetime_delta=1e-5)
    raw["model"] = {**(raw.get("model") or {}), "kind": model}
    raw["utility"] = {**(raw.get("utility") or {}), "sample_rows": 1000}
    # The reviewed gate with every DP threshold at the largest its figure can take: each check is measured and
    # published on the real table, none can hold, so every run is released (exit 0).
    raw["gate"] = {**(raw.get("gate") or {}), **GATE_PASSES}
    if model == "schema":
        raw["output"] = {**(raw.get("output") or {}), "rows": SCHEMA_ROWS}
    path = root / f"{name}-{model}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "model"), CASES)
def test_reviewed_config_runs(name: str, model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _temp_config(name, model, tmp_path)
    out = tmp_path / "run"
    started = time.perf_counter()
    code = main(["run", str(config), "--out", str(out), "--seed", "20", "--json"])
    seconds = time.perf_counter() - started
    captured = capsys.readouterr()
    assert code == EXIT_RELEASED, captured.err
    result = json.loads(captured.out)
    assert result["decision"] == "RELEASE"

    package = out / "release"
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    report = json.loads((out / "internal" / "report.json").read_text(encoding="utf-8"))
    assert manifest["decision"] == result["decision"] and manifest["model"]["kind"] == model

    # Budget: never more than configured (float slack only); schema spends nothing.
    spent, budget = manifest["privacy"]["spent"], manifest["privacy"]["budget"]
    assert budget["epsilon"] == 1.0
    assert spent["epsilon"] <= budget["epsilon"] + 1e-9
    if model == "schema":
        assert spent["epsilon"] == 0 and manifest["privacy"]["charges"] == []
    else:
        assert spent["epsilon"] > 0.5 * budget["epsilon"], "most of the budget should go to the model"

    # Rows: the configured number, or a DP estimate of the training row count.
    n_train = report["rows"]["training"]
    count = manifest["rows"]["count"]
    if model == "schema":
        assert manifest["rows"] == {"count": SCHEMA_ROWS, "source": "config"}
    else:
        assert manifest["rows"]["source"] == "dp-estimate"
        assert abs(count - n_train) <= max(0.05 * n_train, 50), (count, n_train)
    holdout = report["rows"]["holdout"]
    assert 0.1 < holdout / (holdout + n_train) < 0.3
    synthetic = pq.read_table(package / "synthetic.parquet")
    assert synthetic.num_rows == count
    assert synthetic.column_names == [c.name for c in load_config(config).attributes]
    print(f"\n{name}/{model}: {result['decision']} in {seconds:.1f}s "
          f"({n_train + holdout:,} input rows, {count:,} synthetic, epsilon spent {spent['epsilon']:.4g})")
