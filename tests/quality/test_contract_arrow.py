"""The output contract on Arrow batches counts what the pandas evaluation counts on the same rows
converted to canonical types (as the sampler converted every chunk before)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synthgate.pipeline.config import ColumnSpec
from synthgate.pipeline.encode import BooleanCodec, CategoricalCodec, DatetimeCodec, NumericCodec, TableCodec
from synthgate.quality.contract import ContractValidator

COLUMNS = (
    ColumnSpec(name="age", type="integer", bounds=(0, 120)),
    ColumnSpec(name="score", type="numeric", bounds=(-1.5, 2.5), nulls=True),
    ColumnSpec(name="sex", type="categorical", categories=("F", "M")),
    ColumnSpec(name="region", type="categorical", categories="estimate", nulls=True),
    ColumnSpec(name="visit", type="datetime", bounds=("2020-01-01T00:00:00", "2020-12-31T23:59:59")),
    ColumnSpec(name="smoker", type="boolean"),
    ColumnSpec(name="insured", type="boolean", nulls=True),
)
CODEC = TableCodec([
    NumericCodec("age", (0, 120), bins=200, integer=True, nulls=False),
    NumericCodec("score", (-1.5, 2.5), bins=10, integer=False, nulls=True),
    CategoricalCodec("sex", ("F", "M"), other=False, nulls=False),
    CategoricalCodec("region", ("north",), other=True, nulls=True),
    DatetimeCodec("visit", pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2020-12-31 23:59:59", tz="UTC"),
                  bins=10, nulls=False),
    BooleanCodec("smoker", nulls=False),
    BooleanCodec("insured", nulls=True),
])


@pytest.fixture(scope="module")
def validator() -> ContractValidator:
    return ContractValidator(COLUMNS)


def _spoiled(seed: int, n: int = 400) -> pa.RecordBatch:
    """Each cell spoiled with probability 0.1: out of bounds (either side, or just on a bound), out of
    set, NaN, or null, so every rule fails on some rows."""
    rng = np.random.default_rng(seed)

    def spoil(good: list[object], bad: list[object]) -> list[object]:
        return [bad[int(rng.integers(len(bad)))] if rng.random() < 0.1 else good[i % len(good)] for i in range(n)]

    day = pd.Timestamp("2020-06-01", tz="UTC")
    visits = spoil([day, pd.Timestamp("2020-01-01", tz="UTC")],
                   [pd.Timestamp("2021-01-01", tz="UTC"), pd.Timestamp("2019-12-31 23:59:59", tz="UTC"),
                    pd.Timestamp("2020-12-31 23:59:59", tz="UTC"), None])
    return pa.RecordBatch.from_arrays([
        pa.array(spoil([0, 60, 120], [-1, 121, None, 2**40]), pa.int64()),
        pa.array(spoil([-1.5, 0.3, 2.5], [float("nan"), -1.5000001, 2.6, None]), pa.float64()),
        pa.array(spoil(["F", "M"], ["X", "", None, "f"]), pa.string()),
        pa.array(spoil(["north", "__other__", None], ["anything", None]), pa.string()),
        pa.array([None if v is None else v.to_pydatetime() for v in visits], pa.timestamp("s", tz="UTC")),
        pa.array(spoil([True, False], [None]), pa.bool_()),
        pa.array(spoil([True, None], [False]), pa.bool_()),
    ], schema=CODEC.arrow_schema)


@pytest.mark.parametrize("seed", range(6))
def test_arrow_counts_are_the_canonical_counts(validator: ContractValidator, seed: int) -> None:
    batch = _spoiled(seed)
    expected = validator.validate(CODEC.canonical(batch))
    assert {column for column, _ in expected} == {"age", "score", "sex", "visit", "smoker"}  # each rule fails
    assert validator.validate_arrow(batch) == expected


def test_a_clean_batch_and_a_missing_column(validator: ContractValidator) -> None:
    clean = CODEC.decode(np.zeros((50, 7), np.int32), np.random.default_rng(0))
    assert validator.validate_arrow(clean) == validator.validate(CODEC.canonical(clean)) == {}
    without = pa.RecordBatch.from_arrays(clean.columns[1:], names=clean.schema.names[1:])
    assert validator.validate_arrow(without) == {("age", "expect_column_to_exist"): 50}


def test_a_type_the_kernels_do_not_cover_is_left_to_pandas(validator: ContractValidator) -> None:
    batch = _spoiled(0)
    as_codes = batch.set_column(2, "sex", pa.array(np.zeros(batch.num_rows, np.int32)))
    assert validator.validate_arrow(as_codes) is None
