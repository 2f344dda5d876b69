"""MST (McKenna, Miklau, Sheldon 2021) written against PyPI's `mbi` 2.x, as a fidelity baseline.

Runs in its own venv (bench/.work/mst, created by `python -m bench.fidelity`), never imports
synthgate. Input: a Parquet file of integer codes (one column per attribute, already
discretised by the orchestrator over the config's public domain) and a JSON spec with the
domain sizes, epsilon, delta, seed and iteration counts. Output: a Parquet file of synthetic
codes over the same domain and a JSON file with timings and the chosen tree.

The published MST script (private-pgm's mechanisms/mst.py) targets the repository's own
pre-2.0 `mbi` (FactoredInference, scipy sparse queries); mbi 2.0 on PyPI replaced that API.
This follows the published mechanism step for step with the 2.0 API:

1. rho from (epsilon, delta) with the Canonne-Kamath-Steinke bound (cdp_rho, copied below);
   sigma = sqrt(3 / (2 rho)): a third of rho each for 1-way marginals, selection, 2-way marginals.
2. Every 1-way marginal measured with Gaussian noise (total rho/3).
3. Domain compression: levels whose noisy count is below 3 sigma are merged into one level
   (the merged cell's measurement re-weighted by 1/sqrt(k), as in MST's compress_domain; here
   via mbi's LinearMeasurement.compress, which does the same).
4. Selection: an independence model estimated from the 1-way measurements; each pair's weight
   is the L1 distance between its true (compressed) 2-way counts and the model's; a maximum
   spanning tree is grown by Kruskal with the exponential mechanism (epsilon per round
   sqrt(8 (rho/3) / (r - 1)), sensitivity 1, MST's non-monotone coefficient 1/2) (rho/3).
5. The tree's 2-way marginals measured with Gaussian noise (total rho/3).
6. mbi's MirrorDescent estimator (default Armijo line search) on all measurements, then
   mbi's synthetic_data() (randomised rounding) for the DP-estimated row count, and
   decompression (merged levels drawn uniformly among their members).

Noise here is numpy's Gaussian from a seeded generator (reproducible, not a secure source:
this is a benchmark baseline, not a release tool), as in the published script.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import time
from importlib import metadata


def cdp_delta(rho: float, eps: float) -> float:
    """Smallest delta such that rho-zCDP implies (eps, delta)-DP (Canonne, Kamath, Steinke 2020)."""
    if rho == 0:
        return 0.0
    amin, amax = 1.01, (eps + 1) / (2 * rho) + 2
    for _ in range(1000):
        alpha = (amin + amax) / 2
        derivative = (2 * alpha - 1) * rho - eps + math.log1p(-1.0 / alpha)
        if derivative < 0:
            amin = alpha
        else:
            amax = alpha
    alpha = (amin + amax) / 2
    delta = math.exp(min((alpha - 1) * (alpha * rho - eps) + alpha * math.log1p(-1 / alpha), 700.0)) / (alpha - 1.0)
    return min(delta, 1.0)


def cdp_rho(eps: float, delta: float) -> float:
    """Largest rho whose zCDP guarantee implies (eps, delta)-DP."""
    rhomin, rhomax = 0.0, eps + 1
    for _ in range(1000):
        rho = (rhomin + rhomax) / 2
        if cdp_delta(rho, eps) <= delta:
            rhomin = rho
        else:
            rhomax = rho
    return rhomin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", required=True, help="Parquet of integer training codes")
    parser.add_argument("--spec", required=True,
                        help="JSON: columns, sizes, epsilon, delta, seed, optional rho, iters, select_iters")
    parser.add_argument("--out", required=True, help="Parquet of synthetic codes to write")
    parser.add_argument("--info", required=True, help="JSON of timings and structure to write")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    import jax

    jax.config.update("jax_enable_x64", True)  # mbi warns that float32 stalls on large N
    jax.config.update("jax_enable_compilation_cache", False)  # every run compiles afresh: honest timings
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    import mbi
    from mbi import Dataset, Domain, LinearMeasurement
    from mbi.estimation import MirrorDescent
    import_seconds = time.perf_counter() - start

    with open(args.spec, encoding="utf-8") as handle:
        spec = json.load(handle)
    columns: list[str] = spec["columns"]
    sizes: list[int] = [int(s) for s in spec["sizes"]]
    epsilon, delta, seed = float(spec["epsilon"]), float(spec["delta"]), int(spec["seed"])
    iters, select_iters = int(spec.get("iters", 5000)), int(spec.get("select_iters", 1000))
    table = pq.read_table(args.codes)
    data = {c: table.column(c).to_numpy().astype(np.int64) for c in columns}
    domain = Domain(columns, sizes)
    dataset = Dataset(data, domain)
    rng = np.random.default_rng(seed)
    np.random.seed(seed % (2**32))  # mbi's synthetic_data / decompress draw from numpy's global state

    t_fit = time.perf_counter()
    # The orchestrator may pass the zCDP budget left for the model (synthgate's plan for the same
    # (epsilon, delta) after its DP domain share); otherwise all of (epsilon, delta) goes to MST.
    rho = float(spec["rho"]) if spec.get("rho") is not None else cdp_rho(epsilon, delta)
    sigma = math.sqrt(3.0 / (2.0 * rho))

    def measure(data_: Dataset, cliques: list[tuple[str, ...]]) -> list[LinearMeasurement]:
        # MST's measure(): weights normalised to unit L2 norm, so the cliques share the third evenly.
        scale = sigma * math.sqrt(len(cliques))
        out = []
        for clique in cliques:
            x = np.asarray(data_.project(clique).datavector())
            y = x + rng.normal(0.0, scale, size=x.size)
            out.append(LinearMeasurement(y, clique, stddev=scale))
        return out

    # 1-way marginals, then compression of rare levels (post-processing of the noisy counts).
    one_way = measure(dataset, [(c,) for c in columns])
    mapping: dict[str, np.ndarray] = {}
    supports: dict[str, int] = {}
    for m in one_way:
        col = m.clique[0]
        y = np.asarray(m.noisy_measurement)
        keep = y >= 3 * m.stddev
        supports[col] = int(keep.sum())
        if keep.all():
            continue
        new = np.full(y.size, int(keep.sum()), dtype=np.int64)
        new[keep] = np.arange(int(keep.sum()))
        mapping[col] = new
    compressed = dataset.compress(mapping) if mapping else dataset
    cdomain = compressed.domain
    one_way = [m.compress(mapping, domain) if m.clique[0] in mapping else m for m in one_way]

    # Selection: independence model from the 1-way measurements, L1 error per pair, Kruskal + EM.
    t_select = time.perf_counter()
    indep = MirrorDescent().estimate(cdomain, one_way, iters=select_iters)
    total = float(indep.total)
    marg1 = {c: np.asarray(indep.project((c,)).datavector()) for c in columns}
    weights = {}
    for a, b in itertools.combinations(columns, 2):
        x = np.asarray(compressed.project((a, b)).datavector())
        xhat = np.outer(marg1[a], marg1[b]).ravel() / max(total, 1e-12)
        weights[(a, b)] = float(np.abs(x - xhat).sum())
    parent = {c: c for c in columns}

    def find(c: str) -> str:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    r = len(columns)
    tree: list[tuple[str, str]] = []
    if r > 1:
        eps_round = math.sqrt(8.0 * (rho / 3.0) / (r - 1))
        candidates = list(weights)
        for _ in range(r - 1):
            candidates = [e for e in candidates if find(e[0]) != find(e[1])]
            q = np.array([weights[e] for e in candidates])
            scores = 0.5 * eps_round / 1.0 * q  # non-monotone exponential mechanism, sensitivity 1
            p = np.exp(scores - scores.max())
            p /= p.sum()
            e = candidates[int(rng.choice(len(candidates), p=p))]
            tree.append(e)
            parent[find(e[0])] = find(e[1])
    select_seconds = time.perf_counter() - t_select

    two_way = measure(compressed, tree) if tree else []
    t_estimate = time.perf_counter()
    model = MirrorDescent().estimate(cdomain, one_way + two_way, iters=iters)
    estimate_seconds = time.perf_counter() - t_estimate
    fit_seconds = time.perf_counter() - t_fit

    t_sample = time.perf_counter()
    synth = model.synthetic_data()
    if mapping:
        synth = synth.decompress(mapping)
    out = pa.table({c: pa.array(np.asarray(synth.data[c]).astype(np.int32)) for c in columns})
    pq.write_table(out, args.out)
    sample_seconds = time.perf_counter() - t_sample

    info = {
        "method": "MST",
        "mbi_version": metadata.version("mbi"),
        "jax_version": metadata.version("jax"),
        "rho": rho,
        "rho_source": "spec" if spec.get("rho") is not None else "cdp_rho(epsilon, delta)",
        "rho_from_epsilon_delta": cdp_rho(epsilon, delta),
        "sigma_total": sigma,
        "tree": [list(e) for e in tree],
        "compressed_sizes": dict(zip(cdomain.attributes, cdomain.shape)),
        "supported_levels": supports,
        "rows": int(out.num_rows),
        "dp_total": total,
        "iters": iters,
        "select_iters": select_iters,
        "import_seconds": import_seconds,
        "fit_seconds": fit_seconds,
        "select_seconds": select_seconds,
        "estimate_seconds": estimate_seconds,
        "sample_seconds": sample_seconds,
        "pid": os.getpid(),
    }
    with open(args.info, "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
