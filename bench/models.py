"""Model kinds side by side on health_insurance at epsilon 1: time, utility, disclosure risk, gate.

Run from the repository root:

    .venv/bin/python -m bench.models [--repeats 3]

After one untimed warm-up run, each kind (schema, independent, copula, graphical) is released `repeats`
times (seeds 1..N, interleaved so machine noise hits every kind alike, a fresh out dir each time) from configs/health_insurance.yaml
with epsilon 1. Medians are reported. Writes bench/models.json and bench/models.md.

`schema` spends no budget, so it needs every domain public (this config's are) and a public
row count: output.rows = 8,802, the row count of AER::HealthInsurance as documented ("A data
frame containing 8,802 observations on 11 variables", AER's ?HealthInsurance; also
shared/datasets/README.md). The DP kinds keep the shipped `output.rows: estimate` (a DP count of
the training rows, about 7,050 of the 8,802 after the 20% holdout), as a release of them would.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._common import REPO, config_path, fmt, machine_info, make_config, median, render_table

TABLE = "health_insurance"
EPSILON = 1.0
KINDS = ("schema", "independent", "copula", "graphical")
SCHEMA_ROWS = 8802  # documented row count of AER::HealthInsurance (public), see the module docstring
JSON_OUT = REPO / "bench" / "models.json"
MD_OUT = REPO / "bench" / "models.md"
FIGURES = ("tvd_1way_mean", "tvd_2way_mean", "tvd_3way_mean", "correlation_error", "tstr_ratio",
           "exact_match_excess", "near_match_excess", "train_closer_share")


def _run(kind: str, seed: int, scratch: Path) -> dict[str, Any]:
    from synthgate.pipeline.run import run_release
    from synthgate.privacy.ledger import Ledger

    config = make_config(TABLE, kind=kind, epsilon=EPSILON, rows=SCHEMA_ROWS if kind == "schema" else None)
    out = scratch / f"{kind}-{seed}"
    ledger = Ledger(scratch / f"ledger-{kind}-{seed}.sqlite")  # a fresh ledger per run: repeats must not run dry
    start = time.perf_counter()
    result = run_release(config, out=out, seed=seed, ledger=ledger)
    wall = time.perf_counter() - start
    report = json.loads(Path(result.paths["report_json"]).read_text(encoding="utf-8"))
    shutil.rmtree(out)
    details = report.get("details", {})
    risk = details.get("risk") or {}
    return {
        "seed": seed,
        "wall": wall,
        "timings": result.timings,
        "decision": result.decision,
        "reasons": result.reasons,
        "figures": _exact_figures(report),
        "dp_figures": {k: f.get("value") for k, f in result.figures.items()},  # what the gate decided on
        "near_match_share": risk.get("near_match_share"),
        "near_match_baseline": risk.get("near_match_baseline"),
        "dcr_threshold": risk.get("dcr_threshold"),
        "tstr": details.get("tstr"),
        "epsilon_spent": result.spent.get("epsilon"),
        "rows": report.get("rows"),
    }


def _exact_figures(report: dict[str, Any]) -> dict[str, float | None]:
    """The internal report's exact figures (the same definitions for every kind; `schema` has no DP gate
    figures): TVD means over the training codes, near-match excess = near-match share - holdout's own."""
    details = report.get("details", {})
    risk = details.get("risk") or {}
    exact = report.get("exact_figures") or {}
    share, baseline = risk.get("near_match_share"), risk.get("near_match_baseline")
    measured = {f"tvd_{way}way_mean": (details.get(f"tvd_{way}way") or {}).get("mean") for way in (1, 2, 3)}
    measured["exact_match_excess"] = risk.get("exact_match_excess")
    measured["near_match_excess"] = None if share is None or baseline is None else share - baseline
    return {k: measured[k] if k in measured else exact.get(k) for k in FIGURES}


