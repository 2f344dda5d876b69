"""Per-stage timings of a release, against the physical floor (one read of the input + one write).

Run from the repository root:

    .venv/bin/python -m bench.stages [--repeats 3] [--tables health_insurance,fertility] [--models independent,copula,graphical]

For every shared table and model kind (epsilon 1) a fresh subprocess runs the release `repeats`
times (seeds 1..N, a fresh out dir each time) and, interleaved with them, the baseline: read the
input CSV fully with pyarrow.csv.read_csv and write that table to a Parquet file. One subprocess
per (table, model) makes the peak RSS (ru_maxrss, a process-wide maximum) per (table, model).
Writes bench/results.json and prints a table of medians.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._common import (REPO, TABLES, config_path, fmt, machine_info, make_config, median, peak_rss_mb,
                           render_table)

STAGES = ("load_validate", "domains", "encode", "fit", "sample", "check", "publish")
SHORT = {"load_validate": "load", "domains": "dom", "encode": "enc", "fit": "fit", "sample": "sample",
         "check": "check", "publish": "pub"}
MODELS = ("independent", "copula", "graphical")
EPSILON = 1.0
RESULTS = REPO / "bench" / "results.json"
WORKER_TIMEOUT = 900


# --------------------------------------------------------------------------------------------- worker

def _baseline(source: Path, scratch: Path) -> dict[str, Any]:
    """One full read of the input CSV and one Parquet write of the same rows and columns.

    pyarrow's defaults throughout (multithreaded CSV read, snappy Parquet): the floor the
    hardware and library allow, not a re-implementation of the pipeline's streaming read.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    target = scratch / "baseline.parquet"
    start = time.perf_counter()
    table = pacsv.read_csv(source)
    read = time.perf_counter() - start
    start = time.perf_counter()
    pq.write_table(table, target)
    write = time.perf_counter() - start
    result = {"read": read, "write": write, "total": read + write, "rows": table.num_rows,
              "columns": table.num_columns, "parquet_bytes": target.stat().st_size}
    del table
    target.unlink()
    return result


