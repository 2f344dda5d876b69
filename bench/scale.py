"""Scale: a whole release at 1M, 3M and 10M rows against the physical floor, and from other sources.

Run from the repository root:

    .venv/bin/python -m bench.scale [--rows 1000000,3000000,10000000] [--repeats 3] [--large-repeats 1]
                                    [--sources csv,parquet-dir,postgres,spark] [--tag after]
    .venv/bin/python -m bench.scale --rows 1000000 --repeats 1 --sources csv,spark --tag spark

The input is the shared fertility table resampled *with replacement* to each size (seeded; written
once to bench/.work/scale, git-ignored, as CSV and as a hive-partitioned Parquet folder). For every
size and repeat, one fresh subprocess measures the floor (one multi-threaded pyarrow read of the CSV
plus one Parquet write of the same table) and, right after it, another runs `synthgate run` with the
table's reviewed config at epsilon 1 (default model), so the run's peak RSS is its own. Sizes of
10M rows and more run `--large-repeats` times, smaller ones `--repeats` times (medians reported).
Reported per size: wall time of the run and of the floor (their ratio is the target, <= 3), peak RSS
of the run's process (ru_maxrss), rows per second per stage, and the linear fit of run time against
rows (slope and intercept). Writes bench/scale/results.json and results.md (`--tag` names them,
e.g. results_before.md).

`--sources postgres` starts a throwaway PostgreSQL cluster (initdb + pg_ctl, as the tests do:
tests/services/postgres.py), loads each size's table into it once (ADBC bulk ingest), and per run
measures, in a child process just before the run, a plain `COPY (SELECT <columns>) TO STDOUT` of
the table (psycopg, bytes read and dropped) and the same SELECT fetched as Arrow batches through
ADBC's PostgreSQL driver (what the run's reader does), beside the run's load stage. Source `spark`
is the same CSV with `engine: spark` on Spark local mode (local[2], Java from PATH); its peak RSS is
the Python driver's only (the JVM is another process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import REPO, fmt, machine_info, median, render_table

WORK = REPO / "bench" / ".work" / "scale"
OUT = REPO / "bench" / "scale"
STAGES = ("load_validate", "domains", "encode", "fit", "sample", "check", "publish")


def make_input(n_rows: int) -> tuple[Path, Path]:
    """fertility resampled with replacement to n_rows, as CSV and as a Parquet folder (made once)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    csv, folder = WORK / f"fertility_{n_rows}.csv", WORK / f"fertility_{n_rows}_parquet"
    if csv.exists() and folder.exists():
        return csv, folder
    WORK.mkdir(parents=True, exist_ok=True)
    source = pacsv.read_csv((REPO / "../shared/datasets/fertility.csv").resolve())
    rows = np.random.default_rng(n_rows).integers(0, source.num_rows, n_rows)
    table = source.take(pa.array(rows))
    pacsv.write_csv(table, csv)
    bucket = pc.cast(pc.bit_wise_and(pa.array(np.arange(n_rows)), 7), pa.string())
    pq.write_to_dataset(table.append_column("part", bucket), folder, partition_cols=["part"])
    return csv, folder


_FLOOR = r"""
import json, resource, sys, time
from pathlib import Path
import pyarrow.csv as pacsv, pyarrow.parquet as pq
start = time.perf_counter(); table = pacsv.read_csv(sys.argv[1]); read = time.perf_counter() - start
start = time.perf_counter(); pq.write_table(table, sys.argv[2]); write = time.perf_counter() - start
print(json.dumps({"read": read, "write": write, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_DATABASE = r"""
import json, os, sys, time
from urllib.parse import quote
import adbc_driver_postgresql.dbapi as adbc, psycopg
url, columns = sys.argv[1], sys.argv[2]
password = os.environ["SYNTHGATE_BENCH_PG_PASSWORD"]
select = f"SELECT {columns} FROM fertility"
with psycopg.connect(url, password=password) as db, db.cursor() as cursor:
    start, n_bytes = time.perf_counter(), 0
    with cursor.copy(f"COPY ({select}) TO STDOUT") as copy:
        for block in copy:
            n_bytes += len(block)
    copy_s = time.perf_counter() - start
head, tail = url.split("@", 1)
with adbc.connect(f"{head}:{quote(password, safe='')}@{tail}") as c:
    with c.cursor() as cursor:
        start, rows = time.perf_counter(), 0
        cursor.execute(select)
        for batch in cursor.fetch_record_batch():
            rows += batch.num_rows
        adbc_s = time.perf_counter() - start
