"""The Spark engine (`engine: spark`): the same contract as the local engine, with the rows on Spark.

Spark reads the source (CSV, CSV.gz, a Parquet file or folder); each Arrow batch is parsed, checked
against the contract and hashed by the same Python code as the local engine (`load.py`,
`quality.contract`, `split.py`) inside `mapInArrow`. Each row's occurrence number is its rank among
the rows with the same keyed hash (a window over the hash): rows with equal hashes are identical,
so the training and holdout multisets are exactly the local engine's for the same key
(`split.keys_of_rows`). Domain statistics are merged from one per partition; the check samples are
the training and holdout rows with the smallest keyed priorities, taken to the driver (bounded by
`utility.sample_rows`). Encoded training codes stay cached on Spark and the model's marginals are
counted there by group-bys (`SparkCounts`); the noise is added on the driver by `PrivateTable`, from
the same exact samplers. Only the marginal checks' sample of training codes (`gate.sample_rows`)
comes to the driver, and the synthetic rows are drawn in partitions (`spark_sample.py`).

Per-partition results (contract counts, parse failures, statistics, clamped counts, an error's
message) come back as one extra row per partition with a pickled payload in a column the data rows
leave empty, so each stage is one Spark job. The secret split key travels to the executors inside
the tasks: on a cluster, turn on Spark's RPC authentication and encryption (`spark.authenticate`,
`spark.network.crypto.enabled`) through `spark.conf`.
"""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgate.privacy.counts import grouped_index
from synthgate.privacy.estimate import DomainStatistics
from synthgate.quality.contract import ContractValidator, failures as contract_failures, merge_counts

from .config import ColumnSpec, ReleaseConfig
from .context import Progress
from .encode import EncodingError, NumericCodec, TableCodec
from .engine import TrainingCodes
from .errors import ContractError, InputError
from .formats import format_from_suffix
from .load import ParseFailures, _check_columns, canonicalise, check_readable, read_header
from .local_engine import code_dtype
from .split import SplitKey, keys_of_rows, row_hashes
from .validate import Validated, _without_parse_failures

__all__ = ["SparkEngine", "SparkCounts", "spark_session"]

_HASH, _OCC, _HELD, _PRIO, _META = "_sg_hash", "_sg_occurrence", "_sg_held", "_sg_priority", "_sg_meta"
_ARROW_TYPES = {"categorical": pa.string(), "numeric": pa.float64(), "integer": pa.float64(),
                "datetime": pa.timestamp("us", tz="UTC"), "boolean": pa.bool_()}
_SPARK_TYPES = {"categorical": "string", "numeric": "double", "integer": "double", "datetime": "timestamp",
                "boolean": "boolean"}
_CODE_TYPES = {np.dtype(np.int8): "tinyint", np.dtype(np.int16): "smallint", np.dtype(np.int32): "int",
               np.dtype(np.int64): "bigint"}


