"""Rebalancing by `sample --balance`: does a classifier trained on a balanced synthetic table do
better on the real minority class than one trained on the plain release? (health_insurance)

Run from the repository root:

    .venv/bin/python -m bench.balance [--repeats 3]

A fixed public 20% of the real table (split seed 0) is set aside as the real test set; the rest is
the source of a release of the reviewed config (configs/health_insurance.yaml, epsilon 1, graphical
with AIM), one release per seed 1..N, each with a fresh ledger. From each release, `Release.sample`
draws as many rows as the release holds, balanced over the target (post-processing: no data, no
spend). The same gradient-boosting classifier (quality/metrics/tstr.py) is trained on the plain
release, on the balanced sample, and on the real training rows, and scored on the real test rows:
balanced accuracy adjusted for chance (0 = chance, 1 = perfect), accuracy, and recall of each class.
Medians over the seeds. Writes bench/balance/results.json and results.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import REPO, config_path, fmt, load_raw, machine_info, median, render_table

TABLE = "health_insurance"
TARGETS = ("selfemp", "insurance")
NUMERIC = ("age", "family")
OUT = REPO / "bench" / "balance"


def _scores(train: pd.DataFrame, test: pd.DataFrame, target: str, seed: int) -> dict[str, float]:
    from synthgate.quality.metrics.tstr import adjusted_balanced_accuracy, synthetic_predictor

    categorical = [c for c in test.columns if c not in NUMERIC]
    right = synthetic_predictor(train, target=target, categorical=categorical, numeric=list(NUMERIC),
                                rng_seed=seed, tolerance=0.0)(test)
    truth = test[target].astype(str).to_numpy()
    levels = sorted(set(truth))  # a binary target: a wrong prediction is the other class
    predicted = np.where(right, truth, np.where(truth == levels[0], levels[1], levels[0]))
    out = {"balanced_accuracy_adjusted": adjusted_balanced_accuracy(truth, predicted),
           "accuracy": float(np.mean(right))}
    out.update({f"recall_{level}": float(np.mean(right[truth == level])) for level in levels})
    return out


def run(repeats: int) -> dict[str, Any]:
    from synthgate.pipeline.config import config_from_mapping
    from synthgate.pipeline.release_package import Release
    from synthgate.pipeline.run import run_release
    from synthgate.privacy.ledger import Ledger

    real = pd.read_csv((config_path(TABLE).parent / load_raw(TABLE)["source"]["path"]).resolve())
    test = real.sample(frac=0.2, random_state=0)
    train = real.drop(test.index)
    per_seed: list[dict[str, Any]] = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-balance-"))
    try:
        source = scratch / "train.csv"
        train.to_csv(source, index=False)
        for seed in range(1, repeats + 1):
            raw = load_raw(TABLE)
            raw["source"] = {"path": str(source)}
            raw["privacy"]["lifetime_epsilon"] = 100.0
            config = config_from_mapping(raw, path=config_path(TABLE), where="bench.balance")
            out = scratch / f"run-{seed}"
            result = run_release(config, out=out, seed=seed, ledger=Ledger(scratch / f"ledger-{seed}.sqlite"))
            release = Release.open(out)
            plain = pd.read_parquet(release.package / "synthetic.parquet")
            row: dict[str, Any] = {"seed": seed, "decision": result.decision, "rows": len(plain)}
            for target in TARGETS:
                started = time.perf_counter()
                balanced = release.sample(len(plain), balance=target, seed=seed, allow_held=True).to_pandas()
                row[f"{target}_sample_seconds"] = time.perf_counter() - started
                row[f"{target}_counts"] = balanced[target].value_counts().to_dict()
                row[f"{target}_plain_share"] = plain[target].value_counts(normalize=True).to_dict()
                row[target] = {"real": _scores(train, test, target, seed), "plain": _scores(plain, test, target, seed),
                               "balanced": _scores(balanced, test, target, seed)}
            per_seed.append(row)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary = {target: {trained_on: {metric: median([r[target][trained_on][metric] for r in per_seed])
                                     for metric in per_seed[0][target][trained_on]}
                        for trained_on in ("real", "plain", "balanced")} for target in TARGETS}
    return {"table": TABLE, "epsilon": 1.0, "repeats": repeats, "test_rows": len(test), "train_rows": len(train),
            "median": summary, "runs": per_seed, "machine": machine_info()}


def render(results: dict[str, Any]) -> str:
    lines = [f"# bench.balance: rebalanced synthetic vs plain release ({results['table']}, epsilon 1)", "",
             f"Medians over {results['repeats']} releases (seeds 1..{results['repeats']}); real test set: a fixed "
             f"20% ({results['test_rows']:,} rows) never given to the release. Command: "
             "`.venv/bin/python -m bench.balance`. Classifier: HistGradientBoosting (quality/metrics/tstr.py).", ""]
    for target, by in results["median"].items():
        metrics = list(by["real"])
        rows = [[trained_on, *(fmt(by[trained_on][m]) for m in metrics)] for trained_on in ("real", "plain", "balanced")]
        lines += [f"## target `{target}`", "", render_table(["trained on", *metrics], rows, markdown=True), ""]
        shares = [r[f"{target}_plain_share"] for r in results["runs"]]
        counts = [r[f"{target}_counts"] for r in results["runs"]]
        seconds = median([r[f"{target}_sample_seconds"] for r in results["runs"]])
        lines += [f"Plain release shares (seed 1): " + ", ".join(f"{k} {v:.3f}" for k, v in shares[0].items())
                  + f"; balanced sample counts (seed 1): {counts[0]}; median sampling time {fmt(seconds)} s.", ""]
    lines += ["`real`: the same classifier on the real training rows (imbalanced, as the population). "
              "`plain`: on the release's synthetic table. `balanced`: on `Release.sample(n, balance=target)` with n "
              "the release's row count. Balancing trades accuracy (the majority class is no longer favoured) for "
              "minority recall and balanced accuracy. Each invocation draws fresh DP noise, so figures move between "
              "invocations; the medians are over the seeds of one.", "",
              "Balanced rows come from `Release.sample(n, balance=target)`: post-processing of the release's DP "
              "measurements, no spend. They do not reflect the population's shares (by design).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    results = run(parser.parse_args().repeats)
    (OUT / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    (OUT / "results.md").write_text(render(results), encoding="utf-8")
    print(render(results))


if __name__ == "__main__":
    main()