def _summarise(kind: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    figures = {k: median([r["figures"][k] for r in runs]) for k in FIGURES}
    decisions = [r["decision"] for r in runs]
    failed = sorted({reason for r in runs if r["decision"] != "RELEASE" for reason in r["reasons"]})
    return {
        "model": kind,
        "output_rows": "public: 8802 (documented)" if kind == "schema" else "estimate (DP count of training rows)",
        "synthetic_rows": [r["rows"].get("synthetic") if r["rows"] else None for r in runs],
        "training_rows": [r["rows"].get("training") if r["rows"] else None for r in runs],
        "wall_median_s": median([r["wall"] for r in runs]),
        "figures_median": figures,
        "near_match_share_median": median([r["near_match_share"] for r in runs]),
        "near_match_baseline_median": median([r["near_match_baseline"] for r in runs]),
        "tstr_score_real_median": median([(r["tstr"] or {}).get("score_real") for r in runs]),
        "tstr_score_synth_median": median([(r["tstr"] or {}).get("score_synth") for r in runs]),
        "decisions": decisions,
        "hold_reasons": failed,
        "epsilon_spent": [r["epsilon_spent"] for r in runs],
        "runs": runs,
    }


def _span(values: list[int | None]) -> str:
    values = sorted({v for v in values if v is not None})
    if not values:
        return "-"
    return f"{values[0]:,}" if len(values) == 1 else f"{values[0]:,}-{values[-1]:,}"


def _table(summaries: list[dict[str, Any]], *, markdown: bool) -> str:
    header = ["model", "rows out", "wall s", "TVD 1-way", "TVD 2-way", "TSTR ratio", "near-match share",
              "near-match excess", "eps spent", "decisions"]
    rows = []
    for s in summaries:
        f = s["figures_median"]
        rows.append([
            s["model"],
            _span(s["synthetic_rows"]),
            fmt(s["wall_median_s"], 2),
            fmt(f["tvd_1way_mean"], 4),
            fmt(f["tvd_2way_mean"], 4),
            fmt(f["tstr_ratio"], 3),
            fmt(s["near_match_share_median"], 4),
            fmt(f["near_match_excess"], 4),
            fmt(median([e for e in s["epsilon_spent"] if e is not None]), 3),
            ", ".join(f"{d}" for d in s["decisions"]),
        ])
    return render_table(header, rows, markdown=markdown)


def _per_run(summaries: list[dict[str, Any]]) -> str:
    header = ["model", "seed", "rows out", "wall s", "TVD 1-way", "TVD 2-way", "TSTR ratio", "near-match share",
              "near-match excess", "decision"]
    rows = []
    for s in summaries:
        for r in s["runs"]:
            f = r["figures"]
            rows.append([s["model"], str(r["seed"]), _span([r["rows"].get("synthetic") if r["rows"] else None]),
                         fmt(r["wall"], 2), fmt(f["tvd_1way_mean"], 4), fmt(f["tvd_2way_mean"], 4),
                         fmt(f["tstr_ratio"], 3), fmt(r["near_match_share"], 4), fmt(f["near_match_excess"], 4),
                         r["decision"]])
    return render_table(header, rows, markdown=True)


def _markdown(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    s = payload["settings"]
    lines = [
        "# Model kinds on health_insurance (epsilon 1)",
        "",
        f"Generated by `.venv/bin/python -m bench.models` on {m['date_utc']} "
        f"({m['cpu_count']} CPUs, {m['cpu_model'] or 'unknown CPU'}, load average at start "
        f"{m['load_average_1_5_15']}, Python {m['python']}, synthgate {m['packages'].get('synthgate')}, "
        f"commit {(m.get('git') or {}).get('commit', '?')[:12]}"
        + (f", uncommitted changes in {', '.join(m['git']['modified_tracked_files'])}"
           if (m.get('git') or {}).get('modified_tracked_files') else "") + ").",
        f"Medians of {s['repeats']} runs (seeds {s['seeds'][0]}..{s['seeds'][-1]}); total "
        f"{payload['total_seconds']:.0f} s. Config: `configs/health_insurance.yaml` (input 8,802 rows x 11, "
        "20% holdout), epsilon 1, delta 1e-6.",
        "",
        _table(payload["results"], markdown=True),
        "",
        "- **rows out**: `schema` spends no budget, so it needs a public row count: 8,802, the documented",
        "  size of AER::HealthInsurance (AER's `?HealthInsurance`: \"8,802 observations on 11 variables\";",
        "  also `shared/datasets/README.md`). The DP kinds keep the config's `output.rows: estimate`, a DP",
        f"  count of the training rows (here {_span(payload['results'][-1]['training_rows'])}; the split depends on the seed).",
        "- Figures are the internal report's exact ones (the gate decides on DP versions of some of them,",
        "  kept per run in `models.json` as `dp_figures`; `schema` has none, as it reads no data).",
        "- **graphical** uses the config default `selection: aim` (AIM's adaptive rounds from MST's tree).",
        "- **TVD**: mean total variation distance of 1-way / 2-way marginals, synthetic vs training (0 = same).",
        "- **TSTR ratio**: gradient boosting trained on synthetic rows, scored on the real holdout, as a share",
        "  of the same model trained on real rows (target `insurance`, chance-adjusted balanced accuracy;",
        "  0 = no better than chance).",
        "- **near-match share**: `details.risk.near_match_share`, share of synthetic sample rows within the",
        "  holdout's 5th-percentile distance of a training row; **near-match excess** subtracts the holdout's",
        "  own share (negative = synthetic rows are no closer to training rows than unseen real rows are).",
        "- **wall s**: `run_release` wall time in one process, after imports and one untimed warm-up run.",
        "- **eps spent**: epsilon charged to the accountant (0 for `schema`).",
        "",
    ]
    held = [(r["model"], run) for r in payload["results"] for run in r["runs"] if run["decision"] != "RELEASE"]
    if held:
        lines.append("Gate reasons for HOLD:")
        lines.append("")
        for model, run in held:
            lines.append(f"- `{model}` seed {run['seed']}: " + "; ".join(run["reasons"]))
        lines.append("")
    lines += ["Every run:", "", _per_run(payload["results"]), ""]
    lines.append("Timings are from a shared 2-core machine; rerun on a quiet one before quoting them.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per model kind (median reported)")
    parser.add_argument("--json", type=Path, default=JSON_OUT, help="default bench/models.json")
    parser.add_argument("--markdown", type=Path, default=MD_OUT, help="default bench/models.md")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run (seed 0)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    info = machine_info()
    print(f"bench.models: {TABLE}, epsilon {EPSILON}, kinds {', '.join(KINDS)}, {args.repeats} repeat(s); "
          f"load {info['load_average_1_5_15']}", flush=True)
    start = time.perf_counter()
    import synthgate.pipeline.run  # noqa: F401  (imported once, outside the timed runs)

    import_seconds = time.perf_counter() - start
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="synthgate-bench-models-") as tmp:
        if not args.no_warmup:  # one untimed run first: lazy imports and first-call caches are not a model's cost
            _run(KINDS[0], 0, Path(tmp))
        for seed in range(1, args.repeats + 1):
            for kind in KINDS:  # interleaved: noise on a shared machine hits every kind alike
                run = _run(kind, seed, Path(tmp))
                runs[kind].append(run)
                print(f"  seed {seed} {kind:<12} {run['wall']:.2f}s {run['decision']}", flush=True)
    total = time.perf_counter() - start
    summaries = [_summarise(k, runs[k]) for k in KINDS]
    payload = {
        "benchmark": "bench.models",
        "machine": info,
        "settings": {"table": TABLE, "config": str(config_path(TABLE).relative_to(REPO)), "epsilon": EPSILON,
                     "kinds": list(KINDS), "repeats": args.repeats, "seeds": list(range(1, args.repeats + 1)),
                     "schema_output_rows": SCHEMA_ROWS,
                     "schema_output_rows_source": "documented row count of AER::HealthInsurance (8,802 x 11)",
                     "dp_output_rows": "estimate (config default)",
                     "warmup_run": not args.no_warmup},
        "import_seconds": import_seconds,
        "total_seconds": total,
        "results": summaries,
    }
    args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    args.markdown.write_text(_markdown(payload), encoding="utf-8")
    print()
    print(_table(summaries, markdown=False))
    for s in summaries:
        for r in s["runs"]:
            if r["decision"] != "RELEASE":
                print(f"  HOLD {s['model']} seed {r['seed']}: " + "; ".join(r["reasons"]))
    print(f"\nmedians of {args.repeats}; total {total:.0f}s; wrote {args.json} and {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