class _RssSampler:
    """Samples the current RSS (/proc/self/statm) every `interval` seconds in a daemon thread.

    ru_maxrss only gives the process-wide peak; these samples, lined up with the stage timings
    afterwards, show which stage holds the memory. Reading statm costs microseconds per sample.
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._page_mb = os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _rss_mb(self) -> float:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * self._page_mb

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self._rss_mb()))
            self._stop.wait(self.interval)

    def __enter__(self) -> _RssSampler:
        if Path("/proc/self/statm").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def by_stage(self, start: float, timings: dict[str, float]) -> dict[str, float | None]:
        """Largest sampled RSS (MB) while each stage ran; stages are sequential, in STAGES order."""
        peaks: dict[str, float | None] = {}
        edge = start
        for stage in STAGES:
            lo, hi = edge, edge + timings.get(stage, 0.0)
            inside = [rss for t, rss in self.samples if lo <= t <= hi]
            peaks[stage] = round(max(inside), 1) if inside else None
            edge = hi
        return peaks


def _one_release(config: Any, seed: int, scratch: Path) -> dict[str, Any]:
    from synthgate.pipeline.run import run_release
    from synthgate.privacy.ledger import Ledger

    out = scratch / f"run-{seed}"  # must not exist yet: run_release wants a new or empty directory
    ledger = Ledger(scratch / f"ledger-{seed}.sqlite")  # a fresh ledger per run: repeats must not run dry
    with _RssSampler() as sampler:
        start = time.perf_counter()
        result = run_release(config, out=out, seed=seed, ledger=ledger)
        wall = time.perf_counter() - start
    report = json.loads(Path(result.paths["report_json"]).read_text(encoding="utf-8"))
    shutil.rmtree(out)
    stages = {s: float(result.timings.get(s, 0.0)) for s in STAGES}
    return {"seed": seed, "wall": wall, "stages": stages, "unaccounted": wall - sum(stages.values()),
            "decision": result.decision, "reasons": result.reasons, "epsilon_spent": result.spent.get("epsilon"), "rows": report.get("rows"),
            "rss_start_mb": round(sampler.samples[0][1], 1) if sampler.samples else None,
            "rss_peak_by_stage_mb": sampler.by_stage(start, stages)}


def worker(table: str, kind: str, repeats: int, result_path: Path) -> None:
    start = time.perf_counter()
    import synthgate.pipeline.run  # noqa: F401  (the import cost is reported, not timed in the runs)
    import_seconds = time.perf_counter() - start
    rss_import = peak_rss_mb()

    config = make_config(table, kind=kind, epsilon=EPSILON)
    scratch = Path(tempfile.mkdtemp(prefix=f"synthgate-bench-{table}-{kind}-"))
    baselines, runs = [], []
    rss_baseline = None
    try:
        for seed in range(1, repeats + 1):
            gc.collect()
            baselines.append(_baseline(config.source_path, scratch))
            if rss_baseline is None:
                rss_baseline = peak_rss_mb()
            gc.collect()
            runs.append(_one_release(config, seed, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    stage_medians = {s: median([r["stages"][s] for r in runs]) for s in STAGES}
    wall = median([r["wall"] for r in runs])
    base = median([b["total"] for b in baselines])
    dominant = max(stage_medians, key=lambda s: stage_medians[s] or 0.0)
    record = {
        "table": table,
        "model": kind,
        "epsilon": EPSILON,
        "config": str(config_path(table).relative_to(REPO)),
        "source": str(config.source_path),
        "rows": baselines[0]["rows"],
        "columns": baselines[0]["columns"],
        "attribute_columns": len(config.attributes),
        "training_rows": runs[0]["rows"].get("training") if runs[0]["rows"] else None,
        "synthetic_rows": [r["rows"].get("synthetic") if r["rows"] else None for r in runs],
        "repeats": repeats,
        "stage_medians_s": stage_medians,
        "unaccounted_median_s": median([r["unaccounted"] for r in runs]),
        "wall_median_s": wall,
        "dominant_stage": dominant,
        "dominant_share": (stage_medians[dominant] / wall) if wall else None,
        "baseline_median_s": base,
        "baseline_read_median_s": median([b["read"] for b in baselines]),
        "baseline_write_median_s": median([b["write"] for b in baselines]),
        "ratio": (wall / base) if base else None,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_import_mb": rss_import,
        "rss_after_first_baseline_mb": rss_baseline,
        "rss_peak_by_stage_mb_max": {s: max((r["rss_peak_by_stage_mb"][s] or 0.0) for r in runs) or None
                                     for s in STAGES},
        "import_seconds": import_seconds,
        "decisions": [r["decision"] for r in runs],
        "hold_reasons": sorted({why for r in runs if r["decision"] != "RELEASE" for why in r["reasons"]}),
        "epsilon_spent": [r["epsilon_spent"] for r in runs],
        "runs": runs,
        "baselines": baselines,
    }
    result_path.write_text(json.dumps(record, indent=2), encoding="utf-8")


# --------------------------------------------------------------------------------------------- parent

def _run_worker(table: str, kind: str, repeats: int, scratch: Path) -> dict[str, Any]:
    result_path = scratch / f"{table}-{kind}.json"
    cmd = [sys.executable, "-m", "bench.stages", "--worker", table, kind, "--repeats", str(repeats),
           "--result", str(result_path)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=WORKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"table": table, "model": kind, "error": f"timed out after {WORKER_TIMEOUT}s"}
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or not result_path.exists():
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-15:])
        return {"table": table, "model": kind, "error": f"worker exit {proc.returncode}", "stderr_tail": tail}
    record = json.loads(result_path.read_text(encoding="utf-8"))
    record["subprocess_seconds"] = elapsed
    return record


def _summary(records: list[dict[str, Any]]) -> str:
    header = ["table", "model", "rows", "cols", *(SHORT[s] for s in STAGES), "wall", "base", "ratio", "rss MB",
              "decision"]
    rows = []
    for r in records:
        if "error" in r:
            rows.append([r["table"], r["model"], *(["-"] * (len(header) - 3)), "ERROR"])
            continue
        med = r["stage_medians_s"]
        decisions = sorted(set(r["decisions"]))
        rows.append([r["table"], r["model"], f"{r['rows']:,}", str(r["columns"]),
                     *(fmt(med[s], 3) for s in STAGES), fmt(r["wall_median_s"], 2), fmt(r["baseline_median_s"], 3),
                     fmt(r["ratio"], 1), fmt(r["peak_rss_mb"], 0), "/".join(decisions)])
    return render_table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per table and model (median reported)")
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated subset of " + ",".join(TABLES))
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated model kinds")
    parser.add_argument("--output", type=Path, default=RESULTS, help="results JSON (default bench/results.json)")
    parser.add_argument("--worker", nargs=2, metavar=("TABLE", "MODEL"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    if args.worker:
        worker(args.worker[0], args.worker[1], args.repeats, args.result)
        return 0

    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if unknown := [t for t in tables if t not in TABLES]:
        parser.error(f"unknown table(s) {unknown}; choose from {', '.join(TABLES)}")
    if unknown := [m for m in models if m not in ("schema", "independent", "copula", "graphical")]:
        parser.error(f"unknown model kind(s) {unknown}")

    info = machine_info()
    print(f"bench.stages: {len(tables)} table(s) x {len(models)} model(s) x {args.repeats} repeat(s), "
          f"epsilon {EPSILON}; {info['cpu_count']} CPUs, load {info['load_average_1_5_15']}", flush=True)
    start = time.perf_counter()
    records = []
    with tempfile.TemporaryDirectory(prefix="synthgate-bench-") as tmp:
        for table in tables:
            for kind in models:
                record = _run_worker(table, kind, args.repeats, Path(tmp))
                records.append(record)
                if "error" in record:
                    print(f"  {table:<17} {kind:<12} ERROR: {record['error']}\n{record.get('stderr_tail', '')}",
                          flush=True)
                else:
                    print(f"  {table:<17} {kind:<12} wall {record['wall_median_s']:.2f}s  "
                          f"ratio {record['ratio']:.1f}  ({record['subprocess_seconds']:.0f}s incl. import)",
                          flush=True)
    total = time.perf_counter() - start
    info_end = machine_info()
    payload = {
        "benchmark": "bench.stages",
        "description": "median per-stage seconds of run_release vs. one pyarrow CSV read + one Parquet write",
        "machine": info,
        "load_average_at_end": info_end["load_average_1_5_15"],
        "settings": {"repeats": args.repeats, "seeds": list(range(1, args.repeats + 1)), "epsilon": EPSILON,
                     "tables": tables, "models": models,
                     "baseline": "pyarrow.csv.read_csv(input) + pyarrow.parquet.write_table(same table), "
                                 "interleaved with the runs in the same subprocess",
                     "ratio": "median(run_release wall seconds) / median(baseline seconds)",
                     "peak_rss": "ru_maxrss of the (table, model) subprocess: imports + baseline + all repeats"},
        "total_seconds": total,
        "results": records,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print()
    print(_summary(records))
    for r in records:
        for why in r.get("hold_reasons", []):
            print(f"  HOLD {r['table']} {r['model']}: {why}")
    print(f"\nseconds, medians of {args.repeats}; ratio = wall / base; total {total:.0f}s; wrote "
          f"{args.output.relative_to(REPO) if args.output.is_relative_to(REPO) else args.output}")
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
