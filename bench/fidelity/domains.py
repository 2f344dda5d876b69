"""The DP domain stage alone, on the path a new user takes: how much do estimated bounds clamp, and
which common category levels survive, on small tables?

    .venv/bin/python -m bench.fidelity.domains                      # defaults below, ~5 min on 2 cores
    .venv/bin/python -m bench.fidelity.domains --tables acs12 --epsilons 1 --repeats 3

For each table item (`TABLE` the whole shared table, `TABLE:N` an N-row random subsample drawn with
the repeat's seed) and each repeat: `draft_config` (what `synthgate init` writes: every domain
`estimate`), then `validate_source` with the benchmark split key of the repeat (pass 1, nothing spent),
then, for each epsilon, `plan_budget` and `release_domains` with a fresh accountant (the noisy row
count, the n-dependent split, every column's estimate). Nothing else of a run happens.

Scored on the exact training rows of the same split (exact figures: a benchmark on public tables,
never part of a release):
- numeric/integer/datetime: the share of non-null training values outside the released bounds
  (`clamped`), and the bounds' width over the real 0.5%..99.5% range (`width`: 1 is tight, 10 leaves a
  tenth of the model's bins for the data);
- categorical: whether every level holding >= 5% of the training rows was kept (`common_kept`), and
  the share of training rows whose level became `__other__` (`other`).
Reported per (table, epsilon, column) as medians over repeats, plus the worst repeat of `clamped`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import REPO
from bench.fidelity.domain_methods import bounds_method
from bench.fidelity.init_path import subsample  # the same subsamples as the init-path bench

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

WORK = REPO / "bench" / ".work" / "domains"
LEVEL_SHARE = 0.05  # a level holding at least this share of training rows must be kept
CLAMP_TARGET = 0.05  # issue 11: clamped share <= 5% on every numeric column at n ~ 2k, epsilon 1
DEFAULT_TABLES = "acs12,health_insurance:2000,census2000:2000,mpls_stops:2000,fertility:2000"


def run_domains(data: Path, epsilons: list[float], seed: int, folder: Path) -> dict[float, dict[str, Any]]:
    """One repeat: pass 1 once, then the domain stage at each epsilon; figures per epsilon."""
    from bench.fidelity.harness import real_split
    from synthgate.pipeline.config import load_config
    from synthgate.pipeline.domains import release_domains
    from synthgate.pipeline.init_config import draft_config
    from synthgate.pipeline.plan import plan_budget, rows_needed
    from synthgate.pipeline.split import SplitKey
    from synthgate.pipeline.validate import validate_source
    from synthgate.privacy.accountant import Accountant, Budget

    config_file = folder / f"{data.stem}_s{seed}.yaml"
    draft_config(data, config_file, epsilon=1.0, target=None, model="graphical", force=True)
    config = load_config(config_file)
    validated = validate_source(config, SplitKey.reproducible_for_benchmarks(seed))
    train, _ = real_split(config, seed)
    if len(train) != validated.n_train:
        raise SystemExit(f"{data.name}: the benchmark split does not match pass 1")
    out: dict[float, dict[str, Any]] = {}
    for epsilon in epsilons:
        budget = Budget(epsilon, config.privacy.delta)
        plan = plan_budget(config, budget)
        needed = rows_needed(plan, config.estimated_kinds, config.contribution)
        accountant = Accountant(budget)
        start = time.perf_counter()
        domains = release_domains(config, validated, accountant, plan)
        seconds = time.perf_counter() - start
        columns = {}
        for estimate in domains.estimated:
            figures = score(estimate, train[estimate.column])
            figures["cost"] = domains.plan.domain_cost(estimate.column)
            figures["level_share"] = dict(domains.plan.level_shares).get(estimate.column)
            figures["rows_needed"] = needed.get(estimate.column)
            figures["warning"] = estimate.warning
            columns[estimate.column] = figures
        spent = sum(c.rho or c.epsilon for c in accountant.charges)
        out[epsilon] = {"n_train": validated.n_train, "n_hat": domains.plan.n_hat, "seconds": round(seconds, 3),
                        "domain_spent": spent, "total": plan.total, "columns": columns,
                        "plan_warning": domains.plan.warning}
    return out


def score(estimate: Any, real: pd.Series) -> dict[str, Any]:
    """Exact figures of one released domain against the real training column (benchmark only)."""
    values = real[real.notna()]
    if estimate.kind == "categories":
        shares = values.astype(str).value_counts() / max(len(real), 1)
        kept = set(estimate.categories or ())
        common = set(shares[shares >= LEVEL_SHARE].index)
        other = float(shares[[k not in kept for k in shares.index]].sum())
        return {"kind": "categories", "levels": int(shares.size), "common_levels": len(common),
                "common_kept": len(common & kept), "all_common_kept": common <= kept, "kept": len(kept),
                "other": other}
    low, high = estimate.bounds
    if isinstance(low, pd.Timestamp):
        x = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9
        low_x, high_x = low.value / 1e9, high.value / 1e9
        bounds = [low.isoformat(), high.isoformat()]
    else:
        x = values.to_numpy(dtype=float)
        low_x, high_x = float(low), float(high)
        bounds = [low_x, high_x]
    clamped = float(np.mean((x < low_x) | (x > high_x))) if x.size else 0.0
    # How wide the bounds are against the real 0.5%..99.5% range: the model's bins divide the bounds, so a
    # width of 10 leaves a tenth of them for the data (a bench figure; the product never sees it).
    span = float(np.quantile(x, 0.995) - np.quantile(x, 0.005)) if x.size else 0.0
    width = (high_x - low_x) / span if span > 0 else None
    return {"kind": "bounds", "bounds": bounds, "clamped": clamped, "width": width,
            "real_range": [float(np.min(x)), float(np.max(x))] if x.size else None}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per column, medians over repeats (and the worst clamped share); per table, the headline figures."""
    columns: dict[str, dict[str, Any]] = {}
    for name, first in runs[0]["columns"].items():
        figures = [r["columns"][name] for r in runs]
        merged: dict[str, Any] = {"kind": first["kind"]}
        for key in ("clamped", "width", "other", "common_levels", "common_kept", "cost", "level_share", "rows_needed"):
            values = [f[key] for f in figures if isinstance(f.get(key), int | float) and not isinstance(f[key], bool)]
            if values:
                merged[key] = statistics.median(values)
        if first["kind"] == "bounds":
            merged["clamped_worst"] = max(f["clamped"] for f in figures)
            merged["placeholder"] = sum(bool(f["warning"]) for f in figures)
        else:
            merged["all_common_kept"] = sum(bool(f["all_common_kept"]) for f in figures)
        columns[name] = merged
    bounds = [c for c in columns.values() if c["kind"] == "bounds"]
    cats = [c for c in columns.values() if c["kind"] == "categories"]
    return {
        "repeats": len(runs),
        "n_train": statistics.median(r["n_train"] for r in runs),
        "worst_clamped_median": max((c["clamped"] for c in bounds), default=0.0),
        "columns_over_target": sorted(n for n, c in columns.items()
                                      if c["kind"] == "bounds" and c["clamped"] > CLAMP_TARGET),
        "common_levels_lost": sorted(n for n, c in columns.items()
                                     if c["kind"] == "categories" and c["all_common_kept"] < len(runs)),
        "common_kept": sum(c.get("common_kept", 0) for c in cats),
        "common_levels": sum(c.get("common_levels", 0) for c in cats),
        "domain_share_of_run": statistics.median(r["domain_spent"] / r["total"] for r in runs),
        "columns": columns,
    }


