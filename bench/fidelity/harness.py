"""Fidelity benchmark: synthgate's models against the MST baseline, same splits, same epsilon.

Run from the repository root with synthgate's venv:

    .venv/bin/python -m bench.fidelity [--tables a,b] [--epsilons 0.3,1,3]
                                       [--methods independent,copula,graphical,MST] [--repeats 1]

For each table, repeat (seed = 1, 2, ...) and epsilon:

1. synthgate: the table's shipped config with model.kind, privacy.epsilon and a large lifetime
   budget overridden, released by `run_release` into a fresh folder with a fresh temporary
   ledger and the repeat's seed. The gate may HOLD; the synthetic file is used either way.
   `graphical` runs first: its manifest's published schema is the reference DP domain for the
   columns whose config says `estimate` (see below).
2. MST (bench/fidelity/mst_baseline.py, private-pgm's `mbi` from PyPI in its own venv
   bench/.work/mst, created on first use): the *same training rows* (the holdout split is
   reproduced with synthgate's own iter_batches/iter_split and the same seed, and checked against
   the training row count of synthgate's report), discretised over the config's public domain
   (numeric columns to --mst-bins equal-width bins, 20 by default; integer columns with at most
   that many values keep one code per value; categoricals as codes; nulls a level of their own),
   run as a subprocess; its synthetic codes are decoded here uniformly inside each bin.
3. Every synthetic table, and as a reference the real holdout rows, scored by one function
   (bench/fidelity/evaluate.py).

Privacy budget parity. Every method gets the same (epsilon, delta) under zCDP with the same
CKS conversion. On tables whose config estimates a domain under DP (acs12 income bounds,
census2000 puma, mpls_stops neighborhood), synthgate spends `privacy.domain_share` of rho (and
half of delta) on it; MST is then given the rest (synthgate's planned model budget) plus that
run's published DP domain, so both spend the same in total. Elsewhere MST gets all of rho.

Writes bench/fidelity/results.json (settings, machine, every run, medians) and
bench/fidelity/results.md (per table and epsilon, methods side by side; targets summary).
Work files go to bench/.work/fidelity (git-ignored) and are removed unless --keep.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench._common import REPO, TABLES, config_path, fmt, load_raw, machine_info, object_columns
from bench.fidelity.init_path import subsample

GRAPHICAL, GRAPHICAL_AIM = "graphical", "graphical-aim"  # graphical-aim: model.selection = aim
SYNTHGATE_METHODS = ("independent", "copula", GRAPHICAL, GRAPHICAL_AIM)
MST_FINE = "MST-fine"  # sensitivity check: MST on the evaluation codec's own bins (the configs' bins)
DP_CTGAN = "DP-CTGAN"  # smartnoise-synth's DPCTGAN on MST's codes: opt-in (about a minute a run on 2 cores)
METHODS = (*SYNTHGATE_METHODS, "MST", MST_FINE, DP_CTGAN)
DEFAULT_METHODS = (*SYNTHGATE_METHODS, "MST", MST_FINE)
EPSILONS = (0.3, 1.0, 3.0)
HERE = Path(__file__).resolve().parent
WORK = REPO / "bench" / ".work" / "fidelity"
MST_VENV = REPO / "bench" / ".work" / "mst"
MST_SCRIPT = HERE / "mst_baseline.py"
MST_REQUIREMENTS = ("mbi==2.0.0", "pyarrow")
CTGAN_VENV = REPO / "bench" / ".work" / "ctgan"
CTGAN_SCRIPT = HERE / "ctgan_baseline.py"
# torch 2.13.0: the CPU build this machine holds (a bare 'torch' would fetch a CUDA build of several GB)
CTGAN_REQUIREMENTS = ("torch==2.13.0", "smartnoise-synth==1.0.8", "pyarrow", "packaging")
JSON_OUT = HERE / "results.json"
MD_OUT = HERE / "results.md"
LIFETIME_EPSILON = 1000.0
HOLDOUT_FRACTION = 0.2
REFERENCE = "real holdout"
FIGURES = ("tvd_1way_mean", "tvd_2way_mean", "tvd_3way_mean", "correlation_error", "tstr_ratio",
           "near_match_share", "fit_seconds", "sample_seconds", "tstr_score_real", "tstr_score_synth",
           "near_match_excess", "tvd_2way_max", "tvd_3way_max", "correlation_frobenius")


# --- configs and real data -------------------------------------------------------------------------
# `TABLE:N` cases: the N-row random subsample of TABLE drawn for the current repeat (set by main()).
SUBSAMPLES: dict[str, Path] = {}


def make_config(table: str, kind: str, epsilon: float) -> Any:
    """The shipped config of `table` (for `TABLE:N`, TABLE's config reading the repeat's subsample)."""
    from synthgate.pipeline.config import config_from_mapping

    name, _, size = table.partition(":")
    raw = copy.deepcopy(load_raw(name))
    if size:
        raw["source"] = {"path": str(SUBSAMPLES[table])}
        raw["dataset"] = f"{raw['dataset']}_{size}"
    model = raw.setdefault("model", {})
    model["kind"], selection = (GRAPHICAL, "aim") if kind == GRAPHICAL_AIM else (kind, model.get("selection", "mst"))
    if model["kind"] == GRAPHICAL:
        model["selection"] = selection
    privacy = raw.setdefault("privacy", {})
    privacy["epsilon"] = float(epsilon)
    privacy["lifetime_epsilon"] = LIFETIME_EPSILON
    raw.setdefault("holdout", {})["fraction"] = HOLDOUT_FRACTION
    path = config_path(name)
    return config_from_mapping(raw, path=path, where=f"{path} (bench.fidelity overrides)")


def real_split(config: Any, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and holdout rows exactly as run_release splits them: the same loader, and the split
    key that the benchmark hands run_release (a real run's key is secret and never stored)."""
    from synthgate.pipeline.load import iter_batches, iter_split
    from synthgate.pipeline.split import RowKeys, SplitKey

    if config.holdout_path is not None:
        raise SystemExit(f"{config.dataset}: a holdout file is not supported by this benchmark")
    train, holdout = [], []
    batches = iter_batches(config.source_path, config.source_format, config.attributes,
                           identifiers=config.identifiers)
    key = SplitKey.reproducible_for_benchmarks(seed)
    for tr, ho in iter_split(batches, row_keys=RowKeys(key, config.holdout.fraction)):
        train.append(tr)
        holdout.append(ho)
    return object_columns(pd.concat(train, ignore_index=True)), object_columns(pd.concat(holdout, ignore_index=True))


