"""Sample: draw codes from a fitted model in chunks, decode them, stream them to Parquet (and CSV).

Post-processing only. The output file is labelled synthetic in its own metadata and written
under a temporary name, renamed only once complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


from .models import Model


class Decoder(Protocol):
    """What sampling needs of the table codec (pipeline/encode.py): codes back to Arrow values."""

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pa.RecordBatch: ...

__all__ = ["CHUNK_SEEDED", "NO_ROWS", "SampleResult", "chunk_sizes", "iter_chunk_seeded", "iter_synthetic", "sample_chunk",
           "write_synthetic"]


@dataclass
class SampleResult:
    n_rows: int
    codes: np.ndarray          # the synthetic rows' codes (n x d; only `code_rows` when given), for the checks
    head: pa.Table             # the first rows, decoded, for the risk and TSTR checks
    paths: list[Path]


def iter_synthetic(model: Model, codec: Decoder, n_rows: int, rng: np.random.Generator,
                   chunk_rows: int) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """(codes, decoded batch) chunks; together exactly n_rows rows."""
    done = 0
    while done < n_rows:
        m = min(chunk_rows, n_rows - done)
        codes = model.sample(m, rng)
        yield codes, codec.decode(codes, rng)
        done += m


def write_synthetic(chunks: Iterator[tuple[np.ndarray, pa.RecordBatch]], schema: pa.Schema, parquet_path: Path, *,
                    csv_path: Path | None, release_id: str, head_rows: int,
                    progress: Callable[[int], None] | None = None,
                    code_rows: np.ndarray | None = None) -> SampleResult:
    """Stream the chunks to Parquet (and CSV). The codes of every row are kept, or only those at the
    sorted positions `code_rows`, so memory stays flat however many rows are written."""
    labelled = schema.with_metadata({b"synthgate.synthetic": b"true", b"synthgate.release": release_id.encode()})
    partial = parquet_path.with_name(parquet_path.name + ".partial")
    csv_partial = csv_path.with_name(csv_path.name + ".partial") if csv_path else None
    all_codes: list[np.ndarray] = []
    head: list[pa.RecordBatch] = []
    n_head = n_rows = 0
    csv_writer = None
    try:
        with pq.ParquetWriter(partial, labelled) as writer:
            if csv_partial is not None:
                csv_writer = pacsv.CSVWriter(csv_partial, schema)
            for codes, batch in chunks:
                writer.write_batch(batch.replace_schema_metadata(labelled.metadata))
                if csv_writer is not None:
                    csv_writer.write_batch(batch)
                all_codes.append(codes if code_rows is None else _rows_within(codes, code_rows, n_rows))
                if n_head < head_rows:
                    head.append(batch.slice(0, head_rows - n_head))
                    n_head += min(batch.num_rows, head_rows - n_head)
                n_rows += batch.num_rows
                if progress is not None:
                    progress(n_rows)
        if csv_writer is not None:
            csv_writer.close()
            csv_writer = None
    except BaseException:
        if csv_writer is not None:
            csv_writer.close()
        for p in (partial, csv_partial):
            if p is not None and p.exists():
                p.unlink()
        raise
    os.replace(partial, parquet_path)
    paths = [parquet_path]
    if csv_path is not None and csv_partial is not None:
        os.replace(csv_partial, csv_path)
        paths.append(csv_path)
    codes_all = np.concatenate(all_codes) if all_codes else np.zeros((0, len(schema)), np.int32)
    head_table = pa.Table.from_batches(head, schema=schema) if head else schema.empty_table()
    return SampleResult(n_rows, codes_all, head_table, paths)


CHUNK_SEEDED = "chunk-seeded"
NO_ROWS = np.empty(0, np.int64)  # `code_rows` for a writer whose caller needs no codes (replay, sample)


def chunk_sizes(n_rows: int, chunk_rows: int) -> list[int]:
    """The rows of each chunk, in order (public: the row count and the config's chunk size)."""
    full, rest = divmod(n_rows, chunk_rows)
    return [chunk_rows] * full + ([rest] if rest else [])


def sample_chunk(model: Model, codec: Decoder, size: int, seed: int, index: int) -> tuple[np.ndarray, pa.RecordBatch]:
    """Chunk `index` of a chunk-seeded sample: its own generator, derived from the run's seed and the
    index, so any worker can draw any chunk and the rows do not depend on where it was drawn."""
    rng = np.random.default_rng([seed, 11, index])
    codes = model.sample(size, rng)
    return codes, codec.decode(codes, rng)


def iter_chunk_seeded(model: Model, codec: Decoder, n_rows: int, seed: int,
                      chunk_rows: int) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """The chunk-seeded sample drawn here, chunk by chunk: what a distributed engine's workers draw."""
    for index, size in enumerate(chunk_sizes(n_rows, chunk_rows)):
        yield sample_chunk(model, codec, size, seed, index)


def _rows_within(codes: np.ndarray, rows: np.ndarray, start: int) -> np.ndarray:
    """The chunk's codes at those of the sorted positions `rows` that fall in [start, start + len(codes))."""
    lo, hi = np.searchsorted(rows, [start, start + len(codes)])
    kept: np.ndarray = codes[rows[lo:hi] - start]
    return kept
