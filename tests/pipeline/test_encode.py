"""Codecs: round trips over public domains, clamping, nulls, and codes that stay in range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synthgate.pipeline.config import ColumnSpec
from synthgate.pipeline.encode import (
    OTHER,
    BooleanCodec,
    CategoricalCodec,
    DatetimeCodec,
    EncodingError,
    NumericCodec,
    TableCodec,
    codec_from_description,
    codec_from_spec,
)


def test_categorical_round_trip_with_nulls() -> None:
    codec = CategoricalCodec("c", ("a", "b"), other=False, nulls=True)
    values = pd.Series(["a", None, "b", "a"], dtype=object)
    codes = codec.encode(values)
    assert codes.tolist() == [0, 2, 1, 0]
    decoded = codec.decode(codes, np.random.default_rng(0)).to_pylist()
    assert decoded == ["a", None, "b", "a"]


def test_categorical_unknown_goes_to_other_only_when_estimated() -> None:
    estimated = CategoricalCodec("c", ("a",), other=True, nulls=True)
    assert estimated.encode(pd.Series(["a", "zz"], dtype=object)).tolist() == [0, 1]
    assert estimated.decode(np.array([1]), np.random.default_rng(0)).to_pylist() == [OTHER]
    public = CategoricalCodec("c", ("a",), other=False, nulls=False)
    with pytest.raises(EncodingError, match="outside the configured categories"):
        public.encode(pd.Series(["zz"], dtype=object))


def test_nulls_refused_when_config_says_none() -> None:
    codec = NumericCodec("x", (0, 10), bins=5, integer=False, nulls=False)
    with pytest.raises(EncodingError, match="nulls"):
        codec.encode(pd.Series([1.0, np.nan]))


def test_small_integer_range_gets_one_code_per_value_and_decodes_exactly() -> None:
    codec = NumericCodec("kids", (0, 12), bins=64, integer=True, nulls=False)
    assert codec.n_codes == 13
    values = pd.Series(np.arange(13, dtype=float))
    codes = codec.encode(values)
    assert codes.tolist() == list(range(13))
    assert codec.decode(codes, np.random.default_rng(0)).to_pylist() == list(range(13))


def test_wide_integer_range_decodes_inside_its_bin() -> None:
    codec = NumericCodec("income", (0, 999), bins=10, integer=True, nulls=False)
    rng = np.random.default_rng(1)
    values = pd.Series(rng.integers(0, 1000, 2000).astype(float))
    codes = codec.encode(values)
    decoded = np.asarray(codec.decode(codes, rng).to_pylist())
    assert np.array_equal(codec.encode(pd.Series(decoded.astype(float))), codes)  # same bin after the round trip
    assert decoded.min() >= 0 and decoded.max() <= 999


def test_numeric_values_are_clamped_to_bounds() -> None:
    codec = NumericCodec("x", (0.0, 1.0), bins=4, integer=False, nulls=False)
    codes = codec.encode(pd.Series([-5.0, 0.0, 0.5, 1.0, 7.0]))
    assert codes.tolist() == [0, 0, 2, 3, 3]
    decoded = np.asarray(codec.decode(codes, np.random.default_rng(0)).to_pylist())
    assert ((decoded >= 0.0) & (decoded <= 1.0)).all()


def test_datetime_round_trip_stays_in_bin_and_in_utc() -> None:
    low, high = pd.Timestamp("2017-01-01", tz="UTC"), pd.Timestamp("2018-01-01", tz="UTC")
    codec = DatetimeCodec("t", low, high, bins=12, nulls=True)
    values = pd.Series(pd.to_datetime(["2017-03-05T10:00:00Z", None, "2017-12-31T23:59:59Z"], utc=True))
    codes = codec.encode(values)
    assert codes[1] == codec.null_code
    decoded = codec.decode(codes, np.random.default_rng(0))
    assert decoded.type == pa.timestamp("s", tz="UTC")
    back = codec.encode(pd.Series(decoded.to_pandas()))
    assert back.tolist() == codes.tolist()


def test_boolean_codec() -> None:
    codec = BooleanCodec("b", nulls=True)
    codes = codec.encode(pd.Series([True, False, pd.NA], dtype="boolean"))
    assert codes.tolist() == [1, 0, 2]


def test_decode_refuses_codes_out_of_range() -> None:
    codec = CategoricalCodec("c", ("a", "b"), other=False, nulls=False)
    with pytest.raises(EncodingError):
        codec.decode(np.array([2]), np.random.default_rng(0))


def test_codec_from_spec_uses_estimated_domain_only_for_estimate_columns() -> None:
    spec = ColumnSpec(name="x", type="numeric", bounds="estimate")
    codec = codec_from_spec(spec, bins=8, estimated={"bounds": (0.0, 64.0)})
    assert isinstance(codec, NumericCodec) and codec.describe()["bounds"] == [0.0, 64.0]
    assert codec.nulls  # an estimated column always keeps a null code
    public = codec_from_spec(ColumnSpec(name="y", type="integer", bounds=(1, 5)), bins=8)
    assert public.describe()["bounds"] == [1.0, 5.0] and public.n_codes == 5


def test_table_codec_canonical_matches_loader_types() -> None:
    table = TableCodec([
        CategoricalCodec("c", ("a", "b"), other=False, nulls=False),
        NumericCodec("n", (0, 10), bins=10, integer=True, nulls=True),
        DatetimeCodec("t", pd.Timestamp("2017-01-01"), pd.Timestamp("2018-01-01"), bins=4, nulls=False),
    ])
    rng = np.random.default_rng(3)
    codes = np.column_stack([rng.integers(0, 2, 50), rng.integers(0, 11, 50), rng.integers(0, 4, 50)]).astype(np.int32)
    frame = table.canonical(table.decode(codes, rng))
    assert frame["n"].dtype == float and str(frame["t"].dtype) == "datetime64[ns, UTC]"
    assert np.array_equal(table.encode(frame), codes)


def test_zero_is_a_point_mass_of_its_own_on_a_real_zero_inflated_column() -> None:
    """acs12 income is 0 in about 45% of rows; uniform decoding inside the bin [0, w) released no zeros."""
    from pathlib import Path

    income = pd.read_csv(Path(__file__).resolve().parents[2] / "../shared/datasets/acs12.csv")["income"].dropna()
    codec = codec_from_spec(ColumnSpec(name="income", type="numeric", bounds=(-1000.0, 500000.0), nulls=True), bins=64)
    codes = codec.encode(income)
    decoded = codec.decode(codes, np.random.default_rng(0)).to_numpy(zero_copy_only=False)
    assert codec.describe()["zero"] is True and codec.labels()[codec.zero_index] == "0"
    assert np.mean(decoded == 0) == pytest.approx(np.mean(income == 0)) and np.mean(income == 0) > 0.3
    # codes stay ordered around the zero code: negatives below it, positives above
    assert (codes[income.to_numpy() > 0] > codec.zero_index).all()
    assert ((decoded > 0) == (income.to_numpy() > 0)).all()
    rebuilt = codec_from_description("income", codec.describe())
    assert rebuilt.n_codes == codec.n_codes and rebuilt.zero_index == codec.zero_index


@pytest.mark.parametrize("kind", ["numeric", "integer"])
def test_a_constant_column_with_public_bounds_v_v_has_one_code(kind: str) -> None:
    """A real 55-column table was refused: "'bounds' must be [low, high] with low < high"."""
    spec = ColumnSpec(name="version", type=kind, bounds=(3.0, 3.0), nulls=True)
    codec = codec_from_spec(spec, bins=64)
    assert codec.n_values == 1
    codes = codec.encode(pd.Series([3.0, None, 3.0]))
    assert codes.tolist() == [0, 1, 0]
    assert codec.decode(codes, np.random.default_rng(0)).to_pylist() == [3, None, 3]


@pytest.mark.parametrize(("other", "nulls"), [(False, False), (True, False), (False, True), (True, True)])
def test_categorical_decode_by_take_is_the_array_from_strings(other: bool, nulls: bool) -> None:
    codec = CategoricalCodec("c", ["a", "bb", ""], other=other, nulls=nulls)
    codes = np.random.default_rng(3).integers(0, codec.n_codes, 5_000).astype(np.int32)
    rng = np.random.default_rng(0)
    got = codec.decode(codes, rng)
    missing = codes == codec.n_values if nulls else np.zeros(codes.shape, bool)
    expected = pa.array(codec._decode(np.where(missing, 0, codes), rng), type=pa.string(), mask=missing)
    assert got.equals(expected) and got.null_count == int(missing.sum())
    assert rng.random() == np.random.default_rng(0).random()  # nothing drawn
    with pytest.raises(EncodingError, match="codes outside"):
        codec.decode(np.array([codec.n_codes]), rng)
