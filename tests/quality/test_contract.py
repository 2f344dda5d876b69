"""The data contract: exact (column, expectation) counts, and no table value in any output."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from synthgate.pipeline.config import ColumnSpec
from synthgate.quality.contract_eval import rules_of
from synthgate.quality.contract import (
    ContractValidator,
    build_suite,
    check_contract,
    failures,
    merge_counts,
)

SENTINEL = "SENTINEL_Q9X7"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
NOT_NULL = "expect_column_values_to_not_be_null"
EXIST = "expect_column_to_exist"

COLUMNS = (
    ColumnSpec(name="person_id", role="identifier"),
    ColumnSpec(name="age", type="integer", bounds=(0, 120)),
    ColumnSpec(name="income", type="numeric", bounds="estimate", nulls=True),
    ColumnSpec(name="sex", type="categorical", categories=("F", "M")),
    ColumnSpec(name="region", type="categorical", categories="estimate", nulls=True),
    # Naive bounds, as YAML gives them: read as UTC.
    ColumnSpec(name="visit", type="datetime", bounds=("2020-01-01T00:00:00", "2020-12-31T23:59:59")),
    ColumnSpec(name="smoker", type="boolean"),
    ColumnSpec(name="insured", type="boolean", nulls=True),
)


def canonical(n: int = 6) -> pd.DataFrame:
    """A frame in the loader's canonical dtypes that meets every expectation of COLUMNS."""
    return pd.DataFrame(
        {
            "age": np.linspace(0, 120, n),
            "income": np.r_[np.nan, np.full(n - 1, 1e9)],  # "estimate": anything goes
            "sex": pd.Series(["F", "M"] * (n // 2), dtype=object),
            "region": pd.Series(["anywhere", None] * (n // 2), dtype=object),
            "visit": pd.to_datetime(["2020-01-01T00:00:00", "2020-12-31T23:59:59"] * (n // 2), utc=True),
            "smoker": pd.array([True, False] * (n // 2), dtype="boolean"),
            "insured": pd.array([True, None] * (n // 2), dtype="boolean"),
        }
    )


@pytest.fixture(scope="module")
def validator() -> ContractValidator:
    return ContractValidator(COLUMNS)


def test_passing_frame_has_no_failures(validator: ContractValidator) -> None:
    assert validator.validate(canonical()) == {}
    assert check_contract(canonical(), COLUMNS) == []


def test_empty_batch_passes(validator: ContractValidator) -> None:
    assert validator.validate(canonical().iloc[:0]) == {}


def test_missing_column_fails_even_an_empty_batch(
    validator: ContractValidator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert validator.validate(canonical().iloc[:0].drop(columns="age")) == {("age", EXIST): 1}
    assert not caplog.records  # reported once, by expect_column_to_exist, not as unevaluable


def _set(frame: pd.DataFrame, column: str, rows: list[int], value: object) -> pd.DataFrame:
    frame = frame.copy()
    frame.loc[rows, column] = value
    return frame


BAD_BATCHES = {
    "number_out_of_bounds": (lambda f: _set(f, "age", [0, 2, 5], 121.0), {("age", BETWEEN): 3}),
    "number_below_bounds": (lambda f: _set(f, "age", [1], -0.5), {("age", BETWEEN): 1}),
    "category_not_in_set": (lambda f: _set(f, "sex", [1, 4], SENTINEL), {("sex", IN_SET): 2}),
    "null_in_numeric": (lambda f: _set(f, "age", [3], np.nan), {("age", NOT_NULL): 1}),
    "null_in_categorical": (lambda f: _set(f, "sex", [0, 1], None), {("sex", NOT_NULL): 2}),
    "null_in_boolean": (lambda f: _set(f, "smoker", [2], pd.NA), {("smoker", NOT_NULL): 1}),
    "datetime_after_range": (
        lambda f: _set(f, "visit", [1], pd.Timestamp("2021-01-01T00:00:00", tz="UTC")),
        {("visit", BETWEEN): 1},
    ),
    "datetime_before_range": (
        lambda f: _set(f, "visit", [0, 2], pd.Timestamp("2019-12-31T23:59:59", tz="UTC")),
        {("visit", BETWEEN): 2},
    ),
    "missing_column": (lambda f: f.drop(columns="sex"), {("sex", EXIST): 6}),
    "two_rules_at_once": (
        lambda f: _set(_set(f, "age", [0], 500.0), "sex", [0, 1, 2], SENTINEL),
        {("age", BETWEEN): 1, ("sex", IN_SET): 3},
    ),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_each_break_is_counted_exactly(validator: ContractValidator, case: str) -> None:
    spoil, expected = BAD_BATCHES[case]
    assert validator.validate(spoil(canonical())) == expected


def test_datetime_bounds_compare_as_instants_in_utc(validator: ContractValidator) -> None:
    # Local times whose calendar date is inside the bounds but whose instant is not, and back.
    outside = pd.Timestamp("2020-12-31T20:00:00-05:00")  # 2021-01-01T01:00Z
    inside = pd.Timestamp("2021-01-01T00:30:00+01:00")  # 2020-12-31T23:30Z
    frame = canonical()
    frame["visit"] = pd.to_datetime([outside, inside, inside, inside, inside, inside], utc=True)
    assert validator.validate(frame) == {("visit", BETWEEN): 1}


def test_aware_bounds_in_another_zone_are_converted() -> None:
    low = pd.Timestamp("2020-01-01T01:00:00+01:00").to_pydatetime()  # 2020-01-01T00:00Z
    high = pd.Timestamp("2020-01-02", tz="UTC").to_pydatetime()
    spec = ColumnSpec(name="t", type="datetime", bounds=(low, high))
    frame = pd.DataFrame({"t": pd.to_datetime(["2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z"], utc=True)})
    assert check_contract(frame, [spec]) == ["column 't': expect_column_values_to_be_between failed for 1 row(s)"]


def test_estimated_domains_and_identifiers_get_no_domain_expectation() -> None:
    by_column: dict[str, list[str]] = {}
    for config in build_suite(COLUMNS).expectation_configurations:
        by_column.setdefault(config.kwargs["column"], []).append(config.type)
    assert "person_id" not in by_column
    assert by_column["income"] == [EXIST]  # bounds "estimate", nulls allowed
    assert by_column["region"] == [EXIST]  # categories "estimate", nulls allowed
    assert by_column["age"] == [EXIST, NOT_NULL, BETWEEN]
    assert by_column["sex"] == [EXIST, NOT_NULL, IN_SET]
    assert by_column["smoker"] == [EXIST, NOT_NULL, IN_SET]
    assert by_column["insured"] == [EXIST, IN_SET]


def test_counts_accumulate_over_batches(validator: ContractValidator) -> None:
    first = _set(canonical(), "age", [0], 999.0)
    second = _set(_set(canonical(), "age", [1, 2], 999.0), "sex", [0], "X")
    total = validator.validate_batches([first, canonical(), second])
    assert total == {("age", BETWEEN): 3, ("sex", IN_SET): 1}
    assert merge_counts({("a", BETWEEN): 1}, {}, {("a", BETWEEN): 2, ("b", EXIST): 0}) == {("a", BETWEEN): 3}


def test_failure_lines_name_column_rule_and_count() -> None:
    counts = {("age", BETWEEN): 3, ("sex", IN_SET): 0}
    assert failures(counts) == ["column 'age': expect_column_values_to_be_between failed for 3 row(s)"]


def test_unevaluable_expectation_fails_the_whole_batch(
    validator: ContractValidator, caplog: pytest.LogCaptureFixture
) -> None:
    # A numeric column that arrives as text (a loader bug): GX raises inside; we count every row.
    frame = canonical()
    frame["age"] = pd.Series([SENTINEL, "1", "2", "3", "4", "5"], dtype=object)
    with caplog.at_level(logging.DEBUG):
        counts = validator.validate(frame)
    assert counts == {("age", BETWEEN): 6}
    assert SENTINEL not in caplog.text
    assert any(getattr(r, "column", None) == "age" for r in caplog.records)


def test_no_table_value_escapes(
    validator: ContractValidator, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    frame = _set(canonical(), "sex", [0, 3], SENTINEL)
    frame["region"] = SENTINEL  # also in a column with no domain expectation
    frame["age"] = frame["age"].astype(object)
    frame.loc[5, "age"] = SENTINEL  # and where GX itself raises
    with caplog.at_level(logging.DEBUG):
        counts = validator.validate(frame)
        lines = failures(counts) + check_contract(frame, COLUMNS)
    out, err = capfd.readouterr()
    assert ("sex", IN_SET) in counts and lines
    everything = [repr(counts), *lines, out, err, caplog.text]
    everything += [str(r.msg) + repr(r.args) + repr(r.__dict__) for r in caplog.records]
    assert not [text for text in everything if SENTINEL in text]


def test_nothing_is_printed(capfd: pytest.CaptureFixture[str]) -> None:
    fresh = ContractValidator(COLUMNS)  # building the context prints nothing either
    fresh.validate(_set(canonical(200), "age", [0], 999.0))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")  # in particular no "Calculating Metrics" progress bar


# The vectorised evaluation (contract_eval.py) gives great_expectations' own counts, batch for batch.

@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_each_bad_batch_counts_as_gx_counts_it(validator: ContractValidator, case: str) -> None:
    spoil, _ = BAD_BATCHES[case]
    frame = spoil(canonical())
    assert validator.validate(frame) == validator.validate_with_gx(frame)


@pytest.mark.parametrize("seed", range(6))
def test_random_spoiled_batches_count_as_gx_counts_them(validator: ContractValidator, seed: int) -> None:
    # 300 rows, each cell spoiled with probability 0.1 (out of bounds, out of set, or null): every
    # rule fails on some rows, and every count must match GX's exactly.
    rng = np.random.default_rng(seed)
    frame = canonical(300)
    n = len(frame)
    def pick() -> np.ndarray:
        return rng.random(n) < 0.1
    frame.loc[pick(), "age"] = rng.choice([-1.0, 121.0, np.nan, 60.0])
    frame.loc[pick(), "sex"] = rng.choice(np.array(["X", None, "F"], dtype=object))
    frame.loc[pick(), "visit"] = pd.Timestamp("2021-06-01", tz="UTC")
    frame.loc[pick(), "visit"] = pd.NaT
    frame.loc[pick(), "smoker"] = pd.NA
    assert validator.validate(frame) == validator.validate_with_gx(frame)


def test_an_expectation_with_other_arguments_is_left_to_gx() -> None:
    class Config:
        type = "expect_column_values_to_be_between"
        kwargs = {"column": "a", "min_value": 0, "max_value": 1, "mostly": 0.9}

    assert rules_of([Config()]) is None
