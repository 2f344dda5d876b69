"""Before/after table from tagged `bench.scale` results measured in the same session.

    .venv/bin/python -m bench.scale_compare --before fastsample_base_r0,fastsample_base_r1,... \
        --after fastsample_after_r0,... --out bench/scale/results_fastsample.md

Reads bench/scale/results_<tag>.json for every tag (copy the baseline checkout's files next to
this branch's first). Per size: the median over the tags' runs of each stage, of the run's wall
time, of the floor (one pyarrow CSV read + one Parquet write, measured just before each run) and
of the run / floor ratio, before and after, and after / before per stage.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench._common import REPO, fmt, median, render_table

STAGES = ("load_validate", "domains", "encode", "fit", "sample", "check", "publish")


def _runs(tags: list[str]) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for tag in tags:
        runs += json.loads((REPO / "bench" / "scale" / f"results_{tag}.json").read_text(encoding="utf-8"))["runs"]
    return runs


def _medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    def mid(values: list[float]) -> float:
        return float(median(values) or 0.0)

    floor = [r["floor"]["read"] + r["floor"]["write"] for r in runs]
    out = {s: mid([r["timings"].get(s, 0.0) for r in runs]) for s in STAGES}
    out.update(wall=mid([r["wall"] for r in runs]), floor=mid(floor),
               ratio=mid([r["wall"] / f for r, f in zip(runs, floor)]),
               rss=mid([r["peak_rss_mb"] for r in runs]), n=float(len(runs)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="comma-separated result tags of the baseline")
    parser.add_argument("--after", required=True, help="comma-separated result tags of this branch")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    before, after = _runs(args.before.split(",")), _runs(args.after.split(","))
    rows = []
    for n_rows in sorted({r["rows"] for r in after}):
        b = _medians([r for r in before if r["rows"] == n_rows])
        a = _medians([r for r in after if r["rows"] == n_rows])
        for key in ("fit", "sample", "check", "publish", "load_validate", "wall", "floor", "ratio", "rss"):
            rows.append([f"{n_rows:,}", key, f"{b['n']:.0f} / {a['n']:.0f}", fmt(b[key]), fmt(a[key]),
                         fmt(a[key] / b[key]) if b[key] else "-"])
    table = render_table(["rows", "figure (s; ratio = run / floor; rss MB)", "runs before / after",
                          "before (median)", "after (median)", "after / before"], rows)
    args.out.write_text(f"# bench.scale before/after\n\n`python -m bench.scale_compare --before {args.before} "
                        f"--after {args.after} --out {args.out}`\n\n{table}\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