def _estimated_input(spec: Any, published: dict[str, Any]) -> dict[str, Any]:
    if spec.type == "categorical":
        return {"categories": tuple(published["categories"])}
    low, high = published["bounds"]
    if spec.type == "datetime":
        return {"bounds": (pd.Timestamp(low), pd.Timestamp(high))}
    return {"bounds": (float(low), float(high))}


def table_codec(config: Any, schema: dict[str, Any] | None, *, bins: int | None = None) -> Any:
    """Codecs over the config's public domains; `estimate` columns from a run's published schema.

    `bins=None`: the config's own bins (synthgate's evaluation resolution); a number: that many
    bins for every numeric column, ignoring per-column overrides (the MST discretisation).
    """
    from synthgate.pipeline.encode import TableCodec, codec_from_spec

    codecs = []
    for spec in config.attributes:
        estimated = None
        if spec.is_estimated:
            if schema is None:
                raise RuntimeError(f"column '{spec.name}' needs a published DP domain from a synthgate run")
            estimated = _estimated_input(spec, schema[spec.name])
        if bins is None:
            codecs.append(codec_from_spec(spec, bins=config.model.bins, estimated=estimated))
        else:
            codecs.append(codec_from_spec(spec.model_copy(update={"bins": None}), bins=bins, estimated=estimated))
    return TableCodec(codecs)


# --- synthgate --------------------------------------------------------------------------------------
def run_synthgate(table: str, kind: str, epsilon: float, seed: int, scratch: Path) -> dict[str, Any]:
    from synthgate.pipeline.run import run_release
    from synthgate.privacy.ledger import Ledger

    config = make_config(table, kind, epsilon)
    name = f"{table}-{kind}-eps{epsilon:g}-seed{seed}"
    start = time.perf_counter()
    from synthgate.pipeline.run import RunOptions
    from synthgate.pipeline.split import SplitKey

    result = run_release(config, out=scratch / name, ledger=Ledger(scratch / f"{name}.ledger.sqlite"), seed=seed,
                         options=RunOptions(split_key=SplitKey.reproducible_for_benchmarks(seed)))
    wall = time.perf_counter() - start
    folder = "release" if result.released else "held"
    package = Path(result.paths[folder])
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    report = json.loads(Path(result.paths["report_json"]).read_text(encoding="utf-8"))
    synthetic = pq.read_table(package / "synthetic.parquet")
    timings = result.timings
    return {
        "config": config,
        "synthetic": synthetic,
        "schema": manifest["schema"],
        "info": {
            "decision": result.decision,
            "reasons": result.reasons,
            "timings": timings,
            "wall_seconds": round(wall, 3),
            "fit_seconds": timings.get("fit"),
            "sample_seconds": timings.get("sample"),
            "spent": {k: result.spent.get(k) for k in ("epsilon", "delta", "rho")},
            "structure": manifest["model"].get("structure"),
            "training_rows_reported": (report.get("rows") or {}).get("training"),
            "synthgate_figures": result.figures,
            "warnings": result.warnings,
        },
    }


