"""Noise cost per million cells, before (diffprivlib, scalar) and after (OpenDP, vectorised), and whether
the new sampler's time depends on σ or on the value it draws (the timing channel issue 9 names).

Run from the repository root:

    .venv/bin/python -m bench.noise [--repeats 5] [--cells 100000] [--cells-before 4000]

- before: diffprivlib's `GaussianDiscrete` / `Geometric`, unseeded (secure RNG, as production drew them
  until this change), one Python call per cell, timed on `--cells-before` cells and scaled to a million;
- after: `DiscreteGaussianCounts` / `GeometricCounts.randomise` (OpenDP, one call per vector), timed on
  `--cells` cells and scaled to a million;
- medians of `--repeats` runs, before and after interleaved so machine load hits both alike;
- timing channel: (a) OpenDP's time per cell at σ from 1 to 10^6 (rounds in shuffled order, medians);
  (b) single-draw calls (one cell per call, same constructor, measurement built once): the Spearman
  correlation between each call's time and the |noise| it returned, for OpenDP and for diffprivlib.
Writes bench/noise_results.json and bench/noise_results.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import random
import time
from typing import Any

import numpy as np
import opendp.prelude as dp
from diffprivlib.mechanisms import Geometric
from scipy.stats import spearmanr

from bench._common import REPO, fmt, machine_info, median, render_table
from synthgate.privacy.mechanisms import DiscreteGaussianCounts, GeometricCounts, Mechanism
from synthgate.privacy.mechanisms.gaussian import _ScaledDiscreteGaussian

RESULTS_JSON = REPO / "bench" / "noise_results.json"
RESULTS_MD = REPO / "bench" / "noise_results.md"
MILLION = 1_000_000
# (name, mechanism, diffprivlib's scalar sampler for the same distribution)
GAUSSIAN_RHOS = {"discrete Gaussian σ≈7": 0.01, "discrete Gaussian σ≈71": 1e-4}
GEOMETRIC_EPSILONS = {"geometric ε=1 (scale 1)": 1.0, "geometric ε=0.1 (scale 10)": 0.1}
SIGMA_SWEEP = (1.0, 7.0, 71.0, 710.0, 7100.0, 1e6)


def _cases() -> list[tuple[str, Mechanism, Any, float]]:
    cases: list[tuple[str, Mechanism, Any, float]] = []
    for name, rho in GAUSSIAN_RHOS.items():
        mechanism = DiscreteGaussianCounts(rho=rho)
        cases.append((name, mechanism, _ScaledDiscreteGaussian(scale=mechanism.sigma), mechanism.sigma))
    for name, epsilon in GEOMETRIC_EPSILONS.items():
        geometric = GeometricCounts(epsilon=epsilon)
        cases.append((name, geometric, Geometric(epsilon=epsilon, sensitivity=1), geometric.stddev))
    return cases


def _seconds_before(reference: Any, cells: int) -> float:
    start = time.perf_counter()
    for _ in range(cells):
        reference.randomise(0)
    return time.perf_counter() - start


def _seconds_after(mechanism: Mechanism, cells: int) -> float:
    zeros = np.zeros(cells, dtype=np.int64)
    start = time.perf_counter()
    mechanism.randomise(zeros)
    return time.perf_counter() - start


def _per_million(seconds: list[float], cells: int) -> float:
    value = median([s / cells * MILLION for s in seconds])
    assert value is not None
    return value


def before_after(repeats: int, cells: int, cells_before: int) -> list[dict[str, Any]]:
    out = []
    for name, mechanism, reference, stddev in _cases():
        before, after = [], []
        for _ in range(repeats):
            before.append(_seconds_before(reference, cells_before))
            after.append(_seconds_after(mechanism, cells))
        b, a = _per_million(before, cells_before), _per_million(after, cells)
        out.append({"case": name, "stddev": stddev, "cells_before": cells_before, "cells_after": cells,
                    "before_s_per_million": b, "after_s_per_million": a, "speedup": b / a,
                    "before_runs_s": before, "after_runs_s": after})
        print(f"{name}: before {b:.1f} s/M, after {a:.1f} s/M", flush=True)
    return out


def sigma_sweep(rounds: int, cells: int) -> list[dict[str, Any]]:
    times: dict[float, list[float]] = {s: [] for s in SIGMA_SWEEP}
    for _ in range(rounds):
        order = list(SIGMA_SWEEP)
        random.shuffle(order)  # noqa: S311 - benchmark ordering, not noise
        for sigma in order:
            mechanism = DiscreteGaussianCounts(rho=1 / (2 * sigma**2))
            times[sigma].append(_seconds_after(mechanism, cells) / cells * 1e6)
    return [{"sigma": s, "us_per_cell_median": median(v), "us_per_cell_runs": v} for s, v in times.items()]


def _single_draws(draw: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    seconds, values = np.empty(n), np.empty(n)
    for i in range(n):
        start = time.perf_counter_ns()
        value = draw()
        seconds[i] = (time.perf_counter_ns() - start) / 1e3
        values[i] = abs(value)
    return seconds, values


def value_channel(n: int) -> list[dict[str, Any]]:
    out = []
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l2_distance(T="i64")
    for sigma in (7.0, 71.0):
        measurement = dp.m.make_gaussian(*space, scale=sigma)
        reference = _ScaledDiscreteGaussian(scale=sigma)
        for sampler, draw in (("OpenDP", lambda m=measurement: m([0])[0]),
                              ("diffprivlib", lambda r=reference: r.randomise(0))):
            us, values = _single_draws(draw, n)
            rho = float(spearmanr(us, values).statistic)
            out.append({"sampler": sampler, "sigma": sigma, "draws": n, "median_us_per_call": float(np.median(us)),
                        "p90_us_per_call": float(np.quantile(us, 0.9)), "spearman_time_vs_abs_noise": rho})
            print(f"{sampler} σ={sigma}: median {np.median(us):.1f} µs/call, spearman(time, |noise|) {rho:+.3f}",
                  flush=True)
    return out


def _markdown(data: dict[str, Any]) -> str:
    rows = [[r["case"], fmt(r["stddev"], 2), f"{r['cells_before']:,}", fmt(r["before_s_per_million"], 1),
             f"{r['cells_after']:,}", fmt(r["after_s_per_million"], 1), fmt(r["speedup"], 1)]
            for r in data["before_after"]]
    table = render_table(["noise", "σ", "cells timed (before)", "before s/M cells", "cells timed (after)",
                          "after s/M cells", "speed-up"], rows, markdown=True)
    sweep = render_table(["σ", "OpenDP µs/cell (median)"],
                         [[fmt(r["sigma"], 0), fmt(r["us_per_cell_median"], 2)] for r in data["sigma_sweep"]],
                         markdown=True)
    channel = render_table(["sampler", "σ", "draws", "median µs/call", "p90 µs/call", "Spearman(time, |noise|)"],
                           [[r["sampler"], fmt(r["sigma"], 0), str(r["draws"]), fmt(r["median_us_per_call"], 1),
                             fmt(r["p90_us_per_call"], 1), fmt(r["spearman_time_vs_abs_noise"], 3)]
                            for r in data["value_channel"]], markdown=True)
    m = data["machine"]
    return "\n".join([
        "# Noise: time per million cells, before and after (`.venv/bin/python -m bench.noise`)", "",
        f"Machine: {m.get('cpu_count')} CPUs ({m.get('cpu_model')}), shared with other jobs: load average "
        f"{m.get('load_average_1_5_15')} at the start, {data.get('load_average_end')} at the end; opendp "
        f"{data.get('opendp')}, diffprivlib {m.get('packages', {}).get('diffprivlib')}; {data['repeats']} repeats, "
        f"medians. Written {m.get('date_utc')}.", "",
        "Before = diffprivlib's scalar samplers, one Python call per cell (production until this change), timed on "
        "a smaller number of cells and scaled to a million. After = OpenDP's exact samplers through "
        "`DiscreteGaussianCounts`/`GeometricCounts.randomise`, one call per vector, also scaled from the cells timed.",
        "", table, "",
        "## Does OpenDP's time per cell depend on σ?", "",
        f"Vectors of {data['sweep_cells']:,} cells, {data['sweep_rounds']} rounds in shuffled order, medians:", "",
        sweep, "",
        "## Does a draw's time depend on the value drawn?", "",
        "One cell per call (OpenDP measurement built once), time of each call against the |noise| it returned:", "",
        channel, "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--cells-before", type=int, default=4_000)
    parser.add_argument("--sweep-cells", type=int, default=20_000)
    parser.add_argument("--sweep-rounds", type=int, default=7)
    parser.add_argument("--single-draws", type=int, default=5_000)
    args = parser.parse_args(argv)
    data: dict[str, Any] = {"machine": machine_info(), "opendp": importlib.metadata.version("opendp"),
                            "repeats": args.repeats, "sweep_cells": args.sweep_cells, "sweep_rounds": args.sweep_rounds}
    data["before_after"] = before_after(args.repeats, args.cells, args.cells_before)
    data["sigma_sweep"] = sigma_sweep(args.sweep_rounds, args.sweep_cells)
    data["value_channel"] = value_channel(args.single_draws)
    data["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    RESULTS_JSON.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    RESULTS_MD.write_text(_markdown(data), encoding="utf-8")
    print(_markdown(data))


if __name__ == "__main__":
    main()
