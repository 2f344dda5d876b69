"""The internal report page: generic gate section, budget by stage, self-contained, plots from matplotlib."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from synthgate.quality.report.budget import spend_by_stage, stage_of
from synthgate.quality.report.html import render_html


def make_report() -> dict[str, Any]:
    """A small report.json as `build_report` writes it, plus keys the DP gate adds (dp, sensitivity,
    exact_value, gate:* charges) and a check today's gate does not have."""
    return {
        "internal": True, "notice": "INTERNAL: never part of a release.", "release_id": "toy-1", "dataset": "toy",
        "config": {"path": None, "hash": "ab" * 32, "model": "graphical", "target": "colour"},
        "decision": "HOLD", "package": "held", "reasons": ["dp_new_check = 0.9 (must be <= 0.5): FAIL"],
        "checks": [
            {"name": "dp_new_check", "value": 0.9, "threshold": 0.5, "direction": "max", "passed": False,
             "description": "a check added after this page was written", "dp": True, "sensitivity": 0.002,
             "exact_value": 0.87},
            {"name": "tvd_1way_mean", "value": 0.01, "threshold": 0.1, "direction": "max", "passed": True,
             "description": "mean 1-way TVD"},
            {"name": "tstr_ratio", "value": None, "threshold": None, "direction": "min", "passed": None,
             "reason": "tstr_ratio: not checked (disabled in config)"},
        ],
        "figures": {"tvd_1way_mean": 0.01},
        "details": {"tstr": {"target": "colour", "metric": "balanced_accuracy", "score_real": 0.5,
                             "score_synth": 0.4, "ratio": 0.8},
                    "risk": {"n_synth": 10, "near_match_ci": [0.1, 0.2]},
                    "tvd_2way_pairs": [{"columns": ["age", "colour"], "tvd": 0.05}],
                    "dcr_histogram": {"edges": [0, 0.1, 0.2], "synthetic_to_train": [3, 7],
                                      "holdout_to_train": [4, 6]}},
        "privacy": {"accounting": "zcdp", "neighbouring": "add or remove one row",
                    "budget": {"epsilon": 1.0, "delta": 1e-6},
                    "spent": {"epsilon": 1.0, "delta": 1e-6, "rho": 0.02, "accounting": "zcdp"},
                    "charges": [{"label": "domain:bounds:age", "rho": 0.002, "epsilon": 0, "delta": 0},
                                {"label": "marginal:age", "rho": 0.004, "epsilon": 0, "delta": 0},
                                {"label": "select:aim-round-1", "rho": 0.002, "epsilon": 0, "delta": 0},
                                {"label": "marginal:age,colour:aim-1", "rho": 0.008, "epsilon": 0, "delta": 0},
                                {"label": "gate:dp_new_check", "rho": 0.004, "epsilon": 0, "delta": 0}],
                    "dataset": {"name": "toy", "lifetime_epsilon": 10.0, "spent_epsilon": 2.5,
                                "remaining_epsilon": 7.5},
                    "plan": {"unit": "rho", "total": 0.02, "model_cost": 0.018, "domain_cost_per_column": 0.002,
                             "n_estimated_columns": 1}},
        "warnings": [], "model_structure": None,
        "rows": {"training": 800, "holdout": 200, "synthetic": 800, "synthetic_source": "config"},
        "dropped_identifiers": [],
        "columns": [{"column": "age", "type": "integer", "tvd": 0.02, "labels": ["[0, 9]", "[10, 19]", "[20, 29]"],
                     "real_share": [0.2, 0.5, 0.3], "synthetic_share": [0.25, 0.45, 0.3]},
                    {"column": "colour", "type": "categorical", "tvd": 0.01, "labels": ["red", "green"],
                     "real_share": [0.6, 0.4], "synthetic_share": [0.59, 0.41]}],
        "seed": 1, "versions": {"python": "3.11"}, "timings_seconds": {"fit": 1.0}, "notes": [],
    }


@pytest.mark.parametrize(("label", "stage"), [
    ("domain:categories:city", "domains"), ("marginal:age", "1-way"), ("select:tree-edge-3", "structure selection"),
    ("marginal:a,b", "2-/3-way"), ("marginal:a,b,c:aim-2", "2-/3-way"), ("gate:tvd_1way_mean", "gate"),
    ("correlation:x,y", "correlation"),
])
def test_every_charge_label_has_a_stage(label: str, stage: str) -> None:
    assert stage_of(label) == stage


def test_spend_by_stage_adds_up_in_stage_order() -> None:
    stages = spend_by_stage(make_report()["privacy"]["charges"], unit="rho")
    assert [s.stage for s in stages] == ["domains", "1-way", "structure selection", "2-/3-way", "gate"]
    assert sum(s.amount for s in stages) == pytest.approx(0.02)
    assert sum(s.share for s in stages) == pytest.approx(1.0)
    assert spend_by_stage([], unit="rho") == []


def test_first_screen_holds_decision_reasons_and_the_privacy_story() -> None:
    html = render_html(make_report())
    first = html[: html.index('id="columns"')]
    for phrase in ("HOLD", "dp_new_check = 0.9 (must be &lt;= 0.5): FAIL", "ε = 1", "1 in 1,000,000",
                   "add or remove one row", "left ε = 7.5", "Synthetic, not anonymised", "gate</b>"):
        assert phrase in first, phrase
    assert first.count("<svg") >= 3  # spend by stage, lifetime budget, 1-way TVD per column


def test_gate_section_is_generic() -> None:
    """A check this page does not know is shown with its own fields, DP-tagged, with its unknown keys."""
    html = render_html(make_report())
    assert "dp_new_check" in html and "a check added after this page was written" in html
    assert "sensitivity 0.002" in html and "exact value (internal) 0.87" in html
    assert html.count('class="tag dp"') == 1 and html.count('class="tag exact"') == 2
    assert "tstr_ratio: not checked (disabled in config)" in html


def test_page_is_self_contained() -> None:
    html = render_html(make_report())
    assert "<script" not in html.lower()
    assert "default-src 'none'" in html
    assert re.findall(r'(?:src|href)="(?!#|data:image/png;base64,)[^"]*"', html) == []  # a colour bar is a PNG
    assert not re.search(r"url\((?!#)", html)
    # only XML namespace names, never a fetched address
    assert set(re.findall(r"https?://[^\"' )]+", html)) <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "@media print" in html


def test_svg_ids_are_unique_across_the_page() -> None:
    ids = re.findall(r'\sid="([^"]+)"', render_html(make_report()))
    assert len(ids) == len(set(ids))


def test_missing_details_are_named_not_drawn() -> None:
    report = make_report()
    for key in ("tvd_2way_pairs", "dcr_histogram", "tstr"):
        del report["details"][key]
    html = render_html(report)
    assert "details.tvd_2way_pairs" in html and "details.dcr_histogram" in html


def test_values_are_escaped() -> None:
    report = copy.deepcopy(make_report())
    report["columns"][1]["labels"] = ["<b>x</b>", "y&z"]
    report["checks"][0]["description"] = "<img src=x>"
    html = render_html(report)
    assert "<b>x</b>" not in html and "<img src=x>" not in html