def model_rho(config: Any) -> float | None:
    """The rho synthgate's plan leaves to the model for this config (None under pure epsilon)."""
    from synthgate.pipeline.plan import plan_budget
    from synthgate.privacy.accountant import Budget

    plan = plan_budget(config, Budget(config.privacy.epsilon, config.privacy.delta))
    return plan.model_cost if plan.unit == "rho" else None


# --- MST and DP-CTGAN: baselines on the same training codes, each in its own venv ----------------------
def mst_python() -> Path:
    return MST_VENV / "bin" / "python"


def ensure_venv(venv: Path, requirements: tuple[str, ...], probe: str) -> dict[str, Any]:
    """Create `venv` with `requirements` from PyPI, once; `probe` prints the version that is reported."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", probe]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0:
            return {"venv": str(venv), "version": found.stdout.strip(), "created": False}
    print(f"creating the venv {venv} (pip install {' '.join(requirements)}) ...", flush=True)
    subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
    found = subprocess.run(check, capture_output=True, text=True, check=True)
    return {"venv": str(venv), "version": found.stdout.strip(), "created": True}


def ensure_mst_venv() -> dict[str, Any]:
    """bench/.work/mst with private-pgm's mbi from PyPI."""
    return ensure_venv(MST_VENV, MST_REQUIREMENTS,
                       "import mbi, pyarrow, importlib.metadata as m; print(m.version('mbi'))")


def ensure_ctgan_venv() -> dict[str, Any]:
    """bench/.work/ctgan with smartnoise-synth (DPCTGAN) and the CPU build of torch."""
    return ensure_venv(CTGAN_VENV, CTGAN_REQUIREMENTS,
                       "import snsynth, torch, pyarrow, importlib.metadata as m; print(m.version('smartnoise-synth'))")


def run_mst(config: Any, train: pd.DataFrame, schema: dict[str, Any] | None, *, epsilon: float, seed: int,
            bins: int | None, iters: int, select_iters: int, scratch: Path, label: str = "MST",
            rho: float | None = None) -> dict[str, Any]:
    """`bins`: equal-width bins per numeric column; None: the config's bins (synthgate's codec).
    `rho`: MST's budget; None: what synthgate's plan leaves to the model for this config."""
    rho = model_rho(config) if rho is None else rho
    return run_on_codes(label, config, train, schema, epsilon=epsilon, seed=seed, bins=bins, scratch=scratch,
                        extra={"rho": rho, "iters": iters, "select_iters": select_iters})


def run_dp_ctgan(config: Any, train: pd.DataFrame, schema: dict[str, Any] | None, *, epsilon: float, seed: int,
                 bins: int, scratch: Path) -> dict[str, Any]:
    """DP-CTGAN on MST's codes, with the whole (epsilon, delta) (it pays for no domain either)."""
    return run_on_codes(DP_CTGAN, config, train, schema, epsilon=epsilon, seed=seed, bins=bins, scratch=scratch,
                        extra={})


