"""Two init-path result files side by side per ordered column, with MST's figures from a third.

    .venv/bin/python -m bench.fidelity.compare_init_path bench/fidelity/init_path_split_eps1_r5.json \
        bench/fidelity/init_path_heaps_eps1_r5.json --mst bench/fidelity/init_path_eps1_r3.json \
        --out bench/fidelity/init_path_heaps_vs_split

Medians per column over each file's runs (`bench.fidelity.init_path` writes them): 1-way TVD on 20 real
quantile bins, synthetic share of exact zeros, p10/p50/p90 errors; and each table's mean 1-way TVD
over all columns. Both files should come from the same session with the same tables and repeats
(the subsamples and holdout splits then match; DP noise differs, so only the medians compare).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def _runs_median(runs: list[dict[str, Any]], column: str, key: str) -> float | None:
    values = [r["columns"][column].get(key) for r in runs]
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def _fmt(v: float | None, pct: bool = False) -> str:
    return "-" if v is None else (f"{v:.1%}" if pct else f"{v:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity.compare_init_path")
    parser.add_argument("before", help="result file(s), comma-separated: their runs are pooled")
    parser.add_argument("after", help="result file(s), comma-separated")
    parser.add_argument("--mst", default=None, help="an init_path result file run with --mst")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    before, after = (_pooled(p) for p in (args.before, args.after))
    mst = json.loads(Path(args.mst).read_text(encoding="utf-8")) if args.mst else None
    lines = [f"# init path, before ({args.before}) / after ({args.after})"
             + (f" / MST given the true domains ({Path(args.mst).name})" if mst else ""), "",
             f"`.venv/bin/python -m bench.fidelity.compare_init_path {args.before} {args.after}"
             + (f" --mst {args.mst}" if mst else "") + (f" --out {args.out}`" if args.out else "`"), "",
             "Medians over each file's runs. Columns whose fine method did not change (no round codes: binned or"
             " non-integer) show the run-to-run noise of the medians.", ""]
    for table, b in before["tables"].items():
        a = after["tables"][table]
        m = (mst["tables"].get(table) or {}).get("mst") if mst else None
        n_b, n_a = len(b["runs"]), len(a["runs"])
        mean = [statistics.median(_mean_tvd(r) for r in runs) for runs in (b["runs"], a["runs"])]
        lines += [f"### {table}: mean 1-way TVD {mean[0]:.3f} -> {mean[1]:.3f}"
                  + (f" (MST {m['tvd_1way_mean']:.3f})" if m else "") + f"; runs {n_b} / {n_a}", "",
                  "| column | TVD before / after / MST | zeros real | zeros synth before / after / MST "
                  "| p10/p50/p90 error before | after | MST |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for column, spec in b["runs"][0]["columns"].items():
            if spec["type"] in ("categorical", "boolean"):
                continue
            ms = m["columns"].get(column, {}) if m else {}
            tvd = [_runs_median(b["runs"], column, "tvd"), _runs_median(a["runs"], column, "tvd"), ms.get("tvd")]
            zeros = [_runs_median(b["runs"], column, "zeros_synth"), _runs_median(a["runs"], column, "zeros_synth"),
                     ms.get("zeros_synth")]
            pct = ["/".join(_fmt(_runs_median(runs, column, f"p{q}_error")) for q in (10, 50, 90))
                   for runs in (b["runs"], a["runs"])]
            pct.append("/".join(_fmt(ms.get(f"p{q}_error")) for q in (10, 50, 90)) if ms else "-")
            lines.append(f"| {column} | {' / '.join(_fmt(v) for v in tvd)} | "
                         f"{_fmt(_runs_median(b['runs'], column, 'zeros_real'), True)} | "
                         f"{' / '.join(_fmt(v, True) for v in zeros)} | {pct[0]} | {pct[1]} | {pct[2]} |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(f"{args.out}.md").write_text(text, encoding="utf-8")
    return 0


def _pooled(paths: str) -> dict[str, Any]:
    """One or more result files (comma-separated) as one: the runs of each table pooled."""
    pooled: dict[str, Any] = {"tables": {}}
    for path in paths.split(","):
        for table, entry in json.loads(Path(path).read_text(encoding="utf-8"))["tables"].items():
            pooled["tables"].setdefault(table, {"runs": []})["runs"] += entry["runs"]
    return pooled


def _mean_tvd(run: dict[str, Any]) -> float:
    values = [c["tvd"] for c in run["columns"].values() if c.get("tvd") is not None]
    return float(sum(values) / len(values))


if __name__ == "__main__":
    raise SystemExit(main())
