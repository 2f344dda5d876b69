"""The sampler's writer keeps only the synthetic codes the checks compare, chosen before sampling, so
its memory does not grow with the table; the rows it keeps are those the whole table would give."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthgate.pipeline.check import synthetic_sample
from synthgate.pipeline.samples import synthetic_rows
from synthgate.privacy.sample import NO_ROWS, write_synthetic

SCHEMA = pa.schema([pa.field("x", pa.int64())])


def _chunks(codes: np.ndarray, chunk: int) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    for start in range(0, len(codes), chunk):
        part = codes[start:start + chunk]
        yield part, pa.record_batch([pa.array(part[:, 0])], schema=SCHEMA)


def _write(tmp_path: Path, codes: np.ndarray, rows: np.ndarray | None, chunk: int = 997) -> np.ndarray:
    written = write_synthetic(_chunks(codes, chunk), SCHEMA, tmp_path / "synthetic.parquet", csv_path=None,
                              release_id="r", head_rows=10, code_rows=rows)
    assert pq.read_table(written.paths[0]).num_rows == len(codes)  # every row is written either way
    return written.codes


def test_the_kept_codes_are_the_check_sample_of_the_whole_table(tmp_path: Path) -> None:
    codes = np.random.default_rng(1).integers(0, 50, (10_000, 3))
    rows = synthetic_rows(len(codes), 1_234, seed=7)
    assert rows is not None and len(rows) == 1_234 and np.all(np.diff(rows) > 0)
    kept = _write(tmp_path, codes, rows)  # chunks of 997 rows: positions fall on every side of a boundary
    np.testing.assert_array_equal(kept, synthetic_sample(codes, 1_234, seed=7))
    np.testing.assert_array_equal(synthetic_sample(kept, 1_234, seed=7), kept)  # the checks take them as they are


def test_every_row_is_kept_below_the_cap_and_none_when_asked(tmp_path: Path) -> None:
    codes = np.random.default_rng(2).integers(0, 50, (800, 2))
    assert synthetic_rows(len(codes), 1_000, seed=3) is None
    np.testing.assert_array_equal(_write(tmp_path, codes, None), codes)
    assert _write(tmp_path, codes, NO_ROWS).shape == (0, 2)
