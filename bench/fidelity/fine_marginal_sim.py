"""Fine 1-way estimators of ordered columns on real columns at the init path's noise, without a run.

    .venv/bin/python -m bench.fidelity.fine_marginal_sim --sigma 37 --out bench/fidelity/fine_marginal_sim

A 1,600-row sample of a real column is binned as the codec bins it (64 bins over the given bounds; the
zero code of its own where the bounds hold 0), Gaussian noise of sd `sigma` is added to every cell
(`sigma` 37: acs12's init path at epsilon 1, 13 columns), and each estimator's fine distribution is
compared with the true one: TVD over the codes, and over about 20 contiguous groups of equal real mass
(as bench/fidelity scores). Medians of `--reps` draws. Estimators: `projected` (releases before the
split histogram: trim at the noise line, simplex projection), `isotonic` (increments of the isotonic
fit of the noisy CDF), `split` (groups.split_histogram, then the simplex projection).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
COLUMNS = (("acs12", "age", 0, 127, True), ("acs12", "income", 0, 2**19, True), ("acs12", "hrs_work", 0, 127, True),
           ("acs12", "time_to_work", 0, 255, True), ("health_insurance", "age", 0, 127, True),
           ("health_insurance", "family", 0, 31, True), ("mpls_stops", "lat", 44.8, 45.2, False))


def true_counts(values: np.ndarray, low: float, high: float, integer: bool) -> np.ndarray:
    from synthgate.pipeline.encode import NumericCodec

    codec = NumericCodec("x", (low, high), bins=64, integer=integer, nulls=False, zero=True)
    return np.bincount(codec.encode(pd.Series(values)), minlength=codec.n_values).astype(float)


def projected(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from synthgate.privacy.models.groups import noise_line, project_to_total

    y = noisy.copy()
    significant = np.flatnonzero(y >= noise_line(sigma, y.size))
    if significant.size:
        y[: significant[0]], y[significant[-1] + 1:] = 0.0, 0.0
    return project_to_total(y, max(float(y.sum()), 1.0))


def isotonic(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from sklearn.isotonic import isotonic_regression

    cdf = isotonic_regression(np.cumsum(noisy), y_min=0.0)
    return np.diff(cdf, prepend=0.0).clip(0.0, None)


def split(noisy: np.ndarray, sigma: float) -> np.ndarray:
    from synthgate.privacy.models.groups import project_to_total, split_histogram

    return project_to_total(split_histogram(noisy, sigma), max(float(noisy.sum()), 1.0))


ESTIMATORS = {"projected": projected, "isotonic": isotonic, "split": split}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity.fine_marginal_sim")
    parser.add_argument("--sigma", type=float, default=37.0)
    parser.add_argument("--rows", type=int, default=1600)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, list[float]]] = {}
    lines = [f"sigma {args.sigma:g}, {args.rows} rows, medians of {args.reps} draws: fine TVD / 20-group TVD", "",
             "| column | " + " | ".join(ESTIMATORS) + " |", "| --- |" + " --- |" * len(ESTIMATORS)]
    for table, column, low, high, integer in COLUMNS:
        values = pd.read_csv(DATASETS / f"{table}.csv", usecols=[column])[column].dropna().to_numpy(float)
        values = rng.choice(values, size=min(args.rows, values.size), replace=False)
        true = true_counts(values, low, high, integer)
        p = true / true.sum()
        group = np.minimum((np.cumsum(p) * 20 - 1e-9).astype(int), 19)
        row = {}
        for name, estimator in ESTIMATORS.items():
            fine, coarse = [], []
            for _ in range(args.reps):
                q = estimator(true + rng.normal(0, args.sigma, true.size), args.sigma)
                q = q / q.sum() if q.sum() > 0 else np.full(q.size, 1.0 / q.size)
                fine.append(0.5 * np.abs(q - p).sum())
                coarse.append(0.5 * np.abs(np.bincount(group, q, 20) - np.bincount(group, p, 20)).sum())
            row[name] = [float(np.median(fine)), float(np.median(coarse))]
        results[f"{table}.{column}"] = row
        lines.append(f"| {table}.{column} | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in row.values()) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(f"{args.out}.json").write_text(json.dumps({"settings": vars(args), "results": results}, indent=1),
                                            encoding="utf-8")
        Path(f"{args.out}.md").write_text(f"# Fine 1-way estimators, simulated\n\n`.venv/bin/python -m "
                                          f"bench.fidelity.fine_marginal_sim --sigma {args.sigma:g} --out {args.out}`"
                                          f"\n\n{text}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
