"""Load: stream the source as Arrow batches, drop identifiers, canonicalise types, split off a holdout.

Memory does not grow with the input: batches are read one at a time (CSV, CSV.gz or Parquet).
Every column is read as text first and parsed here, so a cell that does not parse is counted
(and reported by column and count) instead of surfacing in a library's error message with its
value. No message from this module quotes a cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from .config import ColumnSpec, ReleaseConfig
from .errors import InputError
from .names import shown
from .split import RowKeys

__all__ = ["Batch", "ParseFailures", "RowSplit", "read_header", "iter_batches", "iter_split", "iter_split_batches",
           "SplitBatch", "iter_text_column", "canonicalise", "with_null_tokens", "iter_raw", "parse_column",
           "check_readable", "arrow_reason", "categorical_column", "as_object_column"]

BLOCK_BYTES = 8 << 20
PARQUET_BATCH_ROWS = 65_536
COALESCE_ROWS = 262_144  # rows per batch downstream, when a source reads in smaller ones
_NULL_TOKENS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "#N/A")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


@dataclass
class ParseFailures:
    """Per column, how many non-null cells did not parse as the configured type."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, column: str, n: int) -> None:
        if n:
            self.counts[column] = self.counts.get(column, 0) + n

    def lines(self) -> list[str]:
        return [f"column '{c}': {n} value(s) do not parse as the configured type" for c, n in sorted(self.counts.items())]


@dataclass(frozen=True)
class Batch:
    """One canonical batch; `start_row` is the index of its first row in the source."""

    frame: pd.DataFrame
    start_row: int


def read_header(path: Path, fmt: str) -> list[str]:
    """Column names of the source, without reading its rows."""
    if fmt == "sql":
        return path.header()  # type: ignore[attr-defined, no-any-return]  # a SqlSource
    check_readable(path, fmt)
    try:
        if fmt == "parquet" and path.is_dir():
            return list(_parquet_dataset(path).schema.names)
        if fmt == "parquet":
            return list(pq.ParquetFile(path).schema_arrow.names)
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16),
                                convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True),
                                parse_options=pacsv.ParseOptions())
        names = list(reader.schema.names)
        reader.close()
        return names
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        # Arrow parses the first block to find the header, so a bad row there fails here too.
        raise InputError(f"{path}: cannot read the table ({arrow_reason(exc)})") from None


def iter_batches(path: Path, fmt: str, columns: Sequence[ColumnSpec], *, identifiers: Sequence[str] = (),
                 failures: ParseFailures | None = None) -> Iterator[Batch]:
    """Canonical batches of the non-identifier `columns`. Identifier columns are never parsed."""
    header = read_header(path, fmt)
    _check_columns(path, header, [c.name for c in columns], identifiers)
    failures = failures if failures is not None else ParseFailures()
    wanted = [c.name for c in columns]
    start = 0
    for record_batch in iter_raw(path, fmt, wanted, header):
        try:
            frame = canonicalise(record_batch, columns, failures, text_nulls=fmt == "csv")
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        yield Batch(frame, start)
        start += len(frame)


class RowSplit(Protocol):
    """Per source row: whether it is held out, and whether contribution bounding leaves it out of training."""

    @property
    def held(self) -> np.ndarray: ...

    @property
    def dropped(self) -> np.ndarray: ...


def iter_split(batches: Iterator[Batch], *, row_keys: RowKeys,
               units: RowSplit | None = None) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """(training, holdout) per batch. The split is keyed by the run's secret (see `split.py`),
    or, with `units`, made by individual; every pass over the same input agrees."""
    for part in iter_split_batches(batches, row_keys=row_keys, units=units):
        yield part.train, part.holdout


@dataclass(frozen=True)
class SplitBatch:
    """One batch, its training and holdout rows, and each part's check-sample priorities."""

    batch: Batch
    train: pd.DataFrame
    holdout: pd.DataFrame
    train_priority: np.ndarray
    holdout_priority: np.ndarray


