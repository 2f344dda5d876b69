"""The path a new user takes: `synthgate init DATA --epsilon E` then `synthgate run`, scored per column.

    .venv/bin/python -m bench.fidelity.init_path --tables acs12,health_insurance:2000,mpls_stops:2000 \
        --epsilon 1 --repeats 3

`TABLE:N` is a random N-row subsample of the shared table (rows drawn with the subsample seed,
without replacement, written to a work CSV), `TABLE` the whole table. For each (table, repeat):
`draft_config` (what `synthgate init` writes: every domain `estimate`), then `run_release` with a
fresh ledger and the repeat's seed. The synthetic rows are compared with the real *training* rows
of the same split, per column, on the real scale:

- numeric/integer/datetime: the share of training values outside the published DP bounds
  (clamped), 1-way TVD over 20 quantile bins of the real training values (nulls a bin of their
  own), the share of exact zeros real vs synthetic, and the errors of the 10th/50th/90th
  percentiles as a share of the real p10..p90 span;
- categorical: 1-way TVD over the real levels plus `__other__` and null, how many of the levels
  that hold >= 5% of the training rows were kept, and the synthetic share of `__other__`.

With `--mst`, MST (bench/fidelity/mst_baseline.py, in its own venv) is fitted on the same training
rows given the true domains for free (each numeric column's training min/max in `--mst-bins`
equal-width bins, each categorical column's training levels), with the rho synthgate spends outside
its gate (domains + model), and scored the same way: the baseline of issue 11.

Exact figures about the real rows: a benchmark on public tables, never part of a release.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bench._common import REPO

WORK = REPO / "bench" / ".work" / "init_path"
DATASETS = REPO.parent / "shared" / "datasets"
LEVEL_SHARE = 0.05  # a level holding at least this share of training rows must be kept


def subsample(table: str, n_rows: int | None, seed: int, folder: Path) -> Path:
    source = DATASETS / f"{table}.csv"
    if n_rows is None:
        return source
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    rows = np.random.default_rng(seed).choice(len(frame), size=min(n_rows, len(frame)), replace=False)
    path = folder / f"{table}_{n_rows}_s{seed}.csv"
    frame.iloc[np.sort(rows)].to_csv(path, index=False)
    return path


def run_init_path(data: Path, epsilon: float, seed: int, folder: Path) -> dict[str, Any]:
    from synthgate.pipeline.config import load_config
    from synthgate.pipeline.init_config import draft_config
    from synthgate.pipeline.run import run_release
    from synthgate.privacy.ledger import Ledger

    config_file = folder / f"{data.stem}.yaml"
    draft_config(data, config_file, epsilon=epsilon, target=None, model="graphical", force=True)
    config = load_config(config_file)
    start = time.perf_counter()
    result = run_release(config, out=folder / f"run-{data.stem}-{seed}",
                         ledger=Ledger(folder / f"ledger-{data.stem}-{seed}.sqlite"), seed=seed)
    wall = time.perf_counter() - start
    package = Path(result.paths["release" if result.released else "held"])
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    synthetic = pq.read_table(package / "synthetic.parquet").to_pandas()
    from bench.fidelity.harness import real_split

    train, _ = real_split(config, seed)
    columns = {spec.name: column_figures(spec, manifest["schema"][spec.name], train[spec.name], synthetic[spec.name])
               for spec in config.attributes}
    return {"columns": columns, "wall_seconds": round(wall, 2), "timings": result.timings,
            "n_train": len(train), "warnings": result.warnings, "config": config, "train": train,
            "fine": manifest["model"].get("structure", {}).get("fine")}


def true_domain_config(config: Any, train: pd.DataFrame) -> Any:
    """The drafted config with every estimated domain replaced by the training rows' own (MST's input)."""
    columns = []
    for spec in config.columns:
        if spec.role != "attribute" or not spec.is_estimated:
            columns.append(spec)
            continue
        values = train[spec.name]
        update: dict[str, Any] = {"nulls": bool(values.isna().any())}
        if spec.type == "categorical":
            update["categories"] = tuple(sorted(values.dropna().astype(str).unique()))
        else:
            present = values.dropna()
            update["bounds"] = (present.min(), present.max()) if spec.type == "datetime" else \
                (float(present.min()), float(present.max()))
        columns.append(spec.model_copy(update=update))
    return config.model_copy(update={"columns": tuple(columns)})


def run_mst_true_domains(run: dict[str, Any], epsilon: float, seed: int, folder: Path, bins: int
                         ) -> dict[str, Any]:
    from synthgate.pipeline.plan import plan_budget
    from synthgate.privacy.accountant import Budget

    from bench.fidelity import harness

    config, train = run["config"], run["train"]
    truth = true_domain_config(config, train)
    plan = plan_budget(config, Budget(config.privacy.epsilon, config.privacy.delta))
    rho = plan.total - plan.gate_cost  # what synthgate spends outside its gate: domains and model
    out = harness.run_mst(truth, train, None, epsilon=epsilon, seed=seed, bins=bins, iters=5000, select_iters=1000,
                          scratch=folder / f"mst-{seed}", label="MST", rho=rho)
    synthetic = out["synthetic"].to_pandas()
    codec = harness.table_codec(truth, None, bins=bins)
    schema = codec.describe()
    columns = {spec.name: column_figures(spec, schema[spec.name], train[spec.name], synthetic[spec.name])
               for spec in truth.attributes}
    return {"columns": columns, "wall_seconds": out["info"].get("subprocess_seconds")}


def column_figures(spec: Any, published: dict[str, Any], real: pd.Series, synth: pd.Series) -> dict[str, Any]:
    kind = published["type"]
    if kind == "categorical":
        return _categorical_figures(published, real, synth)
    if kind == "boolean":
        return {"type": kind, "tvd": _tvd(real.astype(object).astype(str), synth.astype(object).astype(str))}
    if kind == "datetime":
        real_x, synth_x = (pd.to_datetime(v, utc=True).astype("datetime64[ns, UTC]").astype("int64").where(v.notna())
                           / 1e9 for v in (real, synth))
        low, high = (pd.Timestamp(v).value / 1e9 for v in published["bounds"])
    else:
        real_x, synth_x = real.astype(float), synth.astype(float)
        low, high = published["bounds"]
    return _numeric_figures(kind, real_x, synth_x, float(low), float(high))


def _numeric_figures(kind: str, real: pd.Series, synth: pd.Series, low: float, high: float) -> dict[str, Any]:
    r, s = real.dropna().to_numpy(float), synth.dropna().to_numpy(float)
    out: dict[str, Any] = {"type": kind, "bounds": [low, high]}
    out["clamped"] = float(np.mean((r < low) | (r > high))) if r.size else 0.0
    if r.size == 0:
        return out
    edges = np.unique(np.quantile(r, np.linspace(0, 1, 21)))
    real_bins = _bin_labels(real, edges)
    synth_bins = _bin_labels(synth, edges)
    out["tvd"] = _tvd(real_bins, synth_bins)
    out["zeros_real"] = float(np.mean(r == 0))
    out["zeros_synth"] = float(np.mean(s == 0)) if s.size else None
    span = float(np.quantile(r, 0.9) - np.quantile(r, 0.1)) or 1.0
    for q in (10, 50, 90):
        out[f"p{q}_error"] = float(abs(np.quantile(s, q / 100) - np.quantile(r, q / 100)) / span) if s.size else None
    return out


def _bin_labels(values: pd.Series, edges: np.ndarray) -> pd.Series:
    x = values.to_numpy(float)
    codes = np.searchsorted(edges[1:-1], x, side="right").astype(object)
    codes[np.isnan(x)] = "null"
    return pd.Series(codes.astype(str))


def _categorical_figures(published: dict[str, Any], real: pd.Series, synth: pd.Series) -> dict[str, Any]:
    r = real.astype(object).where(real.notna(), "(null)").astype(str)
    s = synth.astype(object).where(synth.notna(), "(null)").astype(str)
    shares = r[r != "(null)"].value_counts() / max(len(r), 1)
    common = set(shares[shares >= LEVEL_SHARE].index)
    kept = set(published["categories"])
    return {"type": "categorical", "tvd": _tvd(r, s), "levels": int(shares.size), "common_levels": len(common),
            "common_kept": len(common & kept), "kept": len(kept),
            "other_synth": float(np.mean(s == "__other__"))}


def _tvd(real: pd.Series, synth: pd.Series) -> float:
    p = real.value_counts(normalize=True)
    q = synth.value_counts(normalize=True)
    keys = p.index.union(q.index)
    return float(0.5 * np.abs(p.reindex(keys, fill_value=0) - q.reindex(keys, fill_value=0)).sum())


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per column, the median over repeats of each figure; per table, the headline figures."""
    columns: dict[str, dict[str, Any]] = {}
    for name in runs[0]["columns"]:
        figures = [r["columns"][name] for r in runs]
        merged: dict[str, Any] = {"type": figures[0]["type"]}
        for key in figures[0]:
            values = [f.get(key) for f in figures if isinstance(f.get(key), int | float)]
            if values and key != "type":
                merged[key] = statistics.median(values)
        columns[name] = merged
    numeric = [c for c in columns.values() if "clamped" in c]
    categorical = [c for c in columns.values() if c["type"] == "categorical"]
    per_run_tvd = [statistics.mean(f["tvd"] for f in r["columns"].values() if "tvd" in f) for r in runs]
    return {
        "tvd_1way_mean": statistics.median(per_run_tvd),
        "worst_clamped": max((c["clamped"] for c in numeric), default=0.0),
        "common_levels": sum(c["common_levels"] for c in categorical),
        "common_kept": sum(c["common_kept"] for c in categorical),
        "wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
        "columns": columns,
    }