def render(item: str, epsilon: float, summary: dict[str, Any]) -> str:
    head = (f"### {item}, epsilon {epsilon:g} (n_train ~{summary['n_train']:,.0f}): worst median clamped "
            f"{summary['worst_clamped_median']:.1%}, common levels kept {summary['common_kept']:g}/"
            f"{summary['common_levels']:g}, domains took {summary['domain_share_of_run']:.0%} of the run")
    lines = [head, "", "| column | kind | clamped (median / worst) | width | common levels kept (median; repeats all "
             "kept) | other | level share found | rows needed |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    repeats = summary["repeats"]
    for name, c in summary["columns"].items():
        needed = c.get("rows_needed")
        needed_text = f"{needed:,.0f}" if isinstance(needed, int | float) else "> 1e6"
        if c["kind"] == "bounds":
            placeholder = f" ({c['placeholder']}x placeholder)" if c["placeholder"] else ""
            width = f"{c['width']:.2g}" if "width" in c else ""
            lines.append(f"| {name} | bounds | {c['clamped']:.1%} / {c['clamped_worst']:.1%}{placeholder} | {width} | | | "
                         f"{c['level_share']:.1%} | {needed_text} |")
        else:
            lines.append(f"| {name} | categories | | | {c['common_kept']:g}/{c['common_levels']:g}; "
                         f"{c['all_common_kept']}/{repeats} | {c['other']:.1%} | {c['level_share']:.1%} | {needed_text} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity.domains", description=__doc__.split("\n")[0])
    parser.add_argument("--tables", default=DEFAULT_TABLES)
    parser.add_argument("--epsilons", default="0.3,1,3")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "bench" / "fidelity" / "domains"),
                        help="write PREFIX.json and PREFIX.md (default bench/fidelity/domains)")
    parser.add_argument("--method", default="synthgate",
                        help="bounds estimator: synthgate (the product's) or em (DP quantiles, domain_methods.py)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    epsilons = [float(e) for e in args.epsilons.split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    folder = WORK / time.strftime("%Y%m%dT%H%M%S")
    folder.mkdir()
    report: dict[str, Any] = {"epsilons": epsilons, "repeats": args.repeats, "method": args.method, "tables": {}}
    text: list[str] = []
    try:
        for item in args.tables.split(","):
            table, _, size = item.partition(":")
            runs_by_epsilon: dict[float, list[dict[str, Any]]] = {e: [] for e in epsilons}
            for seed in range(1, args.repeats + 1):
                data = subsample(table, int(size) if size else None, seed, folder)
                with bounds_method(args.method):
                    by_epsilon = run_domains(data, epsilons, seed, folder)
                for epsilon, run in by_epsilon.items():
                    runs_by_epsilon[epsilon].append(run)
            report["tables"][item] = {}
            for epsilon, runs in runs_by_epsilon.items():
                summary = summarise(runs)
                report["tables"][item][f"{epsilon:g}"] = {"summary": summary, "runs": runs}
                text.append(render(item, epsilon, summary))
                print(text[-1], flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    Path(f"{args.out}.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    header = ("# DP domains on small tables (init defaults, every domain estimated), medians over repeats\n\n"
              f"`.venv/bin/python -m bench.fidelity.domains --tables {args.tables} --epsilons {args.epsilons} "
              f"--repeats {args.repeats} --method {args.method}`\n\nTarget (issue 11): clamped <= {CLAMP_TARGET:.0%} on every bounds column "
              f"and every level holding >= {LEVEL_SHARE:.0%} of rows kept, at epsilon 1 and n ~ 2,000.\n\n")
    Path(f"{args.out}.md").write_text(header + _headline(report) + "\n" + "\n".join(text), encoding="utf-8")
    return 0


def _headline(report: dict[str, Any]) -> str:
    lines = ["| table | epsilon | worst median clamped | columns over 5% | columns losing a common level |",
             "| --- | --- | --- | --- | --- |"]
    for item, by_epsilon in report["tables"].items():
        for epsilon, entry in by_epsilon.items():
            s = entry["summary"]
            lines.append(f"| {item} | {epsilon} | {s['worst_clamped_median']:.1%} | "
                         f"{', '.join(s['columns_over_target']) or '-'} | {', '.join(s['common_levels_lost']) or '-'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