def run_on_codes(label: str, config: Any, train: pd.DataFrame, schema: dict[str, Any] | None, *, epsilon: float,
                 seed: int, bins: int | None, scratch: Path, extra: dict[str, Any]) -> dict[str, Any]:
    """Encode the training rows over the public domain, run the baseline's script in its venv on the codes,
    and decode its synthetic codes (uniformly inside each bin)."""
    python, script = (CTGAN_VENV / "bin" / "python", CTGAN_SCRIPT) if label == DP_CTGAN else (mst_python(), MST_SCRIPT)
    codec = table_codec(config, schema, bins=bins)
    name = f"{config.dataset}-{label}-eps{epsilon:g}-seed{seed}"
    folder = scratch / name
    folder.mkdir(parents=True)
    start = time.perf_counter()
    codes = codec.encode(train)
    pq.write_table(pa.table({c: codes[:, j] for j, c in enumerate(codec.columns)}), folder / "train_codes.parquet")
    spec = {"columns": list(codec.columns), "sizes": [int(s) for s in codec.domain.sizes],
            "epsilon": epsilon, "delta": config.privacy.delta, "seed": seed, **extra}
    (folder / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    prepare_seconds = time.perf_counter() - start
    command = [str(python), str(script), "--codes", str(folder / "train_codes.parquet"),
               "--spec", str(folder / "spec.json"), "--out", str(folder / "synthetic_codes.parquet"),
               "--info", str(folder / "info.json")]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    subprocess_seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed on {name} (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
    start = time.perf_counter()
    synth_codes = pq.read_table(folder / "synthetic_codes.parquet").to_pandas().to_numpy().astype(np.int64)
    decoded = pa.Table.from_batches([codec.decode(synth_codes, np.random.default_rng([seed, 21]))])
    pq.write_table(decoded, folder / "synthetic.parquet")
    decode_seconds = time.perf_counter() - start
    info.update({
        "bins": bins if bins is not None else "config",
        "domain_sizes": dict(zip(codec.columns, (int(s) for s in codec.domain.sizes))),
        "prepare_seconds": round(prepare_seconds, 3),
        "subprocess_seconds": round(subprocess_seconds, 3),
        "decode_seconds": round(decode_seconds, 3),
        # fit: the baseline's own training (MST: measure + select + estimate, JAX compilation included);
        # sample: its sampling and writing codes, plus decoding to values and writing Parquet here.
        "sample_seconds_total": round(info["sample_seconds"] + decode_seconds, 3),
    })
    return {"synthetic": decoded, "info": info}


# --- one comparison ------------------------------------------------------------------------------
def compare(table: str, epsilon: float, seed: int, methods: list[str], real: tuple[pd.DataFrame, pd.DataFrame],
            args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    from bench.fidelity.evaluate import prepare_reference, score

    train, holdout = real
    runs: dict[str, dict[str, Any]] = {}
    schema = None
    schema_source = None
    # graphical first: its published schema is the reference DP domain for `estimate` columns.
    ordered = sorted((m for m in methods if m in SYNTHGATE_METHODS), key=lambda m: m != "graphical")
    base_config = make_config(table, "graphical", epsilon)
    needs_domain = any(c.is_estimated for c in base_config.attributes)
    if needs_domain and not ordered:  # MST alone still needs a DP domain that someone paid for
        ordered = ["graphical"]
    for kind in ordered:
        print(f"  {table} eps={epsilon:g} seed={seed} {kind} ...", end="", flush=True)
        run = run_synthgate(table, kind, epsilon, seed, scratch)
        if run["info"]["training_rows_reported"] != len(train):
            raise RuntimeError(f"{table}: split mismatch: synthgate trained on {run['info']['training_rows_reported']} "
                               f"rows, the reproduced split has {len(train)}")
        if schema is None:
            schema = run["schema"]
            schema_source = kind
        runs[kind] = run
        print(f" {run['info']['wall_seconds']:.1f}s {run['info']['decision']}", flush=True)
    config = base_config
    for label, bins in (("MST", args.mst_bins), (MST_FINE, None)):
        if label not in methods:
            continue
        print(f"  {table} eps={epsilon:g} seed={seed} {label} ...", end="", flush=True)
        mst = run_mst(config, train, schema if needs_domain else None, epsilon=epsilon, seed=seed,
                      bins=bins, iters=args.mst_iters, select_iters=args.mst_select_iters, scratch=scratch, label=label)
        runs[label] = mst
        print(f" {mst['info']['subprocess_seconds']:.1f}s", flush=True)
    if DP_CTGAN in methods:
        print(f"  {table} eps={epsilon:g} seed={seed} {DP_CTGAN} ...", end="", flush=True)
        gan = run_dp_ctgan(config, train, schema if needs_domain else None, epsilon=epsilon, seed=seed,
                           bins=args.mst_bins, scratch=scratch)
        runs[DP_CTGAN] = gan
        print(f" {gan['info']['subprocess_seconds']:.1f}s (epsilon spent {gan['info']['epsilon_spent']:.3f})",
              flush=True)

    codec = table_codec(config, schema if needs_domain else None)
    ref = prepare_reference(codec, train, holdout, target=config.utility.target, seed=seed,
                            sample_rows=config.utility.sample_rows, tstr_rows=args.tstr_rows)
    results: dict[str, Any] = {}
    for method in methods:
        run = runs[method]
        figures = score(ref, codec.canonical(run["synthetic"]))
        info = run["info"]
        if method in ("MST", MST_FINE, DP_CTGAN):
            figures["fit_seconds"] = info["fit_seconds"]
            figures["sample_seconds"] = info["sample_seconds_total"]
        else:
            figures["fit_seconds"] = info["fit_seconds"]
            figures["sample_seconds"] = info["sample_seconds"]
        results[method] = {"figures": figures, "info": info}
    # The sampling floor: real holdout rows scored as if they were a synthetic table.
    floor = score(ref, holdout, with_tstr=False, with_risk=False)
    # Its near-match figure is the holdout's own share under the same threshold (the neutral level).
    baselines = [r["figures"].get("near_match_baseline") for r in results.values()]
    floor["near_match_share"] = next((b for b in baselines if b is not None), None)
    results[REFERENCE] = {"figures": floor, "info": {"rows": len(holdout)}}
    return {
        "table": table, "epsilon": epsilon, "seed": seed,
        "training_rows": len(train), "holdout_rows": len(holdout),
        "evaluation_domain": {"sizes": dict(zip(codec.columns, (int(s) for s in codec.domain.sizes))),
                              "estimated_columns_from": schema_source if needs_domain else None},
        "methods": results,
    }


# --- aggregation and output ------------------------------------------------------------------------
def _median(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def summarise(comparisons: list[dict[str, Any]], tables: list[str], epsilons: list[float],
              methods: list[str]) -> list[dict[str, Any]]:
    cells = []
    for table in tables:
        for epsilon in epsilons:
            group = [c for c in comparisons if c["table"] == table and c["epsilon"] == epsilon]
            if not group:
                continue
            rows = {}
            for method in [*methods, REFERENCE]:
                figs = [c["methods"][method]["figures"] for c in group if method in c["methods"]]
                rows[method] = {k: _median([f.get(k) for f in figs]) for k in FIGURES}
                rows[method]["per_repeat"] = {k: [f.get(k) for f in figs] for k in FIGURES}
                if method in SYNTHGATE_METHODS:
                    rows[method]["decisions"] = [c["methods"][method]["info"]["decision"] for c in group]
            cells.append({"table": table, "epsilon": epsilon, "repeats": len(group), "medians": rows})
    return cells


def targets(cells: list[dict[str, Any]], categorical_targets: dict[str, bool]) -> list[dict[str, Any]]:
    """The issue's targets for `graphical` (and `graphical-aim`, when it ran) against MST at
    epsilon 1 (medians over repeats).

    Each check is also evaluated against MST-fine when it ran (a sensitivity check, not a target).
    """
    out = []
    for cell in cells:
        for model in (GRAPHICAL, GRAPHICAL_AIM):
            entry = _targets_for(cell, model, categorical_targets)
            if entry is not None:
                out.append(entry)
    return out


def _targets_for(cell: dict[str, Any], model: str, categorical_targets: dict[str, bool]) -> dict[str, Any] | None:
    """One table's checks for one model (None when the model or MST did not run there)."""
    medians = cell["medians"]
    if cell["epsilon"] != 1.0 or model not in medians or "MST" not in medians:
        return None
    g = medians[model]
    checks = []

    def check(name: str, key: str | None, test: Any, show: Any) -> None:
        row: dict[str, Any] = {"target": name}
        for label in ("MST", MST_FINE):
            m = medians.get(label)
            if m is None:
                continue
            values = (g, m) if key is None else (g[key], m[key])
            if key is not None and None in values:
                row[label] = {"met": None, "detail": "not computable"}
                continue
            row[label] = {"met": bool(test(*values)), "detail": show(*values)}
        if "MST" in row:
            checks.append(row)

    def diff(digits: int) -> Any:
        return lambda a, b: f"{a:.{digits}f} vs {b:.{digits}f} ({a - b:+.{digits}f})"

    check("2-way TVD <= MST's", "tvd_2way_mean", lambda a, b: a <= b, diff(4))
    check("3-way TVD <= MST's", "tvd_3way_mean", lambda a, b: a <= b, diff(4))
    check("correlation error <= MST's / 2", "correlation_error", lambda a, b: a <= b / 2,
          lambda a, b: f"{a:.3f} vs {b:.3f} (x{a / b:.2f})" if b > 0 else f"{a:.3f} vs {b:.3f}")
    check("TSTR ratio >= MST's", "tstr_ratio", lambda a, b: a >= b, diff(3))
    if categorical_targets.get(cell["table"]) and g["tstr_ratio"] is not None:
        checks.append({"target": "TSTR ratio >= 0.9 (categorical target)",
                       "MST": {"met": g["tstr_ratio"] >= 0.9, "detail": f"{g['tstr_ratio']:.3f}"}})
    if cell["table"] == "health_insurance":
        def total(x: dict[str, Any]) -> float:
            return x["fit_seconds"] + x["sample_seconds"]

        checks.append({"target": "fit+sample < 60 s",
                       "MST": {"met": total(g) < 60, "detail": f"{total(g):.2f} s"}})
        check("fit+sample faster than MST", None, lambda a, b: total(a) < total(b),
              lambda a, b: f"{total(a):.2f} s vs {total(b):.2f} s ({total(b) / total(a):.0f}x faster)")
    return {"table": cell["table"], "model": model, "epsilon": cell["epsilon"], "checks": checks}


def render_markdown(payload: dict[str, Any]) -> str:
    from bench._common import render_table

    s = payload["settings"]
    lines = [
        "# Fidelity: synthgate's models vs MST (private-pgm)",
        "",
        f"Command: `{payload['command']}` · {payload['machine']['date_utc']} · "
        f"{payload['machine']['cpu_usable']} CPUs ({payload['machine']['cpu_model']}) · "
        f"total {payload['total_seconds'] / 60:.1f} min · "
        f"repeats {s['repeats']} (seeds {s['seeds']}; medians shown) · "
        f"MST: mbi {(payload.get('mst') or {}).get('version', '-')} from PyPI, {s['mst_bins']} bins per numeric column, "
        f"{s['mst_iters']} estimation iterations."
        + (f" DP-CTGAN: smartnoise-synth {payload['dp_ctgan']['version']} on MST's codes (its epsilon as Opacus "
           "reports it, which can overshoot the target by one epoch: see bench/fidelity/ctgan_baseline.py)."
           if payload.get("dp_ctgan") else ""),
        "",
        "How to read this: every figure is computed by the benchmark itself with one scoring function "
        "(`bench/fidelity/evaluate.py`) on the same training/holdout split for every method. "
        "TVD: mean total variation distance between real-training and synthetic k-way marginals on the "
        "config's public bins (estimated domains: the DP domain of the graphical run; 3-way: the same "
        "300 random subsets for every method when there are more). Corr err: worst absolute difference "
        "of Pearson correlations between numeric columns. TSTR: score of a model trained on synthetic "
        "rows / score of one trained on real training rows, both tested on the real holdout "
        "(balanced accuracy adjusted for chance, or R² for a numeric target). Near-match: share of "
        "synthetic rows at least as close to a training row as the holdout's closest 5% (≈ 0.05 is "
        "neutral). Fit/sample s: synthgate's stage timings; MST's measure+select+estimate (JAX "
        "compilation included) and sampling + decoding. With several repeats, TSTR shows the median and "
        "(min-max). `real holdout` is not a method: it scores the held-out real rows against the training "
        "rows, i.e. the sampling floor of each figure for a sample of the holdout's size (a quarter of the "
        "training rows, so a somewhat higher floor than for a full-size synthetic table); its near-match "
        "figure is the holdout's own share, the neutral level for that column. MST-fine (sensitivity check): "
        "MST on the configs' own bins instead of 20.",
        "",
    ]
    for note in payload["notes"]:
        lines.append(f"- {note}")
    lines.append("")
    summary = payload["targets"]
    if summary:
        lines += ["## Targets at epsilon 1: graphical (and graphical-aim, when it ran) vs MST", "",
                  "Medians over the repeats. The targets are against MST as specified (20 bins per numeric "
                  "column). The last two columns repeat each check against MST-fine (MST on the configs' own "
                  "bins, i.e. the same discretisation synthgate and the evaluation use): a sensitivity check "
                  "showing which wins come from MST's coarse bins rather than from the model.", ""]
        header = ["table", "model", "target", "met", "model vs MST", "met vs MST-fine", "model vs MST-fine"]
        rows = []

        def mark(entry: dict[str, Any] | None) -> str:
            if entry is None:
                return "-"
            return "-" if entry["met"] is None else ("yes" if entry["met"] else "**no**")

        for t in summary:
            for c in t["checks"]:
                fine = c.get(MST_FINE)
                rows.append([t["table"], t.get("model", GRAPHICAL), c["target"], mark(c["MST"]), c["MST"]["detail"], mark(fine),
                             fine["detail"] if fine else "-"])
        lines += [render_table(header, rows, markdown=True), ""]
        for model in (GRAPHICAL, GRAPHICAL_AIM):
            mine = [t for t in summary if t.get("model", GRAPHICAL) == model]
            if mine:
                met = sum(1 for t in mine for c in t["checks"] if c["MST"]["met"])
                total = sum(len(t["checks"]) for t in mine)
                lines += [f"{model}: {met} of {total} target checks met (against MST).", ""]
    if payload.get("discussion"):
        lines += payload["discussion"] + [""]
    lines += ["## Results per table and epsilon", ""]
    header = ["method", "1-way TVD", "2-way TVD", "3-way TVD", "corr err", "TSTR ratio", "near-match",
              "fit s", "sample s"]
    for cell in payload["summary"]:
        target = payload["targets_by_table"].get(cell["table"])
        lines += [f"### {cell['table']}, epsilon {cell['epsilon']:g}", ""]
        if target:
            real_scores = [m.get("tstr_score_real") for m in cell["medians"].values() if m.get("tstr_score_real")]
            real = f"{real_scores[0]:.3f}" if real_scores else "-"
            lines += [f"TSTR target: `{target['target']}` ({target['task']}; the real-trained model scores {real} "
                      f"on the holdout); training rows "
                      f"{' / '.join(f'{n:,}' for n in target['training_rows'])} (per seed).", ""]
        rows = []
        for method, m in cell["medians"].items():
            label = method if method != REFERENCE else f"*{REFERENCE}*"
            tstr_text = fmt(m["tstr_ratio"], 3)
            spread = [v for v in m["per_repeat"]["tstr_ratio"] if v is not None]
            if len(spread) > 1:
                tstr_text += f" ({min(spread):.2f}-{max(spread):.2f})"
            rows.append([label, fmt(m["tvd_1way_mean"], 4), fmt(m["tvd_2way_mean"], 4), fmt(m["tvd_3way_mean"], 4),
                         fmt(m["correlation_error"], 3), tstr_text, fmt(m["near_match_share"], 3),
                         fmt(m["fit_seconds"], 2), fmt(m["sample_seconds"], 2)])
        lines += [render_table(header, rows, markdown=True), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity", description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES),
                        help="comma-separated; TABLE:N is a random N-row subsample of TABLE, drawn anew per repeat")
    parser.add_argument("--epsilons", default=",".join(f"{e:g}" for e in EPSILONS))
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated, from {', '.join(METHODS)} (default: all but {DP_CTGAN})")
    parser.add_argument("--repeats", type=int, default=1, help="seeds 1..N (default 1)")
    parser.add_argument("--mst-bins", type=int, default=20, help="equal-width bins per numeric column for MST")
    parser.add_argument("--mst-iters", type=int, default=5000, help="MST's estimation iterations (published: 5000)")
    parser.add_argument("--mst-select-iters", type=int, default=1000)
    parser.add_argument("--tstr-rows", type=int, default=20000,
                        help="rows (at most) of real training, synthetic and holdout data for TSTR")
    parser.add_argument("--keep", action="store_true", help="keep the work folder bench/.work/fidelity")
    parser.add_argument("--out", default=None, help="results prefix (default bench/fidelity/results)")
    parser.add_argument("--fine", default=None, help="graphical fits use this stored fine-marginal method "
                        "(projected, split, heaps) instead of the default: a before/after in one session")
    args = parser.parse_args(argv)
    if args.fine:
        from bench.fidelity.init_path import use_fine_method

        use_fine_method(args.fine)

    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    epsilons = [float(e) for e in args.epsilons.split(",") if e.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if unknown := [t for t in tables if t.partition(":")[0] not in TABLES
                   or not (t.partition(":")[2] or "1").isdigit()]:
        parser.error(f"unknown tables {unknown}; choose from {', '.join(TABLES)} (TABLE:N for an N-row subsample)")
    if unknown := [m for m in methods if m not in METHODS]:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    methods = [m for m in METHODS if m in methods]
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    json_out, md_out = (JSON_OUT, MD_OUT) if args.out is None else (Path(args.out + ".json"), Path(args.out + ".md"))

    start_all = time.perf_counter()
    machine = machine_info()
    mst = ensure_mst_venv() if {"MST", MST_FINE} & set(methods) else None
    ctgan = ensure_ctgan_venv() if DP_CTGAN in methods else None
    run_dir = WORK / time.strftime("%Y%m%dT%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    comparisons = []
    targets_by_table: dict[str, dict[str, Any]] = {}
    try:
        for table in tables:
            name, _, size = table.partition(":")
            if size:
                SUBSAMPLES[table] = subsample(name, int(size), 1, run_dir)
            config = make_config(table, "graphical", 1.0)
            target = config.utility.target
            is_cat = target is not None and config.column(target).type in ("categorical", "boolean")
            for repeat in range(args.repeats):
                seed = repeat + 1
                name, _, size = table.partition(":")
                if size:  # a fresh subsample per repeat, as bench.fidelity.init_path draws them
                    SUBSAMPLES[table] = subsample(name, int(size), seed, run_dir)
                    config = make_config(table, "graphical", 1.0)
                t0 = time.perf_counter()
                real = real_split(config, seed)
                print(f"{table} seed={seed}: {len(real[0]):,} training / {len(real[1]):,} holdout rows "
                      f"({time.perf_counter() - t0:.1f}s)", flush=True)
                entry = targets_by_table.setdefault(table, {"target": target, "training_rows": [],
                                                            "task": "classification" if is_cat else "regression"})
                entry["training_rows"].append(len(real[0]))
                for epsilon in epsilons:
                    scratch = run_dir / f"{table}-eps{epsilon:g}-seed{seed}"
                    scratch.mkdir(parents=True)
                    comparisons.append(compare(table, epsilon, seed, methods, real, args, scratch))
                    if not args.keep:
                        shutil.rmtree(scratch, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    total = time.perf_counter() - start_all

    summary = summarise(comparisons, tables, epsilons, methods)
    checks = targets(summary, {t: v["task"] == "classification" for t, v in targets_by_table.items()})
    command = "python -m bench.fidelity" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    payload = {
        "benchmark": "bench.fidelity",
        "description": __doc__,
        "command": command.strip(),
        "machine": machine,
        "load_average_at_end": machine_info()["load_average_1_5_15"],
        "settings": {"tables": tables, "epsilons": epsilons, "methods": methods, "repeats": args.repeats,
                     "seeds": list(range(1, args.repeats + 1)), "mst_bins": args.mst_bins,
                     "mst_iters": args.mst_iters, "mst_select_iters": args.mst_select_iters,
                     "tstr_rows": args.tstr_rows, "holdout_fraction": HOLDOUT_FRACTION,
                     "lifetime_epsilon": LIFETIME_EPSILON},
        "mst": mst,
        "dp_ctgan": ctgan,
        "total_seconds": round(total, 1),
        "notes": NOTES,
        "discussion": [],  # filled below from the previous results.md, if it has a hand-written discussion
        "targets_by_table": targets_by_table,
        "targets": checks,
        "summary": summary,
        "comparisons": comparisons,
    }
    payload["discussion"] = _previous_discussion(md_out)
    json_out.write_text(json.dumps(payload, indent=1, default=_json_default), encoding="utf-8")
    md_out.write_text(render_markdown(payload), encoding="utf-8")
    print(render_markdown(payload))
    print(f"wrote {json_out} and {md_out} in {total / 60:.1f} min")
    return 0


NOTES = [
    "Same rows: synthgate splits off its holdout inside run_release with the run's seed; the benchmark "
    "reproduces that split with synthgate's own loader (iter_batches/iter_split) and checks the training "
    "row count against each run's report. MST is fitted on exactly those training rows.",
    "Same budget: every method gets (epsilon, delta = 1e-6) under zCDP with the CKS conversion. Where a "
    "config estimates a domain under DP (acs12 income bounds, census2000 puma, mpls_stops neighborhood), "
    "synthgate spends 10% of rho (and half of delta) on it; MST gets the remaining 90% of rho and the "
    "DP domain that the graphical run published, so both spend the same in total. Elsewhere MST gets all of rho.",
    "MST discretisation: numeric/datetime columns in 20 equal-width bins over the public bounds (integer columns "
    "with at most 20 values keep one code per value), decoded uniformly inside the bin; categoricals as codes; "
    "nulls a level of their own. This ignores per-column `bins` in the configs (census2000 lweekinc: 128), as "
    "the peers do; synthgate uses the configs' bins (64 by default).",
    "Noise: synthgate draws DP noise from a secure source that no seed controls, so its figures vary from run "
    "to run even at a fixed seed; MST's noise is seeded. With one repeat, differences of a few thousandths "
    "in TVD are within run-to-run noise.",
    "Timings are wall seconds on a shared 2-core machine, one method at a time. synthgate's fit excludes "
    "loading, DP domains and encoding; MST's fit includes JAX compilation, which dominates it.",
]


def _previous_discussion(md_out: Path) -> list[str]:
    """Hand-written discussion kept between regenerations (text between the discussion markers)."""
    if not md_out.exists():
        return []
    text = md_out.read_text(encoding="utf-8")
    begin, end = "<!-- discussion -->", "<!-- /discussion -->"
    if begin in text and end in text:
        return [text[text.index(begin):text.index(end) + len(end)]]
    return []


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