print(json.dumps({"copy_s": copy_s, "copy_bytes": n_bytes, "adbc_read_s": adbc_s, "rows": rows}))
"""

_INGEST = r"""
import json, os, sys
from urllib.parse import quote
import adbc_driver_postgresql.dbapi as adbc, pyarrow.csv as pacsv
head, tail = sys.argv[1].split("@", 1)
with adbc.connect(f"{head}:{quote(os.environ['SYNTHGATE_BENCH_PG_PASSWORD'], safe='')}@{tail}") as connection:
    with connection.cursor() as cursor:
        cursor.adbc_ingest("fertility", pacsv.read_csv(sys.argv[2]), mode="create")
    connection.commit()
print(json.dumps({}))
"""

_WORKER = r"""
import json, resource, sys, time
from pathlib import Path
from synthgate.pipeline.config import config_from_mapping, parse_yaml
from synthgate.pipeline.run import run_release
from synthgate.privacy.ledger import Ledger

source, kind, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
raw = parse_yaml(Path(sys.argv[4]).read_text())
raw["source"] = {"path": str(source)}
if kind == "postgres":
    raw["source"] = {"url": sys.argv[1], "table": "fertility", "password_env": "SYNTHGATE_BENCH_PG_PASSWORD"}
raw["privacy"]["lifetime_epsilon"] = 1000.0
if kind == "spark":
    raw["engine"] = "spark"
    raw["spark"] = {"master": "local[2]", "conf": {"spark.driver.memory": "2g", "spark.ui.enabled": "false"}}
elif kind == "parquet-dir":
    raw["columns"]["part"] = {"role": "identifier"}
config = config_from_mapping(raw, path=Path(sys.argv[4]))
start = time.perf_counter()
result = run_release(config, out=out, ledger=Ledger(out.parent / "ledger.sqlite"), seed=1)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "timings": result.timings, "decision": result.decision,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


_POSTGRES: dict[str, str] = {}  # size -> database URL, and "password", while a throwaway cluster runs


