"""Before/after of bench.scale runs made in one session, interleaved (one run per invocation).

    .venv/bin/python -m bench.scale_compare --before '../wt-fastload-base/bench/scale/results_ff2_before_*.json' \
        --after 'bench/scale/results_ff2_after_*.json' --tag fastload

Reads the `results_<tag>.json` files each side's `python -m bench.scale --repeats 1 --tag ...` wrote
(globs, from the current folder: the before side ran in a checkout of the parent commit), and
writes `bench/scale/results_<tag>.md` / `.json` (every run kept in the JSON): per size and source,
the median of each side's runs (wall time, floor, run/floor, peak RSS, every stage) and
after / before. A run and its floor share the load of the moment; interleaving the two sides run
by run gives them the same load on average.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench._common import fmt, machine_info, median, render_table
from bench.scale import OUT, STAGES


def _runs(pattern: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for path in sorted(Path().glob(pattern)):
        runs.extend(json.loads(path.read_text(encoding="utf-8"))["runs"])
    return runs


def _summary(runs: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, Any]]:
    out = {}
    for key in sorted({(r["rows"], r["source"]) for r in runs}):
        mine = [r for r in runs if (r["rows"], r["source"]) == key]
        floors = [r["floor"]["read"] + r["floor"]["write"] for r in mine]
        out[key] = {"runs": len(mine), "wall_s": median([r["wall"] for r in mine]), "floor_s": median(floors),
                    "ratio_to_floor": median([r["wall"] / f for r, f in zip(mine, floors)]),
                    "peak_rss_mb": median([r["peak_rss_mb"] for r in mine]),
                    "stage_s": {s: median([r["timings"].get(s, 0.0) for r in mine]) for s in STAGES},
                    "decisions": sorted({r["decision"] for r in mine})}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="glob of result files under bench/scale/")
    parser.add_argument("--after", required=True)
    parser.add_argument("--tag", required=True)
    args = parser.parse_args(argv)
    runs = {"before": _runs(args.before), "after": _runs(args.after)}
    before, after = _summary(runs["before"]), _summary(runs["after"])
    rows, payload = [], []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        payload.append({"rows": key[0], "source": key[1], "before": b, "after": a})
        for name, side in (("before", b), ("after", a)):
            if side is None:
                continue
            rows.append([f"{key[0]:,}", key[1], name, str(side["runs"]), fmt(side["wall_s"]), fmt(side["floor_s"]),
                         fmt(side["ratio_to_floor"]), fmt(side["peak_rss_mb"]),
                         " ".join(f"{s[:4]}={v:.3g}" for s, v in side["stage_s"].items())])
        if b and a:
            lv = (a["stage_s"]["load_validate"] or 0.0) / max(b["stage_s"]["load_validate"] or 1e-9, 1e-9)
            rows.append([f"{key[0]:,}", key[1], "after/before", "", fmt(a["wall_s"] / b["wall_s"]), "",
                         fmt(a["ratio_to_floor"] / b["ratio_to_floor"]), "", f"load_validate x{lv:.2f}"])
    table = render_table(["rows", "source", "side", "runs", "run s (median)", "floor s", "run/floor (median)",
                          "peak RSS MB", "stage s (medians)"], rows)
    (OUT / f"results_{args.tag}.json").write_text(json.dumps({"machine": machine_info(), "settings": vars(args),
                                                             "summary": payload, "runs": runs}, indent=1, default=str),
                                                 encoding="utf-8")
    (OUT / f"results_{args.tag}.md").write_text("\n".join([
        f"# bench.scale before/after ({args.tag})", "",
        f"`.venv/bin/python -m bench.scale_compare --before '{args.before}' --after '{args.after}' --tag {args.tag}`",
        "", table, "", f"Machine: {machine_info()}", ""]), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
