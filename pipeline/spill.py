"""Parsed training rows kept on disk between pass 1 and encoding, so the source is read only once.

When a domain is estimated under DP, the codes cannot be made in pass 1 (the domain is released
after it). Instead of parsing the source a second time, pass 1 writes each batch's training rows,
already parsed into their canonical types, to an Arrow IPC file; encoding reads that file back,
memory-mapped, batch by batch. Same rows, same values, same order as a second parse would give.

The file lives in an owner-only (0700) scratch folder beside --out, itself owner-only (0600), and
is removed on close; a run killed before closing leaves the folder to the next run's clean-up of
staging folders (`owner.py`). It never goes into the run directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from .config import ColumnSpec
from .load import categorical_column

__all__ = ["Spill"]

_ARROW_TYPES = {"categorical": pa.string(), "numeric": pa.float64(), "integer": pa.float64(),
                "datetime": pa.timestamp("ns", tz="UTC"), "boolean": pa.bool_()}


class Spill:
    """An append-then-read Arrow IPC file of canonical frames (the loader's column types)."""

    def __init__(self, folder: Path, columns: Sequence[ColumnSpec]) -> None:
        self.path = folder / "training.arrows"
        self._kinds = {c.name: str(c.type) for c in columns}
        self._schema = pa.schema([pa.field(c.name, _ARROW_TYPES[str(c.type)]) for c in columns])
        handle = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._sink = pa.OSFile(str(self.path), "wb")  # reopened by path; the 0600 file exists already
        os.close(handle)
        self._writer: pa.ipc.RecordBatchFileWriter | None = pa.ipc.new_file(self._sink, self._schema)
        self.n_rows = 0

    def add(self, frame: pd.DataFrame) -> None:
        """Append one batch of training rows (canonical frame)."""
        if self._writer is None:
            raise RuntimeError("the spill is closed for writing")
        if len(frame):
            self._writer.write_batch(_batch(frame, self._schema))
            self.n_rows += len(frame)

    def iter_frames(self) -> Iterator[pd.DataFrame]:
        """The spilled batches, in order, back in the loader's canonical types."""
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            self._writer = None
        with pa.memory_map(str(self.path), "r") as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                yield self._frame(reader.get_batch(i))

    def close(self) -> None:
        """Remove the file (idempotent)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._sink.close()
        self.path.unlink(missing_ok=True)

    def _frame(self, batch: pa.RecordBatch) -> pd.DataFrame:
        data: dict[str, pd.Series] = {}
        for name, kind in self._kinds.items():
            array = batch.column(name)
            if kind == "categorical":  # as the loader makes it: codes over the distinct values
                data[name] = categorical_column(array)
            elif kind == "boolean":
                data[name] = pd.Series(array.to_pylist(), dtype="boolean")
            elif kind == "datetime":
                data[name] = pd.Series(array.to_pandas(), dtype="datetime64[ns, UTC]")
            else:
                data[name] = pd.Series(array.to_numpy(zero_copy_only=False), dtype=float)
        return pd.DataFrame(data)


def _batch(frame: pd.DataFrame, schema: pa.Schema) -> pa.RecordBatch:
    """A canonical frame in the spill's schema; a categorical column is stored as its text."""
    arrays = []
    for field in schema:
        values = frame[field.name]
        if isinstance(values.dtype, pd.CategoricalDtype):  # a dictionary array, decoded by Arrow, not per cell in Python
            arrays.append(pa.array(values, from_pandas=True).cast(field.type))
        else:
            arrays.append(pa.Array.from_pandas(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