def iter_split_batches(batches: Iterator[Batch], *, row_keys: RowKeys,
                       units: RowSplit | None = None) -> Iterator[SplitBatch]:
    """Each batch split into training and holdout rows; rows that contribution bounding drops
    are in the whole batch (so they are still validated) but in neither part."""
    for batch in batches:
        held, priority = row_keys.of(batch.frame)
        if units is not None:
            rows = slice(batch.start_row, batch.start_row + len(batch.frame))
            held = units.held[rows] & ~units.dropped[rows]
            train = ~units.held[rows] & ~units.dropped[rows]
        else:
            train = ~held
        yield SplitBatch(batch, batch.frame.loc[train], batch.frame.loc[held], priority[train], priority[held])


def iter_text_column(path: Path, fmt: str, column: ColumnSpec) -> Iterator[pa.Array]:
    """One column's cells as text, batch by batch, null tokens as nulls (for the unit column)."""
    header = read_header(path, fmt)
    for record_batch in iter_raw(path, fmt, [column.name], header):
        array = record_batch.column(0)
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            try:
                array = array.cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise InputError(f"{path}: column '{shown(column.name)}' ({array.type}) cannot be read as text "
                                 "ids for role: unit") from None
        yield with_null_tokens(array, column) if fmt == "csv" else array


def canonicalise(batch: pa.RecordBatch, columns: Sequence[ColumnSpec], failures: ParseFailures, *,
                 text_nulls: bool = False) -> pd.DataFrame:
    """Parse each text column as its configured type; unparseable cells become nulls and are counted.

    `text_nulls` (CSV input): cells spelled as a null token ("", "NA", "null", ...) are nulls, except
    in a column whose public category list names that token (e.g. "NA" for North America).
    """
    data: dict[str, pd.Series] = {}
    for spec in columns:
        array = batch.column(batch.schema.get_field_index(spec.name))
        try:
            if spec.type == "categorical":  # null tokens are looked up among the distinct values only
                data[spec.name] = categorical_column(array, _null_tokens(spec) if text_nulls else ())
                continue
            if text_nulls:
                array = with_null_tokens(array, spec)
            data[spec.name] = parse_column(array, spec, failures)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):  # e.g. Parquet binary, not UTF-8
            raise InputError(f"column '{shown(spec.name)}': its {array.type} values cannot be read as {spec.type} "
                             "(text must be valid UTF-8; nested types are not supported)") from None
    return pd.DataFrame(data)


def categorical_column(array: pa.Array, null_tokens: Sequence[str] = ()) -> pd.Series:
    """Text cells as a pandas Categorical built from Arrow's dictionary encoding, so no Python string
    is made per cell (only one per distinct value). Same values and nulls as an object column of the
    cells: its keyed row hashes (`split.row_hashes`), contract counts and codes are the same.
    Distinct values spelled as one of `null_tokens` become nulls."""
    text = array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) else array.cast(pa.string())
    encoded = pc.dictionary_encode(text)  # nulls stay nulls, out of the dictionary
    names = encoded.dictionary.to_numpy(zero_copy_only=False)
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int32, copy=False)
    if len(null_tokens) and len(names):
        tokens = np.isin(names, np.asarray(null_tokens, dtype=object))
        if tokens.any():  # drop the tokens from the categories; their cells become nulls (-1)
            renumber = np.where(tokens, -1, np.cumsum(~tokens) - 1).astype(np.int32)
            codes = np.where(codes >= 0, renumber[np.maximum(codes, 0)], -1).astype(np.int32)
            names = names[~tokens]
    dtype = pd.CategoricalDtype(pd.Index(names, dtype=object))
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype, validate=False))