def spark_session(config: ReleaseConfig) -> Any:
    """The process's SparkSession (created from `config.spark` when there is none yet); one clear
    InputError when pyspark or Java is missing or Spark does not start."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("engine: spark needs pyspark: pip install 'synthgate[spark]'") from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise InputError("engine: spark needs a Java runtime (17 or later): none found on PATH and JAVA_HOME "
                         "is not set")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local mode: workers run this interpreter
    builder = SparkSession.builder.master(config.spark.master).appName("synthgate")
    settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false", **config.spark.conf}
    for name, value in settings.items():
        builder = builder.config(name, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Py4J/launcher errors can be long; name the kind only
        raise InputError(f"engine: spark: Spark did not start ({type(exc).__name__}); check the Java runtime "
                         "and spark.master") from None
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    def __init__(self, config: ReleaseConfig, key: SplitKey) -> None:
        if config.source_format not in ("csv", "parquet"):
            raise InputError("engine: spark reads CSV and Parquet sources (files or folders); use engine: local "
                             "for a database source")
        if config.unit_column is not None:
            raise InputError("engine: spark does not support a role: unit column yet; use engine: local")
        if config.holdout_path is not None and (config.source.format or format_from_suffix(config.holdout_path)) \
                not in ("csv", "parquet"):
            raise InputError("engine: spark reads a holdout file in CSV or Parquet only; use engine: local")
        if any(c.name.startswith("_sg_") for c in config.attributes):
            raise InputError("engine: spark reserves column names starting with '_sg_'")
        self._config, self._key = config, key
        self._spark = spark_session(config)
        self._cached: list[Any] = []
        self._parsed: list[Any] = []
        self._keyed: Any = None

    def validate(self, progress: Progress | None = None) -> Validated:
        from pyspark.sql import functions as F

        config, columns = self._config, self._config.attributes
        path = config.source_path
        holdout_path = config.holdout_path
        # With a holdout file every source row trains and every holdout-file row is held out (as on
        # the local engine); otherwise the keyed split decides.
        keyed = self._keyed_rows(path, config.source_format, None if holdout_path else config.holdout.fraction)
        if holdout_path is not None:
            held = self._keyed_rows(holdout_path, config.source.format or format_from_suffix(holdout_path), None)
            keyed = keyed.unionByName(held.withColumn(_HELD, F.lit(True)))
        self._keyed = self._cache(keyed)
        for frame in self._parsed:
            self._uncache(frame)
        sizes = {bool(r[0]): int(r[1]) for r in self._keyed.where(F.col(_META).isNull())
                 .groupBy(_HELD).count().collect()}
        n_train, n_holdout = sizes.get(False, 0), sizes.get(True, 0)
        if progress:
            progress("load", n_train + n_holdout)
        if n_train < 1:
            raise InputError(f"{path}: no rows to train on (the input has no data rows)")
        if n_holdout < 1:
            raise InputError(f"{path}: the holdout is empty; the risk checks need unseen rows (use a larger "
                             "input or a holdout file)")
        statistics = DomainStatistics(config.estimated_kinds)
        for p in _payloads(self._part(False).mapInArrow(_Statistics(columns, config.estimated_kinds),
                                                        _schema([]))):
            statistics.merge(p["statistics"])
        check_rows = np.arange(min(n_train, config.gate.sample_rows))  # encode returns codes in priority order
        return Validated(n_train, n_holdout, self._sample(False), self._sample(True), statistics, None, check_rows)

    def _keyed_rows(self, path: Path, fmt: str, fraction: float | None) -> Any:
        """One input file parsed, checked against the contract (ContractError: counts only) and keyed:
        held-out flag and sample priority per row."""
        from pyspark.sql import Window, functions as F

        columns = self._config.attributes
        header = read_header(path, fmt)
        _check_columns(path, header, [c.name for c in columns], self._config.identifiers)
        parsed = self._cache(self._read(path, fmt).mapInArrow(_Parse(columns, self._key, fmt == "csv"),
                                                              _schema([*_data_fields(columns), f"{_HASH} bigint"])))
        self._parsed.append(parsed)
        payloads = _payloads(parsed)
        errors = [p["error"] for p in payloads if "error" in p]
        if errors:
            raise InputError(f"{path}: {errors[0]}")
        failures = ParseFailures()
        for p in payloads:
            for column, n in p["failures"].items():
                failures.add(column, n)
        counts = merge_counts(*(p["contract"] for p in payloads))
        problems = failures.lines() + contract_failures(_without_parse_failures(counts, failures))
        if problems:
            raise ContractError(f"{path}", problems)
        rows = parsed.where(F.col(_META).isNull()).drop(_META)
        numbered = rows.withColumn(_OCC, F.row_number().over(Window.partitionBy(_HASH).orderBy(_HASH)) - 1)
        fields = [*_data_fields(columns), f"{_HELD} boolean", f"{_PRIO} double"]
        return numbered.mapInArrow(_Keys(columns, self._key, fraction), _schema(fields))

    def encode(self, codec: TableCodec, progress: Progress | None = None) -> TrainingCodes:
        from pyspark.sql import functions as F

        if self._keyed is None:
            raise RuntimeError("encode before validate")
        dtype = code_dtype(codec)
        names = [f"c{j}" for j in range(len(codec.codecs))]
        estimated = [c.name for c, spec in zip(codec.codecs, self._config.attributes)
                     if spec.bounds == "estimate" and isinstance(c, NumericCodec)]
        encoded = self._cache(self._part(False).mapInArrow(
            _Encode(self._config.attributes, codec, dtype, estimated),
            _schema([*(f"{n} {_CODE_TYPES[dtype]}" for n in names), f"{_PRIO} double"])))
        payloads = _payloads(encoded)
        if any("error" in p for p in payloads):
            raise EncodingError(next(p["error"] for p in payloads if "error" in p))
        clamped = {name: sum(p["clamped"][name] for p in payloads) for name in estimated}
        codes_frame = encoded.where(F.col(_META).isNull()).drop(_META)
        n_rows = int(sum(p["rows"] for p in payloads))
        # Only the marginal checks' sample comes to the driver: the first gate.sample_rows codes in
        # priority order (Validated.check_rows); the model's marginals are counted on Spark
        table = codes_frame.orderBy(_PRIO).limit(self._config.gate.sample_rows).drop(_PRIO).toArrow()
        codes_frame = codes_frame.drop(_PRIO)
        codes = (np.column_stack([table.column(n).to_numpy().astype(dtype) for n in names]) if table.num_rows
                 else np.zeros((0, len(names)), dtype))
        if progress:
            progress("encode", n_rows)
        return TrainingCodes(codes, clamped, SparkCounts(codes_frame, len(names), n_rows), n_rows)

    def close(self) -> None:
        """Drop what this run cached on Spark (idempotent); the session stays for the process."""
        for frame in self._cached:
            self._uncache(frame)
        self._cached, self._keyed = [], None

    def _read(self, source: Path, fmt: str) -> Any:
        from pyspark.sql import functions as F

        config = self._config
        path = str(source)
        reader = self._spark.read
        if fmt == "csv":  # every cell as text, parsed by canonicalise; a malformed row stops the read
            frame = (reader.option("header", True).option("inferSchema", False).option("escape", '"')
                     .option("mode", "FAILFAST").option("nullValue", None).option("emptyValue", "")
                     .option("enforceSchema", False).csv(path))
        else:
            check_readable(source, fmt)
            frame = reader.parquet(path)
        return frame.select(*[F.col("`" + c.name.replace("`", "``") + "`") for c in config.attributes])

    def _part(self, held: bool) -> Any:
        from pyspark.sql import functions as F

        return (self._keyed.where(F.col(_META).isNull() & (F.col(_HELD) == F.lit(held)))
                .drop(_HELD, _META))

    def _sample(self, held: bool) -> pd.DataFrame:
        """The `utility.sample_rows` rows with the smallest keyed priorities, in priority order."""
        size = self._config.utility.sample_rows
        table = self._part(held).orderBy(_PRIO).limit(size).toArrow()
        return _frame(table, self._config.attributes)

    def _cache(self, frame: Any) -> Any:
        from pyspark import StorageLevel

        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._cached.append(frame)
        return frame

    @staticmethod
    def _uncache(frame: Any) -> None:
        try:
            frame.unpersist()
        except Exception:  # the session is gone (e.g. stopped by a test); nothing is left cached then
            pass


class SparkCounts:
    """Exact counts of training codes cached on Spark (columns c0, c1, ...).

    First one group-by over every column on Spark: the distinct code rows and how often each occurs.
    When there are at most `driver_rows` of them (few: a row of codes is one cell of the full
    contingency table), every marginal is then counted from them on the driver, a weighted
    `np.bincount`, instead of one Spark job per marginal (AIM asks for hundreds). Otherwise each
    marginal is its own group-by on Spark. Either way the counts are exact integers."""

    def __init__(self, frame: Any, n_columns: int, n_rows: int, *, driver_rows: int = 2_000_000) -> None:
        self._frame, self._n_columns, self._n_rows = frame, n_columns, n_rows
        self._driver_rows = driver_rows
        self._distinct: tuple[np.ndarray, np.ndarray] | None = None  # (distinct code rows, their counts)
        self._reduced = False

    @property
    def n_rows(self) -> int:
        return self._n_rows

    @property
    def n_columns(self) -> int:
        return self._n_columns

    def code_range(self) -> tuple[np.ndarray, np.ndarray]:
        from pyspark.sql import functions as F

        if not self._n_rows:
            zeros = np.zeros(self._n_columns, np.int64)
            return zeros, zeros
        row = self._frame.agg(*[F.min(f"c{j}") for j in range(self._n_columns)],
                              *[F.max(f"c{j}") for j in range(self._n_columns)]).collect()[0]
        values = np.array([int(v) for v in row], np.int64)
        return values[: self._n_columns], values[self._n_columns:]

    def counts(self, columns: Sequence[int], sizes: Sequence[int],
               groupings: Sequence[np.ndarray | None]) -> np.ndarray:
        if not columns:
            return np.array([self._n_rows], dtype=np.int64)
        distinct = self._reduce()
        if distinct is not None:
            rows, weights = distinct
            flat = np.ravel_multi_index(tuple(grouped_index(rows[:, j], g) for j, g in zip(columns, groupings)),
                                        tuple(sizes))
            total = np.bincount(flat, weights=weights, minlength=int(np.prod(sizes, dtype=np.int64)))
            return np.rint(total).astype(np.int64).reshape(tuple(sizes))  # integer sums below 2^53: exact
        return self._group_by(columns, sizes, groupings)

    def _reduce(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The distinct code rows and their counts, once, when there are few enough for the driver."""
        if not self._reduced:
            self._reduced = True
            names = [f"c{j}" for j in range(self._n_columns)]
            reduced = self._frame.groupBy(*names).count()
            table = reduced.limit(self._driver_rows + 1).toArrow() if self._driver_rows else None
            if table is not None and table.num_rows <= self._driver_rows:
                rows = (np.column_stack([table.column(n).to_numpy().astype(np.int64) for n in names])
                        if table.num_rows else np.zeros((0, self._n_columns), np.int64))
                self._distinct = rows, table.column("count").to_numpy().astype(np.float64)
        return self._distinct

    def _group_by(self, columns: Sequence[int], sizes: Sequence[int],
                  groupings: Sequence[np.ndarray | None]) -> np.ndarray:
        from pyspark.sql import functions as F

        keys = []
        for k, (j, grouping) in enumerate(zip(columns, groupings)):
            code = F.col(f"c{j}").cast("int")
            if grouping is not None:
                code = F.element_at(F.array(*[F.lit(int(g)) for g in np.asarray(grouping)]), code + 1)
            keys.append(code.alias(f"k{k}"))
        table = self._frame.groupBy(*keys).count().toArrow()
        out = np.zeros(int(np.prod(sizes, dtype=np.int64)), np.int64)
        if table.num_rows:
            index = tuple(table.column(f"k{k}").to_numpy().astype(np.int64) for k in range(len(columns)))
            out[np.ravel_multi_index(index, tuple(sizes))] = table.column("count").to_numpy()
        return out.reshape(tuple(sizes))


