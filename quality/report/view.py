"""What the report shows, worked out from report.json alone: the privacy story in plain words,
the gate checks (whatever checks the gate ran), the spend by stage, and the plots.

Generic on purpose: a check is rendered from its own entry (name, value, threshold, passed,
description or reason, `dp`, any further keys), so new gate checks need no change here. Optional
detail blocks (2-way TVD per pair, correlation matrices, distance histograms) are drawn when
report.json has them and named as missing when it does not.
"""

from __future__ import annotations

import math
from typing import Any

from .budget import spend_by_stage
from .plots import column_svg, heatmap_svg, histogram_svg, pair_bar_svg, stacked_bar_svg

__all__ = ["build_view", "check_view"]

_CHECK_KEYS = {"name", "value", "threshold", "direction", "passed", "description", "reason", "dp", "exact_value",
               "stddev", "limit", "decides", "failing_columns", "per_column"}
_ORDERED_TYPES = {"integer", "numeric", "datetime", "float"}


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.{digits}g}"
    return str(value)


def check_view(check: dict[str, Any]) -> dict[str, Any]:
    """One gate check for display: its verdict, whether its figure is DP, and any keys we do not know."""
    passed = check.get("passed")
    verdict = "pass" if passed is True else ("FAIL" if passed is False else "not checked")
    threshold = check.get("threshold")
    sign = {"max": "≤", "min": "≥"}.get(str(check.get("direction")), "")
    stddev = check.get("stddev")
    value = _fmt(check.get("value"))
    if check.get("dp") is True and isinstance(stddev, int | float) and stddev > 0 and check.get("value") is not None:
        value = f"{value} ± {_fmt(stddev, 2)}"
    return {
        "name": check.get("name", "?"),
        "value": value,
        "decides": passed is not None,
        "failing": ", ".join(str(c) for c in check.get("failing_columns") or []),
        # each column's DP figure (e.g. how much of it went to '__other__'), largest first
        "per_column": ", ".join(f"{name} {_fmt(value, 3)}" for name, value in sorted(
            (check.get("per_column") or {}).items(), key=lambda item: -item[1])),
        "limit": _fmt(check.get("limit")) if check.get("dp") is True and check.get("limit") is not None else None,
        "threshold": f"{sign} {_fmt(threshold)}".strip() if threshold is not None else "—",
        "verdict": verdict,
        "css": {"pass": "pass", "FAIL": "fail"}.get(verdict, "off"),
        "dp": check.get("dp") is True,
        "description": check.get("description") or "",
        "reason": check.get("reason") or "",
        "exact_value": _fmt(check.get("exact_value")) if "exact_value" in check else None,
        "extra": {k: _fmt(v) for k, v in check.items() if k not in _CHECK_KEYS and not isinstance(v, dict | list)},
    }


def _story(report: dict[str, Any], stages: list[Any], unit: str) -> dict[str, Any]:
    privacy = report.get("privacy", {})
    budget, spent = privacy.get("budget", {}), privacy.get("spent", {})
    epsilon = spent.get("epsilon", budget.get("epsilon"))
    delta = spent.get("delta", budget.get("delta"))
    factor = math.exp(epsilon) if isinstance(epsilon, int | float) and epsilon < 50 else None
    accounting = privacy.get("accounting", "")
    delta_words = f"1 in {round(1 / delta):,}" if isinstance(delta, int | float) and 0 < delta < 1 else None
    lines = {
        "epsilon": epsilon, "delta": delta, "delta_words": delta_words, "factor": factor, "accounting": accounting,
        "accounting_words": ("zero-concentrated DP (ρ), converted to (ε, δ)" if accounting == "zcdp"
                             else "pure ε-DP, composed by addition"),
        "neighbouring": privacy.get("neighbouring", "add or remove one row"),
        "rho": spent.get("rho"), "unit": "ρ" if unit == "rho" else "ε",
        "measured": [{"stage": s.stage, "n": s.n_charges, "share": s.share, "amount": s.amount} for s in stages],
        "dataset": privacy.get("dataset") or None,
    }
    return lines


def _column_plots(report: dict[str, Any]) -> list[dict[str, Any]]:
    plots = []
    for i, column in enumerate(report.get("columns", [])):
        labels, real, synth = column.get("labels"), column.get("real_share"), column.get("synthetic_share")
        if not labels or real is None or synth is None:
            continue
        subtitle = f"TVD {_fmt(column.get('tvd'), 2)}" if column.get("tvd") is not None else ""
        ordered = str(column.get("type")) in _ORDERED_TYPES
        plots.append({"column": column.get("column"), "svg": column_svg(
            f"col{i}", str(column.get("column")), [str(s) for s in labels], real, synth, ordered=ordered,
            subtitle=subtitle), "data": column})
    return plots


