"""Stage 5, sample: draw the synthetic table from the fitted model with the run's seed (which
drives post-processing only, never noise), check every chunk against the output contract as it
streams past, and write it (Parquet, optionally CSV) into the staging folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgate.privacy.sample import CHUNK_SEEDED, iter_synthetic, write_synthetic
from synthgate.quality.contract import ContractValidator, failures as contract_failures, merge_counts

from .config import ColumnSpec, ReleaseConfig
from .context import RunContext
from .domains import Domains
from .encode import TableCodec
from .errors import ContractError
from .fake_ids import FabricatedColumns, fake_specs
from .fit import Measured
from .samples import synthetic_rows

__all__ = ["Sampled", "sample_synthetic"]


@dataclass(frozen=True)
class Sampled:
    """The synthetic codes the marginal checks compare (every row's, or the `gate.sample_rows` rows
    drawn with the seed), the first rows decoded in canonical form (for the risk and TSTR checks),
    and the files written."""

    codes: np.ndarray
    head: pd.DataFrame
    paths: tuple[Path, ...]
    sampling: str | None = None  # CHUNK_SEEDED when every chunk had its own seeded generator (Spark)


def sample_synthetic(run: RunContext, domains: Domains, measured: Measured, folder: Path) -> Sampled:
    """Write `measured.n_rows` synthetic rows into `folder`; ContractError if any breaks the output contract."""
    config, codec = run.config, domains.codec
    rng = np.random.default_rng(run.seed)
    contract = ContractValidator(_output_specs(config, codec))
    counts: dict[tuple[str, str], int] = {}
    fabricated = FabricatedColumns(fake_specs(config.columns), seed=run.seed, n_rows=measured.n_rows)
    if config.engine == "spark":  # drawn in partitions by the executors, chunk-seeded
        from .spark_sample import iter_spark_chunks

        chunks = iter_spark_chunks(config, measured.model, codec, measured.n_rows, run.seed)
    else:
        chunks = iter_synthetic(measured.model, codec, measured.n_rows, rng, config.output.chunk_rows)
    progress = run.progress
    written = write_synthetic(
        fabricated.add(_validated(chunks, codec, contract, counts)),
        fabricated.schema(codec.arrow_schema), folder / "synthetic.parquet",
        csv_path=folder / "synthetic.csv" if run.csv else None,
        release_id=run.release_id, head_rows=config.utility.sample_rows,
        progress=(lambda n: progress("sample", n)) if progress else None,
        code_rows=synthetic_rows(measured.n_rows, config.gate.sample_rows, run.seed),
    )
    failures = contract_failures(counts)
    if failures:
        raise ContractError("the synthetic output", failures)
    return Sampled(written.codes, codec.canonical(written.head), tuple(written.paths),
                   CHUNK_SEEDED if config.engine == "spark" else None)


def _output_specs(config: ReleaseConfig, codec: TableCodec) -> list[ColumnSpec]:
    """The output contract: public domains as configured; estimated ones as released (no 'other' check)."""
    specs = []
    for spec, column_codec in zip(config.attributes, codec.codecs):
        update: dict[str, Any] = {"nulls": column_codec.nulls}
        if spec.bounds == "estimate":
            low, high = column_codec.describe()["bounds"]
            update["bounds"] = (pd.Timestamp(low).to_pydatetime(), pd.Timestamp(high).to_pydatetime()) \
                if spec.type == "datetime" else (low, high)
        specs.append(spec.model_copy(update=update))
    return specs


def _validated(chunks: Iterator[tuple[np.ndarray, pa.RecordBatch]], codec: TableCodec, contract: ContractValidator,
               totals: dict[tuple[str, str], int]) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """Check each synthetic chunk against the output contract as it streams past; counts into `totals`."""
    for codes, batch in chunks:
        checked = contract.validate_arrow(batch)  # Arrow kernels; pandas only for a type they do not cover
        counts = merge_counts(totals, contract.validate(codec.canonical(batch)) if checked is None else checked)
        totals.clear()
        totals.update(counts)
        yield codes, batch