def _schema(fields: Sequence[str]) -> str:
    return ", ".join([*fields, f"{_META} binary"])


def _data_fields(columns: Sequence[ColumnSpec]) -> list[str]:
    return ["`" + c.name.replace("`", "``") + "` " + _SPARK_TYPES[str(c.type)] for c in columns]


def _payloads(frame: Any) -> list[dict[str, Any]]:
    """The per-partition payloads of a stage (one small row per partition)."""
    from pyspark.sql import functions as F

    return [pickle.loads(r[0]) for r in frame.where(F.col(_META).isNotNull()).select(_META).collect()]


def _arrow(frame: pd.DataFrame, columns: Sequence[ColumnSpec], extra: dict[str, pa.Array]) -> pa.RecordBatch:
    arrays = [pa.array(frame[c.name], from_pandas=True).cast(_ARROW_TYPES[str(c.type)], safe=False)
              if len(frame) else pa.array([], _ARROW_TYPES[str(c.type)]) for c in columns]
    names = [c.name for c in columns] + list(extra) + [_META]
    return pa.RecordBatch.from_arrays([*arrays, *extra.values(), pa.nulls(len(frame), pa.binary())], names=names)


def _payload_row(names: Sequence[str], types: Sequence[pa.DataType], payload: dict[str, Any]) -> pa.RecordBatch:
    arrays = [pa.nulls(1, t) for t in types] + [pa.array([pickle.dumps(payload)], pa.binary())]
    return pa.RecordBatch.from_arrays(arrays, names=[*names, _META])