def _child(script: str, *args: str) -> dict[str, Any]:
    env = {"GX_ANALYTICS_ENABLED": "False", "PATH": "/usr/bin:/bin", "SPARK_LOCAL_IP": "127.0.0.1"}
    if "password" in _POSTGRES:
        env["SYNTHGATE_BENCH_PG_PASSWORD"] = _POSTGRES["password"]
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=7200,
                          cwd=REPO, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"bench.scale: a child process failed:\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_one(n_rows: int, kind: str, repeat: int) -> dict[str, Any]:
    import shutil

    csv, folder = make_input(n_rows)
    scratch = WORK / f"run_{n_rows}_{kind}_{repeat}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    source = {"csv": str(csv), "spark": str(csv), "parquet-dir": str(folder)}.get(kind) or _POSTGRES[str(n_rows)]
    database = None
    try:
        floor = _child(_FLOOR, str(csv), str(scratch / "floor.parquet"))
        (scratch / "floor.parquet").unlink()
        if kind == "postgres":
            database = _child(_DATABASE, source, ", ".join(f'"{c}"' for c in _columns()))
        run = _child(_WORKER, source, kind, str(scratch / "run"), str(REPO / "configs" / "fertility.yaml"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"rows": n_rows, "source": kind, "repeat": repeat, "floor": floor, "database": database, **run}


def _columns() -> list[str]:
    from synthgate.pipeline.config import load_config

    return [c.name for c in load_config(REPO / "configs" / "fertility.yaml").attributes]


@contextlib.contextmanager
def postgres_tables(sizes: list[int]) -> Any:
    """A throwaway cluster holding each size's table `fertility` (one database per size)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_postgres", REPO / "tests" / "services" / "postgres.py")
    assert spec is not None and spec.loader is not None
    services = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # (tests/ is no package)
    spec.loader.exec_module(services)
    create_database, throwaway_server = services.create_database, services.throwaway_server
    reason = services.why_unavailable()
    if reason:
        raise SystemExit(f"bench.scale: --sources postgres: {reason}")
    with throwaway_server() as server:
        _POSTGRES["password"] = server.password
        for n_rows in sizes:
            url = create_database(server, f"scale_{n_rows}")
            started = time.perf_counter()
            # in a child: a parent that held the table would pass its peak RSS on to every run it starts
            _child(_INGEST, url, str(make_input(n_rows)[0]))
            print(f"{n_rows:>11,} postgres     loaded in {time.perf_counter() - started:.0f} s", flush=True)
            _POSTGRES[str(n_rows)] = url
        try:
            yield
        finally:
            _POSTGRES.clear()


def _fit(points: list[tuple[int, float]]) -> tuple[float, float] | None:
    if len(points) < 2:
        return None
    import numpy as np

    slope, intercept = np.polyfit([p[0] for p in points], [p[1] for p in points], 1)
    return float(slope), float(intercept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000,3000000,10000000")
    parser.add_argument("--repeats", type=int, default=3, help="runs per size below 10M rows (median)")
    parser.add_argument("--large-repeats", type=int, default=1, help="runs per size of 10M rows or more")
    parser.add_argument("--sources", default="csv",
                        help="csv, parquet-dir, postgres and/or spark (the CSV on engine: spark)")
    parser.add_argument("--tag", default="", help="suffix of the result files, e.g. 'before'")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.rows.split(",") if x]
    kinds = [s for s in args.sources.split(",") if s]
    runs = []
    with postgres_tables(sizes) if "postgres" in kinds else contextlib.nullcontext():
        for n_rows in sizes:
            for kind in kinds:
                for repeat in range(args.large_repeats if n_rows >= 10_000_000 else args.repeats):
                    started = time.perf_counter()
                    runs.append(run_one(n_rows, kind, repeat))
                    print(f"{n_rows:>11,} {kind:<12} run {runs[-1]['wall']:.1f} s "
                          f"(bench {time.perf_counter() - started:.0f} s)", flush=True)
    summary = []
    for n_rows in sizes:
        for kind in {r["source"] for r in runs}:
            mine = [r for r in runs if r["rows"] == n_rows and r["source"] == kind]
            if not mine:
                continue
            wall = median([r["wall"] for r in mine])
            floors = [r["floor"]["read"] + r["floor"]["write"] for r in mine if r["floor"]]
            floor = median(floors) if floors else None
            summary.append({
                "rows": n_rows, "source": kind, "wall_s": wall, "floor_s": floor,
                "ratio_to_floor": wall / floor if floor else None,
                "runs": len(mine), "peak_rss_mb": median([r["peak_rss_mb"] for r in mine]),
                "floor_peak_rss_mb": median([r["floor"]["peak_rss_mb"] for r in mine]),
                "stage_s": {s: median([r["timings"].get(s, 0.0) for r in mine]) for s in STAGES},
                "rows_per_s": {s: n_rows / median([r["timings"].get(s, 0.0) or 1e-9 for r in mine]) for s in STAGES},
                "decisions": sorted({r["decision"] for r in mine}),
                "database": None if kind != "postgres" else {
                    key: median([r["database"][key] for r in mine]) for key in ("copy_s", "adbc_read_s")},
            })
    fits = {kind: _fit([(s["rows"], s["wall_s"]) for s in summary if s["source"] == kind])
            for kind in {s["source"] for s in summary}}
    OUT.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine_info(), "settings": vars(args), "runs": runs, "summary": summary,
               "linear_fit_seconds": {k: ({"slope_s_per_million_rows": v[0] * 1e6, "intercept_s": v[1]} if v else None)
                                      for k, v in fits.items()}}
    name = "results" + (f"_{args.tag}" if args.tag else "")
    (OUT / f"{name}.json").write_text(json.dumps(payload, indent=1, default=str), encoding="utf-8")
    rows = [[f"{s['rows']:,}", s["source"], str(s["runs"]), fmt(s["wall_s"]), fmt(s["floor_s"]), fmt(s["ratio_to_floor"]),
             fmt(s["peak_rss_mb"]), " ".join(f"{k[:4]}={v:.3g}" for k, v in s["stage_s"].items()),
             " ".join(f"{k[:4]}={v / 1e6:.2g}M" for k, v in s["rows_per_s"].items())]
            for s in summary]
    table = render_table(["rows", "source", "runs", "run s (median)", "floor s", "ratio", "peak RSS MB",
                          "stage s (median)", "rows/s per stage"], rows)
    lines = ["# bench.scale: a whole release against one read + one write", "",
             f"`.venv/bin/python -m bench.scale --rows {args.rows} --repeats {args.repeats} "
             f"--large-repeats {args.large_repeats} --sources {args.sources}`",
             "", "Input: the shared fertility table resampled with replacement to each size (seeded). Floor: one "
             "multi-threaded pyarrow CSV read + one Parquet write of the same table, in its own process just "
             "before each run (peak RSS is the run's process alone). Target: run <= 3x floor, peak RSS <= 2 GB.", "", table, "",
             *[f"PostgreSQL at {s['rows']:,} rows (medians): plain COPY (SELECT ...) TO STDOUT "
               f"{s['database']['copy_s']:.1f} s; the same SELECT as Arrow batches through ADBC "
               f"{s['database']['adbc_read_s']:.1f} s; the run's load + validate stage "
               f"{s['stage_s']['load_validate']:.1f} s." for s in summary if s.get("database")], "",
             "Linear fit of run time against rows: " + "; ".join(
                 f"{k}: {v['slope_s_per_million_rows']:.2f} s per million rows + {v['intercept_s']:.1f} s"
                 for k, v in payload["linear_fit_seconds"].items() if v), "",
             f"Machine: {payload['machine']}", ""]
    (OUT / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
