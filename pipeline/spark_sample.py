"""Sampling on Spark (`engine: spark`): the synthetic rows are drawn in partitions, one chunk a task.

Each chunk has its own generator derived from the run's seed and the chunk's index
(`privacy.sample.sample_chunk`, the chunk-seeded scheme), so the rows do not depend on which
executor drew them, and replay redraws them on one machine, byte for byte. Executors send each
chunk back as Arrow IPC (decoded columns, exact types) with its codes; the driver streams the
chunks in order into the same contract check and the same Parquet writer as the local engine, so
the release is one file whose hash is in the manifest. The model and the codec travel to the
executors inside the tasks: both are post-processing of DP measurements and public config.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from synthgate.privacy.models import Model
from synthgate.privacy.sample import Decoder, chunk_sizes, sample_chunk

from .config import ReleaseConfig
from .spark_engine import spark_session

__all__ = ["iter_spark_chunks"]

_SCHEMA = "chunk bigint, rows binary, codes binary"


def iter_spark_chunks(config: ReleaseConfig, model: Model, codec: Decoder, n_rows: int,
                      seed: int) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """(codes, decoded batch) chunks of the chunk-seeded sample, drawn by Spark's executors a few jobs at
    a time (twice the default parallelism a job), in chunk order; at most one job's chunks held here."""
    spark = spark_session(config)
    sizes = chunk_sizes(n_rows, config.output.chunk_rows)
    per_job = max(2, 2 * int(spark.sparkContext.defaultParallelism))
    draw = _DrawChunks(model, codec, sizes, seed)
    for start in range(0, len(sizes), per_job):
        stop = min(len(sizes), start + per_job)
        table = spark.range(start, stop, numPartitions=stop - start).mapInArrow(draw, _SCHEMA).toArrow()
        chunk = table.column("chunk").to_numpy()
        for row in np.argsort(chunk, kind="stable"):
            yield _codes(table.column("codes")[row].as_py()), _batch(table.column("rows")[row].as_py())


class _DrawChunks:
    """Per task: draw the chunks whose indices the task's rows hold."""

    def __init__(self, model: Model, codec: Decoder, sizes: Sequence[int], seed: int) -> None:
        self.model, self.codec, self.sizes, self.seed = model, codec, list(sizes), seed

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            for index in batch.column(0).to_pylist():
                codes, decoded = sample_chunk(self.model, self.codec, self.sizes[index], self.seed, index)
                yield pa.RecordBatch.from_arrays(
                    [pa.array([index], pa.int64()), pa.array([_ipc(decoded)], pa.binary()),
                     pa.array([_npy(codes)], pa.binary())], names=["chunk", "rows", "codes"])


def _ipc(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def _batch(data: Any) -> pa.RecordBatch:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_next_batch()


def _npy(codes: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, codes, allow_pickle=False)
    return buffer.getvalue()


def _codes(data: Any) -> np.ndarray:
    return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))