def _frame(batch: pa.RecordBatch | pa.Table, columns: Sequence[ColumnSpec]) -> pd.DataFrame:
    """Parsed Arrow columns back to the canonical pandas frame `load.canonicalise` makes."""
    data: dict[str, pd.Series] = {}
    for c in columns:
        array = batch.column(c.name)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if c.type == "categorical":
            data[c.name] = pd.Series(array.to_numpy(zero_copy_only=False), dtype=object)
        elif c.type == "datetime":
            data[c.name] = pd.Series(array.to_pandas(), dtype="datetime64[ns, UTC]")
        elif c.type == "boolean":
            data[c.name] = pd.Series(array.to_pylist(), dtype="boolean")
        else:
            data[c.name] = pd.Series(array.to_numpy(zero_copy_only=False), dtype=float)
    return pd.DataFrame(data)


class _Parse:
    """Per partition: parse, contract counts, parse failures and keyed hashes (`load`/`split` code)."""

    def __init__(self, columns: Sequence[ColumnSpec], key: SplitKey, text_nulls: bool) -> None:
        self.columns, self.key, self.text_nulls = list(columns), key, text_nulls

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        contract = ContractValidator(self.columns)
        failures = ParseFailures()
        counts: dict[tuple[str, str], int] = {}
        payload: dict[str, Any] = {}
        try:
            for batch in batches:
                if not batch.num_rows:
                    continue
                frame = canonicalise(batch, self.columns, failures, text_nulls=self.text_nulls)
                counts = merge_counts(counts, contract.validate(frame))
                hashes = row_hashes(frame, self.key).view(np.int64)
                yield _arrow(frame, self.columns, {_HASH: pa.array(hashes)})
        except InputError as exc:
            payload["error"] = str(exc)
        payload.update(failures=failures.counts, contract=counts)
        yield _payload_row([c.name for c in self.columns] + [_HASH],
                           [_ARROW_TYPES[str(c.type)] for c in self.columns] + [pa.int64()], payload)