def _pair_matrix(columns: list[str], pairs: list[dict[str, Any]], key: str) -> list[list[float | None]]:
    index = {c: i for i, c in enumerate(columns)}
    matrix: list[list[float | None]] = [[None] * len(columns) for _ in columns]
    for pair in pairs:
        a, b = pair.get("columns", [None, None])[:2]
        if a in index and b in index and pair.get(key) is not None:
            matrix[index[a]][index[b]] = matrix[index[b]][index[a]] = float(pair[key])
    return matrix


def _detail_plots(report: dict[str, Any]) -> dict[str, Any]:
    details = report.get("details", {}) or {}
    out: dict[str, Any] = {"missing": []}
    pairs = details.get("tvd_2way_pairs")
    names = [str(c.get("column")) for c in report.get("columns", [])]
    if pairs:
        involved = [n for n in names if any(n in p.get("columns", []) for p in pairs)]
        out["tvd2"] = heatmap_svg("tvd2", "2-way TVD, real vs synthetic, per column pair", involved,
                                  _pair_matrix(involved, pairs, "tvd"), colourbar="total variation distance")
    else:
        out["missing"].append("2-way TVD per column pair (details.tvd_2way_pairs)")
    correlation = details.get("correlation_matrices") or {}
    if correlation.get("columns") and correlation.get("real") and correlation.get("synthetic"):
        cols = correlation["columns"]
        error = [[None if r is None or s is None else abs(r - s) for r, s in zip(rr, ss)]
                 for rr, ss in zip(correlation["real"], correlation["synthetic"])]
        out["corr"] = heatmap_svg("corr", "correlation error |real − synthetic|", cols, error,
                                  colourbar="absolute error")
    else:
        out["missing"].append("correlation matrices (details.correlation_matrices, needs two or more numeric columns)")
    dcr = details.get("dcr_histogram")
    if dcr and dcr.get("edges"):
        out["dcr"] = histogram_svg("dcr", "distance to closest training record", dcr["edges"],
                                   {"synthetic → train": dcr.get("synthetic_to_train", []),
                                    "holdout → train": dcr.get("holdout_to_train", [])},
                                   xlabel="Gower distance (0 = identical row)")
    else:
        out["missing"].append("distance-to-closest-record histograms (details.dcr_histogram)")
    tstr = details.get("tstr") or {}
    if tstr.get("score_real") is not None and tstr.get("score_synth") is not None:
        out["tstr"] = pair_bar_svg("tstr", f"predicting '{tstr.get('target')}' on unseen real rows",
                                   {"trained on real": tstr["score_real"],
                                    "trained on synthetic": tstr["score_synth"]},
                                   xlabel=str(tstr.get("metric", "score")))
    return out


def _tvd_glance(report: dict[str, Any]) -> str | None:
    """Each column's 1-way TVD as one bar, with the gate's 1-way threshold when it has one."""
    values = {str(c.get("column")): float(c["tvd"]) for c in report.get("columns", [])
              if isinstance(c.get("tvd"), int | float) and math.isfinite(c["tvd"])}
    if not values:
        return None
    limit = next((c.get("threshold") for c in report.get("checks", []) if c.get("name") == "tvd_1way_mean"), None)
    return pair_bar_svg("tvdglance", "real vs synthetic, per column: 1-way TVD (0 = same distribution)", values,
                        xlabel="total variation distance" + (" (dashed: gate's limit on the mean)" if limit else ""),
                        colours=("#7c93b5",), width=4.6, limit=limit)


def build_view(report: dict[str, Any]) -> dict[str, Any]:
    """Everything the template needs beyond report.json itself."""
    privacy = report.get("privacy", {})
    unit = "rho" if privacy.get("accounting") == "zcdp" else "epsilon"
    stages = spend_by_stage(privacy.get("charges", []), unit=unit)
    symbol = "ρ" if unit == "rho" else "ε"
    total = sum(s.amount for s in stages)
    budget_svg = stacked_bar_svg("budget", f"this run's spend by stage ({symbol} = {total:.3g})",
                                 [(s.stage, s.amount) for s in stages], unit=symbol) if total > 0 else None
    dataset = privacy.get("dataset") or {}
    lifetime_svg = None
    if dataset.get("lifetime_epsilon"):
        lifetime_svg = stacked_bar_svg(
            "lifetime", f"dataset '{dataset.get('name')}': lifetime ε = {dataset['lifetime_epsilon']:.3g}",
            [("spent (all batches)", float(dataset.get("spent_epsilon") or 0.0))], unit="ε",
            capacity=float(dataset["lifetime_epsilon"]))
    checks = [check_view(c) for c in report.get("checks", [])]
    return {
        "tvd_svg": _tvd_glance(report),
        "checks": checks,
        "n_failed": sum(c["verdict"] == "FAIL" for c in checks),
        "n_dp": sum(c["dp"] for c in checks),
        "story": _story(report, stages, unit),
        "stages": stages,
        "budget_svg": budget_svg,
        "lifetime_svg": lifetime_svg,
        "column_plots": _column_plots(report),
        "plots": _detail_plots(report),
        "fmt": _fmt,
    }
