"""Fine 1-way estimators of ordered columns on real columns at the init path's noise, without a run.

    .venv/bin/python -m bench.fidelity.fine_marginal_sim --sigma 37 --out bench/fidelity/fine_marginal_sim

A 1,600-row sample of a real column (nulls included, then dropped: the null code keeps its own count,
so a column with many nulls has fewer values against the same noise) is binned as the codec bins it
(64 bins over the given bounds; the zero code of its own where the bounds hold 0; one code per integer
where the bounds span at most 64, as the init path's DP bounds [0, 63] do for acs12 hrs_work and
time_to_work), Gaussian noise of sd `sigma` is added to every cell (37: acs12's init path at epsilon 1
last session; 52 in this session's runs), and each estimator's fine distribution is compared with the
true one on the same noisy draws: TVD over the codes; over about 20 contiguous groups of equal real mass;
over 20 real-quantile bins of the decoded values (uniform inside a bin, as the codec decodes; scored as
bench.fidelity.init_path scores); and the same after `--groups` (5) groups cut as the model cuts them,
group totals from the noisy counts and the fine estimate inside each group. Medians of `--reps` draws.
Estimators: `projected` (releases before the split histogram: trim at the noise line, simplex
projection), `isotonic` (increments of the isotonic fit of the noisy CDF), `split`
(groups.split_histogram, then the simplex projection), `heaps` (groups.heap_histogram with the codec's
round codes: multiples of 5 of one integer a code). The zero code keeps its own count for split and heaps.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
COLUMNS = (("acs12", "age", 0, 127, True), ("acs12", "income", 0, 2**19, True), ("acs12", "hrs_work", 0, 127, True),
           ("acs12", "time_to_work", 0, 255, True), ("acs12", "income", 0, 2**16 - 1, True),
           ("acs12", "hrs_work", 0, 63, True), ("acs12", "time_to_work", 0, 63, True), ("health_insurance", "age", 0, 127, True),
           ("health_insurance", "family", 0, 31, True), ("mpls_stops", "lat", 44.8, 45.2, False))


def codec_for(low: float, high: float, integer: bool) -> Any:
    from synthgate.pipeline.encode import NumericCodec

    return NumericCodec("x", (low, high), bins=64, integer=integer, nulls=False, zero=True)


def true_counts(codec: Any, values: np.ndarray) -> np.ndarray:
    return np.bincount(codec.encode(pd.Series(values)), minlength=codec.n_values).astype(float)


def quantile_bin_matrix(codec: Any, values: np.ndarray) -> np.ndarray:
    """codes x 20 real-quantile bins: the share of each code's decoded values (uniform inside its bin,
    the zero code at 0) that lands in each bin, binned as bench.fidelity.init_path scores columns."""
    edges = np.unique(np.quantile(values, np.linspace(0, 1, 21)))
    matrix = np.zeros((codec.n_values, edges.size - 1))
    for code in range(codec.n_values):
        if codec.zero and code == codec.zero_index:
            atoms = np.array([0.0])
        else:
            b = code - 1 if codec.zero and code > codec.zero_index else code
            left, right = codec.edges[b], codec.edges[b + 1]
            atoms = np.arange(left, right) if codec.integer else left + (np.arange(50) + 0.5) / 50 * (right - left)
            if codec.integer and codec.zero and atoms.size > 1:
                atoms = atoms[atoms != 0]
        matrix[code] = np.bincount(np.searchsorted(edges[1:-1], atoms, side="right"), minlength=edges.size - 1) / atoms.size
    return matrix


def projected(noisy: np.ndarray, sigma: float, point: int | None = None) -> np.ndarray:
    from synthgate.privacy.models.groups import noise_line, project_to_total

    y = noisy.copy()
    significant = np.flatnonzero(y >= noise_line(sigma, y.size))
    if significant.size:
        y[: significant[0]], y[significant[-1] + 1:] = 0.0, 0.0
    return project_to_total(y, max(float(y.sum()), 1.0))


def isotonic(noisy: np.ndarray, sigma: float, point: int | None = None) -> np.ndarray:
    from sklearn.isotonic import isotonic_regression

    cdf = isotonic_regression(np.cumsum(noisy), y_min=0.0)
    return np.diff(cdf, prepend=0.0).clip(0.0, None)


def _with_point(fit: Any, noisy: np.ndarray, sigma: float, point: int | None) -> np.ndarray:
    """As the model does: the zero code keeps its own count, the fit runs over the other codes."""
    from synthgate.privacy.models.groups import project_to_total

    values = np.arange(noisy.size) != point
    fitted = noisy.clip(0.0, None)
    fitted[values] = fit(noisy[values], sigma)
    return project_to_total(fitted, max(float(noisy.sum()), 1.0))


def split(noisy: np.ndarray, sigma: float, point: int | None = None) -> np.ndarray:
    from synthgate.privacy.models.groups import split_histogram

    return _with_point(split_histogram, noisy, sigma, point)


def heaps(noisy: np.ndarray, sigma: float, point: int | None = None, round_codes: tuple[int, ...] = ()
          ) -> np.ndarray:
    from synthgate.privacy.models.groups import heap_histogram

    mask = np.zeros(noisy.size, bool)
    mask[list(round_codes)] = True
    values = np.arange(noisy.size) != point
    return _with_point(lambda y, s: heap_histogram(y, s, mask[values]), noisy, sigma, point)


def grouped(fine: np.ndarray, noisy: np.ndarray, cap: int) -> np.ndarray:
    """The model's 1-way distribution from the 1-way measurement alone: `cap` groups cut on the isotonic
    CDF of the noisy counts, group totals from the noisy counts, the fine estimate inside each group."""
    from sklearn.isotonic import isotonic_regression
    from synthgate.privacy.models.groups import quantile_groups

    basis = np.diff(isotonic_regression(np.cumsum(noisy), y_min=0.0), prepend=0.0).clip(0.0, None)
    groups = quantile_groups(basis, cap, null_code=None)
    mass = np.bincount(groups, weights=noisy).clip(0.0, None)
    inside = np.bincount(groups, weights=fine)
    share = np.where(inside[groups] > 0, fine / np.where(inside[groups] > 0, inside[groups], 1.0),
                     1.0 / np.bincount(groups)[groups])
    out = mass[groups] * share
    return out / out.sum() if out.sum() > 0 else np.full(out.size, 1.0 / out.size)


ESTIMATORS = {"projected": projected, "isotonic": isotonic, "split": split, "heaps": heaps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fidelity.fine_marginal_sim")
    parser.add_argument("--sigma", type=float, default=37.0)
    parser.add_argument("--rows", type=int, default=1600)
    parser.add_argument("--reps", type=int, default=100)
    parser.add_argument("--groups", type=int, default=5, help="group cap for the grouped score (init path: 5)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, list[float]]] = {}
    lines = [f"sigma {args.sigma:g}, {args.rows} rows (nulls dropped after sampling), medians of {args.reps} draws: "
             "fine TVD / 20-group TVD / TVD on 20 real-quantile bins of the decoded values / the same after "
             f"{args.groups} groups as the model forms them", "",
             "| column | " + " | ".join(ESTIMATORS) + " |", "| --- |" + " --- |" * len(ESTIMATORS)]
    for table, column, low, high, integer in COLUMNS:
        values = pd.read_csv(DATASETS / f"{table}.csv", usecols=[column])[column].to_numpy(float)
        values = rng.choice(values, size=min(args.rows, values.size), replace=False)
        values = values[~np.isnan(values)]  # the null code keeps its own count: only the values are scored
        codec = codec_for(low, high, integer)
        true = true_counts(codec, values)
        real_bins = quantile_bin_matrix(codec, values)
        real_q = np.bincount(np.searchsorted(np.unique(np.quantile(values, np.linspace(0, 1, 21)))[1:-1], values,
                                             side="right"), minlength=real_bins.shape[1]) / values.size
        p = true / true.sum()
        group = np.minimum((np.cumsum(p) * 20 - 1e-9).astype(int), 19)
        row = {}
        draws = [true + rng.normal(0, args.sigma, true.size) for _ in range(args.reps)]  # every estimator, same noise
        for name, estimator in ESTIMATORS.items():
            fine, coarse, decoded, model = [], [], [], []
            point = codec.zero_index if codec.zero else None
            for noisy in draws:
                q = (heaps(noisy, args.sigma, point, codec.round_codes()) if name == "heaps"
                     else estimator(noisy, args.sigma, point))
                q = q / q.sum() if q.sum() > 0 else np.full(q.size, 1.0 / q.size)
                fine.append(0.5 * np.abs(q - p).sum())
                coarse.append(0.5 * np.abs(np.bincount(group, q, 20) - np.bincount(group, p, 20)).sum())
                decoded.append(0.5 * np.abs(q @ real_bins - real_q).sum())
                model.append(0.5 * np.abs(grouped(q, noisy, args.groups) @ real_bins - real_q).sum())
            row[name] = [float(np.median(v)) for v in (fine, coarse, decoded, model)]
        results[f"{table}.{column} [{low:g}, {high:g}]"] = row
        lines.append(f"| {table}.{column} [{low:g}, {high:g}] | " + " | ".join(" / ".join(f"{v:.3f}" for v in r) for r in row.values()) + " |")
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
