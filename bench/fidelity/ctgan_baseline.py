"""DP-CTGAN (smartnoise-synth's `DPCTGAN`, a conditional GAN trained with DP-SGD through Opacus) as a
second fidelity baseline: the GAN family users ask about, run on the same input as MST.

Runs in its own venv (bench/.work/ctgan, created by `python -m bench.fidelity --methods ...,DP-CTGAN`),
never imports synthgate. Input and output are MST's (see mst_baseline.py): a Parquet file of integer
training codes over the public domain (numeric columns in equal-width bins, categoricals as codes,
nulls a level of their own) and a JSON spec; every column is given to DP-CTGAN as categorical, so it
gets the same discretisation and the same true domains for free as MST.

What DP-CTGAN spends, as smartnoise-synth implements it (read from its source, 1.0.x):
- DP-SGD on the discriminator only (noise multiplier `sigma`, per-sample clipping 1.0, Opacus' RDP
  accountant); training stops at the first epoch whose *start* finds the spent epsilon above the
  target, so the last epoch can overshoot it. The spent epsilon is reported as `epsilon_spent`.
- The category lists come from the data without noise and CTGAN's training-by-sampling draws the
  conditional vector from the exact category frequencies: both outside the DP accounting. Here the
  domains are public (the codes' full range), which removes the first; the second stays, so this
  baseline is, if anything, favoured.
- delta: the spec's delta (the same as synthgate's and MST's).

Noise and weights come from torch's generator seeded with the spec's seed (reproducible; a benchmark
baseline, not a release tool).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", required=True, help="Parquet of integer training codes")
    parser.add_argument("--spec", required=True, help="JSON: columns, sizes, epsilon, delta, seed, optional epochs")
    parser.add_argument("--out", required=True, help="Parquet of synthetic codes to write")
    parser.add_argument("--info", required=True, help="JSON of timings and the epsilon spent to write")
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    from snsynth.pytorch.nn import DPCTGAN
    from snsynth.transform.table import TableTransformer
    from snsynth.transform.label import LabelTransformer
    from snsynth.transform.onehot import OneHotEncoder
    from snsynth.transform.chain import ChainTransformer

    with open(args.spec, encoding="utf-8") as handle:
        spec = json.load(handle)
    columns, sizes = spec["columns"], spec["sizes"]
    torch.manual_seed(int(spec["seed"]))
    np.random.seed(int(spec["seed"]))
    torch.set_num_threads(1)
    codes = pq.read_table(args.codes).to_pandas()[columns].astype(np.int64)
    # The public domain, not the data's: every code of every column is a category, seen or not.
    transformer = TableTransformer([
        ChainTransformer([LabelTransformer(nullable=False), OneHotEncoder()]) for _ in columns])
    domain = pd.DataFrame({c: np.resize(np.arange(size), max(sizes)) for c, size in zip(columns, sizes)})
    transformer.fit(domain)

    model = DPCTGAN(epsilon=float(spec["epsilon"]), delta=float(spec["delta"]), epochs=int(spec.get("epochs", 300)),
                    batch_size=int(spec.get("batch_size", 500)), sigma=float(spec.get("sigma", 5.0)), cuda=False,
                    verbose=False)
    start = time.perf_counter()
    model.train(codes, transformer=transformer, categorical_columns=list(range(len(columns))))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    rows = int(spec.get("rows", len(codes)))
    sample = model.generate(rows)
    synthetic = pd.DataFrame(sample, columns=columns) if not isinstance(sample, pd.DataFrame) else sample
    synthetic.columns = columns
    pq.write_table(pa.table({c: synthetic[c].to_numpy().astype(np.int64) for c in columns}), args.out)
    sample_seconds = time.perf_counter() - start
    info = {
        "fit_seconds": round(fit_seconds, 3),
        "sample_seconds": round(sample_seconds, 3),
        "epochs_run": len(model.epsilon_list),
        "epsilon_spent": float(model.epsilon_list[-1]) if model.epsilon_list else None,
        "epsilon_target": float(spec["epsilon"]),
        "versions": {name: metadata.version(name) for name in ("smartnoise-synth", "torch", "opacus")},
    }
    with open(args.info, "w", encoding="utf-8") as handle:
        json.dump(info, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
