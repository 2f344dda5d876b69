"""Categorical columns are loaded from Arrow's dictionary encoding (no Python string per cell).

The keyed split, the contract counts, the codes and the check samples must be exactly what the
object column of the cells (the loader before) gives: the split decides which rows are measured,
and a different hash would select different rows for the same key. The reference here parses the
same Arrow batches the old way, cell by cell, on real tables with nulls and null tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synthgate.pipeline.config import ColumnSpec, load_config
from synthgate.pipeline.encode import CategoricalCodec
from synthgate.pipeline.load import (ParseFailures, _coalesced, as_object_column, canonicalise, iter_raw, read_header,
                                     with_null_tokens)
from synthgate.pipeline.samples import RowSample
from synthgate.pipeline.split import RowKeys, SplitKey, row_hashes
from synthgate.privacy.estimate import DomainStatistics
from synthgate.quality.contract import ContractValidator

ROOT = Path(__file__).resolve().parents[2]


def _reference(batch: pa.RecordBatch, columns: list[ColumnSpec]) -> pd.DataFrame:
    """The frame the loader made before: categorical cells as Python strings, None for nulls."""
    frame = canonicalise(batch, columns, ParseFailures(), text_nulls=True)
    for spec in columns:
        if spec.type == "categorical":
            text = with_null_tokens(batch.column(batch.schema.get_field_index(spec.name)), spec)
            frame[spec.name] = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    return frame


def _batches(name: str) -> Iterator[tuple[list[ColumnSpec], pd.DataFrame, pd.DataFrame]]:
    config = load_config(ROOT / "configs" / f"{name}.yaml")
    columns = list(config.attributes)
    wanted = [c.name for c in columns]
    header = read_header(config.source_path, "csv")
    for batch in iter_raw(config.source_path, "csv", wanted, header):
        yield columns, canonicalise(batch, columns, ParseFailures(), text_nulls=True), _reference(batch, columns)


@pytest.mark.parametrize("name", ["acs12", "mpls_stops"])
def test_dictionary_columns_hash_count_and_encode_as_the_cells_do(name: str) -> None:
    key = SplitKey.reproducible_for_benchmarks(7)
    fast_keys, slow_keys = RowKeys(key, 0.2), RowKeys(key, 0.2)
    n_null = 0
    for columns, fast, slow in _batches(name):
        categorical = [c for c in columns if c.type == "categorical"]
        assert all(isinstance(fast[c.name].dtype, pd.CategoricalDtype) for c in categorical)
        n_null += sum(int(slow[c.name].isna().sum()) for c in categorical)
        np.testing.assert_array_equal(row_hashes(fast, key), row_hashes(slow, key))
        for got, want in zip(fast_keys.of(fast), slow_keys.of(slow)):
            np.testing.assert_array_equal(got, want)
        validator = ContractValidator(columns)
        assert validator.validate(fast) == validator.validate(slow)
        for spec in categorical:
            pd.testing.assert_series_equal(as_object_column(fast[spec.name]), slow[spec.name])
            assert [v for v in as_object_column(fast[spec.name]) if not isinstance(v, str)] == \
                [v for v in slow[spec.name] if not isinstance(v, str)]  # None, not NaN
            if isinstance(spec.categories, tuple):
                codec = CategoricalCodec(spec.name, spec.categories, other=False, nulls=spec.nulls)
            else:  # an estimated list: only the most common values, the rest to 'other'
                common = slow[spec.name].value_counts().index[:3].tolist()
                codec = CategoricalCodec(spec.name, common, other=True, nulls=True)
            np.testing.assert_array_equal(codec.encode(fast[spec.name]), codec.encode(slow[spec.name]))
        kinds = {c.name: "categorical" for c in categorical}
        fast_stats, slow_stats = DomainStatistics(kinds), DomainStatistics(kinds)
        fast_stats.update(fast)
        slow_stats.update(slow)
        assert fast_stats == slow_stats
    assert n_null > 0  # the tables hold null cells (tokens and empty), so that path was compared


def test_a_declared_category_spelled_like_a_null_token_stays_a_value(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("region,tier\nNA,NA\nEU,\nNA,x\n,null\n", encoding="utf-8")
    columns = [ColumnSpec(name="region", type="categorical", categories=("NA", "EU"), nulls=True),
               ColumnSpec(name="tier", type="categorical", categories=("x",), nulls=True)]
    batch = next(iter_raw(path, "csv", ["region", "tier"], ["region", "tier"]))
    frame = canonicalise(batch, columns, ParseFailures(), text_nulls=True)
    assert as_object_column(frame["region"]).tolist() == ["NA", "EU", "NA", None]
    assert as_object_column(frame["tier"]).tolist() == [None, None, "x", None]
    assert ContractValidator(columns).validate(frame) == {}


def test_the_check_sample_keeps_the_bottom_k_rows_as_object_columns() -> None:
    """RowSample copies only the rows that can still enter once it is full; what it keeps is the
    bottom-k of the whole stream (computed here from every row at once), with object columns."""
    key = SplitKey.reproducible_for_benchmarks(11)
    sample, keys = RowSample(300), RowKeys(key, None)
    rows, priorities = [], []
    for _, fast, slow in _batches("acs12"):
        for start in range(0, len(fast), 400):
            part = fast.iloc[start:start + 400]
            priority = keys.of(part)[1]
            sample.add(part, priority)
            rows.append(slow.iloc[start:start + 400])
            priorities.append(priority)
    every, priority = pd.concat(rows, ignore_index=True), np.concatenate(priorities)
    assert len(every) > 1000  # several adds after the sample is full
    want = every.iloc[np.argsort(priority, kind="stable")[:300]].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample.frame(), want)


def test_small_batches_are_coalesced_in_order() -> None:
    """A partitioned folder or a database yields batches of a few thousand rows; downstream they
    arrive as fewer, larger batches holding the same rows in the same order."""
    values = np.arange(10_000)
    small = [pa.RecordBatch.from_arrays([pa.array(values[i:i + 700])], names=["x"]) for i in range(0, 10_000, 700)]
    out = list(_coalesced(iter(small), rows=3_000))
    assert [b.num_rows for b in out] == [3_500, 3_500, 3_000]
    np.testing.assert_array_equal(np.concatenate([b.column(0).to_numpy() for b in out]), values)
