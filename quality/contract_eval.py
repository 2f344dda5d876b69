"""The contract's expectations evaluated directly with vectorised pandas operations.

great_expectations builds a metric graph for every batch it validates: about a second a batch
whatever its size, which made the contract the largest cost of a run on a large table (input and
output are both checked, batch by batch). The suite stays the definition of the contract
(`contract.build_suite`); this module evaluates the four expectation types that suite is made of,
with GX's semantics for pandas (nulls are skipped by every rule except not-null, bounds are
inclusive), and says so by returning None for anything else, so that GX evaluates it instead.
`tests/quality/test_contract_eval.py` holds the two to the same counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["Rule", "rules_of", "evaluate"]

_EXIST = "expect_column_to_exist"
_NOT_NULL = "expect_column_values_to_not_be_null"
_BETWEEN = "expect_column_values_to_be_between"
_IN_SET = "expect_column_values_to_be_in_set"
_ARGUMENTS = {_EXIST: {"column"}, _NOT_NULL: {"column"}, _BETWEEN: {"column", "min_value", "max_value"},
              _IN_SET: {"column", "value_set"}}

Rule = tuple[str, str, Mapping[str, Any]]
"""(column, expectation type, its arguments)."""


def rules_of(configurations: Sequence[Any]) -> tuple[Rule, ...] | None:
    """The suite's expectations as rules, or None when one of them is not evaluated here (another
    type, or an argument such as `mostly` or `strict_min` that changes the semantics)."""
    rules = []
    for config in configurations:
        kind, kwargs = str(config.type), dict(config.kwargs)
        if kind not in _ARGUMENTS or set(kwargs) - _ARGUMENTS[kind] or "column" not in kwargs:
            return None
        if kind == _BETWEEN and (kwargs.get("min_value") is None or kwargs.get("max_value") is None):
            return None
        rules.append((str(kwargs["column"]), kind, kwargs))
    return tuple(rules)


def evaluate(frame: pd.DataFrame, rules: Sequence[Rule]) -> dict[tuple[str, str], int | None]:
    """Failing rows per (column, expectation type); None where a rule cannot be evaluated on this
    column's dtype (GX reports those as not evaluated). A missing column fails every row."""
    whole_batch = max(len(frame), 1)
    present = set(frame.columns)
    nulls: dict[str, pd.Series] = {}
    counts: dict[tuple[str, str], int | None] = {}
    for column, kind, kwargs in rules:
        if column not in present:
            counts[(column, kind)] = whole_batch if kind == _EXIST else 0
            continue
        if kind == _EXIST:
            counts[(column, kind)] = 0
            continue
        values = frame[column]
        missing = nulls.setdefault(column, values.isna())
        if kind == _NOT_NULL:
            counts[(column, kind)] = int(missing.sum())
            continue
        kept = values[~missing]
        try:
            if kind == _BETWEEN:
                bad = (kept < kwargs["min_value"]) | (kept > kwargs["max_value"])
            else:
                bad = ~kept.isin(list(kwargs["value_set"]))
            counts[(column, kind)] = int(bad.sum())
        except (TypeError, ValueError):
            counts[(column, kind)] = None
    return counts