def as_object_column(values: pd.Series) -> pd.Series:
    """A categorical column back to the object column of strings (None for nulls) the rest of the
    pipeline reads (check samples, spills); any other column as it is."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values
    names = np.asarray(values.cat.categories, dtype=object)
    codes = values.cat.codes.to_numpy()
    out = np.empty(len(codes), dtype=object)  # filled with None
    present = codes >= 0
    out[present] = names[codes[present]]
    return pd.Series(out, index=values.index, dtype=object, name=values.name)


def _null_tokens(spec: ColumnSpec) -> list[str]:
    return [t for t in _NULL_TOKENS if not (isinstance(spec.categories, tuple) and t in spec.categories)]


def with_null_tokens(array: pa.Array, spec: ColumnSpec) -> pa.Array:
    """A text column with its null tokens turned into nulls (a declared category is never a token)."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    tokens = _null_tokens(spec)
    if not tokens:
        return array
    is_token = pc.is_in(array, value_set=pa.array(tokens, type=array.type))
    return pc.if_else(is_token, pa.scalar(None, type=array.type), array)


def parse_column(array: pa.Array, spec: ColumnSpec, failures: ParseFailures) -> pd.Series:
    kind = spec.type
    if kind == "categorical":
        text = array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) else array.cast(pa.string())
        return pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    if kind == "datetime" and pa.types.is_timestamp(array.type):
        series = array.to_pandas()
        parsed: pd.Series = pd.to_datetime(series, utc=True)
        return parsed
    if kind in ("numeric", "integer") and (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        values = pd.Series(array.to_numpy(zero_copy_only=False), dtype=float)
    elif kind == "boolean" and pa.types.is_boolean(array.type):
        return pd.Series(array.to_pylist(), dtype="boolean")
    elif kind in ("numeric", "integer") and (fast := _fast_numbers(array)) is not None:
        values = fast
        present = ~pd.Series(array.is_null().to_numpy(zero_copy_only=False))
        failures.add(spec.name, int((present & values.isna()).sum()))
    else:
        as_text = array if pa.types.is_string(array.type) else array.cast(pa.string())
        text = pd.Series(as_text.to_numpy(zero_copy_only=False), dtype=object)
        present = text.notna()
        if kind == "boolean":
            lowered = text.str.strip().str.lower()
            parsed = pd.Series(pd.NA, index=text.index, dtype="boolean")
            parsed[lowered.isin(_TRUE)] = True
            parsed[lowered.isin(_FALSE)] = False
            failures.add(spec.name, int((present & parsed.isna()).sum()))
            return parsed
        if kind == "datetime":
            parsed_time = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
            failures.add(spec.name, int((present & parsed_time.isna()).sum()))
            return parsed_time
        values = pd.to_numeric(text, errors="coerce").astype(float)
        failures.add(spec.name, int((present & values.isna()).sum()))
    finite = np.isfinite(values) | values.isna()
    bad = ~finite
    if kind == "integer":
        bad |= values.notna() & finite & (values != np.round(values))
    if bad.any():
        failures.add(spec.name, int(bad.sum()))
        values = values.mask(bad)
    return values


def _fast_numbers(array: pa.Array) -> pd.Series | None:
    """Text cells as float64 by Arrow's multi-threaded cast, when every cell parses (the common
    case); None otherwise, and pandas' slower parse counts the failures cell by cell. Both read
    plain decimal and exponent notation alike; the parse failures reported are the same."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    try:
        numbers = pc.cast(array, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    # + 0.0: Arrow reads "-0" as -0.0, pandas as 0.0; they hash differently in the keyed split.
    return pd.Series(numbers.to_numpy(zero_copy_only=False) + 0.0, dtype=float)


def iter_raw(path: Path, fmt: str, wanted: list[str], header: Sequence[str] = ()) -> Iterator[pa.RecordBatch]:
    if fmt == "sql":  # a SqlSource: only the wanted columns are selected, streamed from the database
        yield from _coalesced(path.iter_record_batches(wanted))  # type: ignore[attr-defined]
        return
    try:
        if fmt == "parquet" and path.is_dir():  # files in a stable (sorted) order, so both passes agree
            yield from _coalesced(_parquet_dataset(path).to_batches(columns=wanted, batch_size=PARQUET_BATCH_ROWS,
                                                                    use_threads=False))
            return
        if fmt == "parquet":
            yield from _coalesced(pq.ParquetFile(path).iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted))
            return
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted,
                column_types={name: pa.string() for name in wanted},
                strings_can_be_null=False,  # null tokens are applied per column: see with_null_tokens
            ),
        )
        with reader:
            yield from reader
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the table ({arrow_reason(exc, header)})") from None


def _coalesced(batches: Iterator[pa.RecordBatch], rows: int = COALESCE_ROWS) -> Iterator[pa.RecordBatch]:
    """The same rows, in the same order, in batches of at least `rows` (but the last): a partitioned
    folder or a database hands back batches of a few thousand rows, and each batch costs a fixed
    amount of work downstream (at 1M rows from an 8-way partitioned folder, 248 batches: 12 s in
    pass 1, against 2 s for the CSV's 6 blocks)."""
    pending: list[pa.RecordBatch] = []
    n_pending = 0
    for batch in batches:
        pending.append(batch)
        n_pending += batch.num_rows
        if n_pending >= rows:
            yield _one_batch(pending)
            pending, n_pending = [], 0
    if pending:
        yield _one_batch(pending)


def _one_batch(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _parquet_dataset(path: Path) -> ds.Dataset:
    """A folder of Parquet files as one table; `key=value` folder names become (partition) columns."""
    files = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".pq"))
    return ds.dataset(files, format="parquet", partitioning="hive", partition_base_dir=str(path))


def check_readable(path: Path, fmt: str = "csv") -> None:
    if not path.exists():
        raise InputError(f"{path}: input file not found; check source.path in the config")
    if path.is_dir() and fmt == "parquet":
        if not any(path.rglob("*.parquet")) and not any(path.rglob("*.pq")):
            raise InputError(f"{path}: the folder holds no Parquet file")
        return
    if not path.is_file():
        raise InputError(f"{path}: input is not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: input file is empty")


def _check_columns(path: Path, header: list[str], wanted: list[str], identifiers: Sequence[str]) -> None:
    problems: list[str] = []
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        problems.append("the header names a column twice: " + _names(twice))
    if any(not name.strip() for name in header):
        problems.append("the header has an empty column name")
    missing = [c for c in [*wanted, *identifiers] if c not in header]
    unlisted = [c for c in header if c not in wanted and c not in identifiers and c not in twice]
    if missing:
        problems.append("columns in the config but not in the input: " + _names(missing))
    if unlisted:
        problems.append("columns in the input but not in the config (list them, with role: identifier to drop): "
                        + _names(unlisted))
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))


def _names(names: Sequence[str]) -> str:
    """Column names, quoted so a stray space or an empty name shows."""
    return ", ".join(f"'{shown(name)}'" for name in names)


def arrow_reason(exc: BaseException, header: Sequence[str] = ()) -> str:
    """A reason safe to show: Arrow's messages can quote a row, so only the kind is kept, plus the
    column's name (from the header, never from the message) when Arrow says which column it was."""
    text = str(exc)
    column = re.match(r"In CSV column #(\d+):", text)
    if column and int(column.group(1)) < len(header):
        return f"column '{shown(header[int(column.group(1))])}': " + arrow_reason(exc)
    if "Empty CSV file" in text or "empty" in text.lower() and "file" in text.lower():
        return "the file has no header row"
    if "Expected" in text and "columns" in text:
        return "a row has a different number of fields than the header"
    if "UTF8" in text or "utf-8" in text.lower() or isinstance(exc, UnicodeDecodeError):
        return "the file is not valid UTF-8 text"
    if "Parquet" in text or "magic" in text.lower():
        return "the file is not a valid Parquet file"
    return type(exc).__name__