class _Keys:
    """Per partition: held-out flag and sample priority from (hash, occurrence) (`split.keys_of_rows`)."""

    def __init__(self, columns: Sequence[ColumnSpec], key: SplitKey, fraction: float | None) -> None:
        self.columns, self.key, self.fraction = list(columns), key, fraction

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            hashes = batch.column(_HASH).to_numpy().view(np.uint64)
            held, priority = keys_of_rows(hashes, batch.column(_OCC).to_numpy(), self.key, self.fraction)
            arrays = [batch.column(c.name) for c in self.columns]
            yield pa.RecordBatch.from_arrays([*arrays, pa.array(held), pa.array(priority),
                                              pa.nulls(batch.num_rows, pa.binary())],
                                             names=[c.name for c in self.columns] + [_HELD, _PRIO, _META])


class _Statistics:
    """Per partition: the DP-domain statistics of its training rows, as one payload."""

    def __init__(self, columns: Sequence[ColumnSpec], kinds: dict[str, str]) -> None:
        self.columns, self.kinds = list(columns), kinds

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        statistics = DomainStatistics(self.kinds)
        for batch in batches:
            statistics.update(_frame(batch, self.columns))
        yield _payload_row([], [], {"statistics": statistics})


class _Encode:
    """Per partition: training rows as codes, and how many values each estimated-bounds column clamped."""

    def __init__(self, columns: Sequence[ColumnSpec], codec: TableCodec, dtype: np.dtype[np.signedinteger],
                 estimated: list[str]) -> None:
        self.columns, self.codec, self.dtype, self.estimated = list(columns), codec, dtype, estimated

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        names = [f"c{j}" for j in range(len(self.codec.codecs))]
        clamped = dict.fromkeys(self.estimated, 0)
        by_name = {c.name: c for c in self.codec.codecs}
        payload: dict[str, Any] = {"rows": 0}
        try:
            for batch in batches:
                frame = _frame(batch, self.columns)
                codes = self.codec.encode(frame).astype(self.dtype)
                payload["rows"] += len(frame)
                for name in self.estimated:
                    codec = by_name[name]
                    if isinstance(codec, NumericCodec):
                        clamped[name] += codec.count_outside(frame[name])
                yield pa.RecordBatch.from_arrays([*(pa.array(codes[:, j]) for j in range(len(names))),
                                                  batch.column(_PRIO), pa.nulls(len(frame), pa.binary())],
                                                 names=[*names, _PRIO, _META])
        except EncodingError as exc:
            payload["error"] = str(exc)
        payload["clamped"] = clamped
        yield _payload_row([*names, _PRIO], [*[pa.from_numpy_dtype(self.dtype)] * len(names), pa.float64()], payload)