def render(table: str, summary: dict[str, Any], mst: dict[str, Any] | None = None) -> str:
    head = f" (MST given the true domains: {mst['tvd_1way_mean']:.3f})" if mst else ""
    lines = [f"### {table}: mean 1-way TVD {summary['tvd_1way_mean']:.3f}{head}, worst clamped share "
             f"{summary['worst_clamped']:.1%}, common levels kept {summary['common_kept']:g}/{summary['common_levels']}, "
             f"run {summary['wall_seconds']:.1f} s", "",
             "| column | type | TVD | MST TVD | clamped | zeros real/synth (MST) | p10/p50/p90 error (MST) | common kept "
             "| other |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, c in summary["columns"].items():
        m = mst["columns"][name] if mst else {}
        zeros = f"{c['zeros_real']:.1%} / {c['zeros_synth']:.1%}" if "zeros_synth" in c else ""
        zeros += f" ({m['zeros_synth']:.1%})" if "zeros_synth" in m else ""
        pct = "/".join(f"{c[k]:.2f}" for k in ("p10_error", "p50_error", "p90_error")) if "p50_error" in c else ""
        pct += " (" + "/".join(f"{m[k]:.2f}" for k in ("p10_error", "p50_error", "p90_error")) + ")" \
            if "p50_error" in m else ""
        mst_tvd = f"{m['tvd']:.3f}" if "tvd" in m else ""
        kept = f"{c['common_kept']:g}/{c['common_levels']:g} ({c['kept']:g} kept)" if "common_kept" in c else ""
        other = f"{c['other_synth']:.1%}" if "other_synth" in c else ""
        clamped = f"{c['clamped']:.1%}" if "clamped" in c else ""
        lines.append(f"| {name} | {c['type']} | {c.get('tvd', float('nan')):.3f} | {mst_tvd} | {clamped} | {zeros} | {pct} | "
                     f"{kept} | {other} |")
    return "\n".join(lines) + "\n"


def use_fine_method(method: str) -> None:
    """New graphical fits in this process use `method` (one a stored release may name), as releases
    fitted with it did: the before/after of a change to the fine marginals, measured in one session."""
    from synthgate.privacy.models import graphical

    if method not in graphical.FINE_METHODS:
        raise SystemExit(f"--fine: one of {', '.join(graphical.FINE_METHODS)}")
    original = graphical.GraphicalModel.__init__

    def init(self: Any, **kwargs: Any) -> None:
        original(self, **kwargs)
        self.fine_method_ = method

    graphical.GraphicalModel.__init__ = init  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity.init_path", description=__doc__.split("\n")[0])
    parser.add_argument("--tables", default="acs12,health_insurance:2000,mpls_stops:2000")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=None, help="write PREFIX.json and PREFIX.md")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--mst", action="store_true", help="also MST given the true domains (its own venv)")
    parser.add_argument("--mst-bins", type=int, default=20)
    parser.add_argument("--fine", default=None, help="fit ordered columns' fine marginals with this stored method "
                        "(projected, split, heaps) instead of the default, to compare methods in one session")
    args = parser.parse_args(argv)
    if args.fine:
        use_fine_method(args.fine)
    if args.mst:
        from bench.fidelity.harness import ensure_mst_venv

        ensure_mst_venv()
    WORK.mkdir(parents=True, exist_ok=True)
    folder = WORK / time.strftime("%Y%m%dT%H%M%S")
    folder.mkdir()
    report: dict[str, Any] = {"epsilon": args.epsilon, "repeats": args.repeats, "tables": {}}
    text = []
    try:
        for item in args.tables.split(","):
            table, _, size = item.partition(":")
            runs, mst_runs = [], []
            for seed in range(1, args.repeats + 1):
                data = subsample(table, int(size) if size else None, seed, folder)
                runs.append(run_init_path(data, args.epsilon, seed, folder))
                if args.mst:
                    mst_runs.append(run_mst_true_domains(runs[-1], args.epsilon, seed, folder, args.mst_bins))
                for key in ("config", "train"):
                    runs[-1].pop(key)
            summary = summarise(runs)
            mst = summarise([{**r, "wall_seconds": r["wall_seconds"] or 0.0} for r in mst_runs]) if mst_runs else None
            report["tables"][item] = {"summary": summary, "runs": runs, "mst": mst}
            text.append(render(item, summary, mst))
            print(text[-1], flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.out:
        Path(f"{args.out}.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        header = (f"# init path at epsilon {args.epsilon:g}, {args.repeats} repeat(s) (medians)\n\n"
                  f"`.venv/bin/python -m bench.fidelity.init_path --tables {args.tables} --epsilon {args.epsilon:g} "
                  f"--repeats {args.repeats}{' --mst' if args.mst else ''}{f' --fine {args.fine}' if args.fine else ''} "
                  f"--out {args.out}`\n\n")
        Path(f"{args.out}.md").write_text(header + "\n".join(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
