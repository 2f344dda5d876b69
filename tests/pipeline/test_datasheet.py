"""The release datasheet: only DP gate figures and public facts, every section present, in both forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from synthgate.pipeline.config import config_from_mapping
from synthgate.pipeline.datasheet import build_datasheet, render_datasheet, write_datasheet

CONFIG = config_from_mapping({
    "dataset": "toy", "source": {"path": "toy.csv"},
    "columns": {"age": {"type": "integer", "bounds": [0, 120]},
                "city": {"type": "categorical", "categories": "estimate"}},
    "privacy": {"epsilon": 1.0, "delta": 1e-6},
})

MANIFEST: dict[str, Any] = {
    "release_id": "toy-1", "dataset": "toy", "decision": "RELEASE",
    "model": {"kind": "graphical", "structure": {"parents": {"age": [], "city": ["age"]}}},
    "privacy": {"accounting": "zcdp", "neighbouring": "add or remove one row",
                "budget": {"epsilon": 1.0, "delta": 1e-6},
                "spent": {"epsilon": 1.0, "delta": 1e-6, "rho": 0.02, "accounting": "zcdp"}},
    "rows": {"count": 800, "source": "dp-estimate"},
    "schema": {"age": {"type": "integer", "bounds": [0, 120], "nulls": False},
               "city": {"type": "categorical", "categories": ["A|B", "C"], "other": True, "nulls": False}},
    "files": {},
}

CHECKS = [
    {"name": "dp_tvd", "value": 0.04, "threshold": 0.1, "direction": "max", "passed": True, "dp": True,
     "sensitivity": 0.001, "exact_value": 0.0312345, "description": "noisy 1-way TVD"},
    {"name": "exact_risk", "value": 0.0123456, "threshold": 0.05, "direction": "max", "passed": True,
     "description": "computed on real rows"},
    {"name": "flagged_false", "value": 0.0234567, "threshold": 0.05, "direction": "max", "passed": True, "dp": False},
]


def test_only_dp_checks_are_in_the_datasheet() -> None:
    sheet = build_datasheet(MANIFEST, CHECKS, CONFIG)
    assert [c["name"] for c in sheet["gate"]["dp_checks"]] == ["dp_tvd"]
    assert "exact_value" not in sheet["gate"]["dp_checks"][0]
    assert sheet["gate"]["non_dp_checks_left_out"] == 2
    assert sheet["gate"]["decision_inside_dp_guarantee"] is False  # two non-DP checks decided
    text = json.dumps(sheet) + render_datasheet(sheet)
    for exact in ("0.0312345", "0.0123456", "0.0234567", "exact_risk", "flagged_false"):
        assert exact not in text


def test_a_decision_on_dp_checks_only_is_inside_the_guarantee() -> None:
    checks = [CHECKS[0], {**CHECKS[1], "passed": None, "threshold": None}]
    assert build_datasheet(MANIFEST, checks, CONFIG)["gate"]["decision_inside_dp_guarantee"] is True


def test_every_section_is_there() -> None:
    sheet = build_datasheet(MANIFEST, CHECKS, CONFIG)
    assert sheet["synthetic"] is True and sheet["privacy"]["epsilon"] == 1.0
    assert sheet["columns"][1] == {"name": "city", "type": "categorical", "domain_source": "dp-estimate",
                                   "domain": MANIFEST["schema"]["city"]}
    assert sheet["model"]["relations_measured"] == ["city with age"]
    markdown = render_datasheet(sheet)
    for heading in ("## Privacy", "## Model", "## Rows and columns", "## Release gate (DP figures only)",
                    "## Intended uses and limits", "Not for:", "small groups or rare categories"):
        assert heading in markdown
    assert "A\\|B, C, other" in markdown  # a category with '|' does not break the table
    assert "| dp_tvd | 0.04 | ≤ 0.1 | pass |" in markdown


def test_write_datasheet_returns_manifest_entries(tmp_path: Path) -> None:
    entries = write_datasheet(tmp_path, manifest=MANIFEST, checks=CHECKS, config=CONFIG)
    assert set(entries) == {"DATASHEET.md", "datasheet.json"}
    assert json.loads((tmp_path / "datasheet.json").read_text())["release_id"] == "toy-1"
    assert entries["datasheet.json"]["bytes"] == (tmp_path / "datasheet.json").stat().st_size
