"""anonymeter's singling-out, linkability and inference evaluators on one synthetic table.

Runs in its own venv (bench/.work/anonymeter, created by `python -m bench.privacy --anonymeter
TABLE`), because anonymeter pins its own pandas/numpy/polars; it imports nothing from synthgate.
Reads three Parquet files of codes (original training rows, synthetic rows, control rows = real
rows not used for training) and a JSON spec; writes a JSON of risks with 95% intervals.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from anonymeter.evaluators import InferenceEvaluator, LinkabilityEvaluator, SinglingOutEvaluator


def _risk(evaluator: Any) -> dict[str, Any]:
    risk = evaluator.risk(confidence_level=0.95)
    results = evaluator.results(confidence_level=0.95)
    return {"risk": float(risk.value), "ci": [float(risk.ci[0]), float(risk.ci[1])],
            "attack_rate": float(results.attack_rate.value), "control_rate": float(results.control_rate.value),
            "baseline_rate": float(results.baseline_rate.value)}


def evaluate(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    n_attacks = int(spec["n_attacks"])
    out: dict[str, Any] = {}
    start = time.perf_counter()
    singling = SinglingOutEvaluator(ori=ori, syn=syn, control=control, n_attacks=n_attacks, seed=spec["seed"])
    out["singling_out_univariate"] = _risk(singling.evaluate(mode="univariate"))
    linkability = LinkabilityEvaluator(ori=ori, syn=syn, control=control, n_attacks=n_attacks,
                                       aux_cols=(spec["link_a"], spec["link_b"]), n_neighbors=10)
    out["linkability"] = _risk(linkability.evaluate(n_jobs=1))
    secret = spec["secret"]
    inference = InferenceEvaluator(ori=ori, syn=syn, control=control, n_attacks=n_attacks, secret=secret,
                                   aux_cols=[c for c in ori.columns if c != secret])
    out["inference"] = _risk(inference.evaluate(n_jobs=1))
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("ori", "syn", "control", "spec", "out"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    frames = [pd.read_parquet(p) for p in (args.ori, args.syn, args.control)]
    args.out.write_text(json.dumps(evaluate(*frames, spec)), encoding="utf-8")


if __name__ == "__main__":
    main()
