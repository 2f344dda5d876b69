"""The data contract: a great_expectations suite generated from the config's column specs.

Stage 2 checks every input batch against it, and stage 7 checks the synthetic output against
the same suite. Results are reduced to counts per (column, expectation type): GX runs with a
result format that returns no sample values, and nothing from the data reaches a message, an
exception or a log record. Only public config (column names, expectation types) and counts do.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

# Before the import. GX 1.24 ships no analytics and never reads it, but the earlier 1.x releases
# that pyproject allows (>=1.5) send usage events unless it is off. Set, not setdefault, so an
# inherited "True" cannot switch them back on.
os.environ["GX_ANALYTICS_ENABLED"] = "False"
# GX imports pyspark when it is installed (the `spark` extra), and pyspark 4 warns on import that it
# does not fully support pandas 3. synthgate hands Spark Arrow batches, never pandas frames, so on
# stderr that warning is only noise (and breaks the CLI's one error line).
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

import pyarrow as pa  # noqa: E402

from .contract_arrow import evaluate_arrow  # noqa: E402
from .contract_eval import evaluate, rules_of  # noqa: E402



class ColumnSpec(Protocol):
    """What the contract reads of a column's config (pipeline/config.py's ColumnSpec has these)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str | None: ...
    @property
    def role(self) -> str: ...
    @property
    def bounds(self) -> Any: ...
    @property
    def categories(self) -> Any: ...
    @property
    def nulls(self) -> bool: ...


__all__ = ["Counts", "build_suite", "ContractValidator", "merge_counts", "failures", "check_contract"]

Counts = dict[tuple[str, str], int]
"""(column, expectation type) -> number of failing rows. Zero counts are left out."""

logger = logging.getLogger(__name__)

# GX logs caught exceptions with their message (`Caught exception {e}` at ERROR, aborted metrics
# at WARNING), and a pandas message can quote a cell. We report every failure ourselves, by
# column and expectation type, so GX's own records are not needed: keep them all back.
logging.getLogger("great_expectations").setLevel(logging.CRITICAL)

# BASIC gives unexpected_count; a partial list of length 0 means no sample values come back.
_RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 0}
_EXIST = "expect_column_to_exist"


def build_suite(columns: Sequence[ColumnSpec]) -> gx.ExpectationSuite:
    """The contract for the non-identifier columns: presence, nulls, and every public domain.

    Domains marked `estimate` get no expectation: they are not public, so the data cannot be
    held to them before they are measured under DP.
    """
    e = gx.expectations
    expectations: list[Any] = []
    for col in columns:
        if col.role != "attribute":
            continue
        expectations.append(e.ExpectColumnToExist(column=col.name))
        if not col.nulls:
            expectations.append(e.ExpectColumnValuesToNotBeNull(column=col.name))
        if isinstance(col.bounds, tuple):
            low, high = (_utc(b) if col.type == "datetime" else float(b) for b in col.bounds)
            expectations.append(e.ExpectColumnValuesToBeBetween(column=col.name, min_value=low, max_value=high))
        if isinstance(col.categories, tuple):
            expectations.append(e.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.categories)))
        if col.type == "boolean":
            expectations.append(e.ExpectColumnValuesToBeInSet(column=col.name, value_set=[True, False]))
    # Passed in at once: `add_expectation` compares each new expectation with every earlier one
    # (quadratic: 3,000 columns took hours, found by tests/fuzz). Column names are unique, so
    # there is nothing for that check to find.
    return gx.ExpectationSuite(name="release-contract", expectations=expectations)


class ContractValidator:
    """Checks canonical batches against one contract.

    The context, suite, data source, asset, batch and validation definitions are built once
    here and reused for every batch: building them costs far more than validating a batch.
    The context is ephemeral (in memory), with analytics and progress bars off.
    """

    def __init__(self, columns: Sequence[ColumnSpec]) -> None:
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        self._context = gx.get_context(mode="ephemeral", project_config=config)
        self.suite = self._context.suites.add(build_suite(columns))
        batch = (
            self._context.data_sources.add_pandas("contract-input")
            .add_dataframe_asset("batch")
            .add_batch_definition_whole_dataframe("whole-batch")
        )
        self._definition = self._context.validation_definitions.add(
            gx.ValidationDefinition(name="release-contract", data=batch, suite=self.suite)
        )
        # Suite order, so results read column by column whatever order GX returns them in.
        self._keys = [(str(c.kwargs["column"]), str(c.type)) for c in self.suite.expectation_configurations]
        # The suite's rules, evaluated without GX's per-batch graph (see contract_eval.py); None: GX runs them.
        self._rules = rules_of(self.suite.expectation_configurations)

    def validate(self, frame: pd.DataFrame) -> Counts:
        """Failing rows per (column, expectation type) in one batch; passing ones are left out.

        A missing column counts every row of the batch (at least 1, so an empty batch still
        fails), and its other expectations are not reported again. An expectation that could not
        be evaluated (e.g. a dtype that does not match the config type) also counts every row.
        """
        if self._rules is None:
            return self.validate_with_gx(frame)
        return self._reduced(evaluate(frame, self._rules), set(frame.columns), len(frame))

    def validate_arrow(self, batch: pa.RecordBatch) -> Counts | None:
        """`validate` on an Arrow batch as the sampler writes it, with the counts `validate` gives on
        the same rows in canonical pandas types (contract_arrow.py); None when some rule or column
        type is evaluated on pandas only (then convert and call `validate`)."""
        evaluated = None if self._rules is None else evaluate_arrow(batch, self._rules)
        if evaluated is None:
            return None
        return self._reduced(evaluated, set(batch.schema.names), batch.num_rows)

    def _reduced(self, evaluated: Mapping[tuple[str, str], int | None], present: set[str], n_rows: int) -> Counts:
        whole_batch = max(n_rows, 1)
        counts: Counts = {}
        for (column, kind), n_failed in evaluated.items():
            if n_failed is None:
                logger.warning("contract expectation not evaluated", extra={"column": column, "expectation": kind})
                n_failed = whole_batch
            if n_failed and (column in present or kind == _EXIST):
                counts[(column, kind)] = n_failed
        return {key: counts[key] for key in self._keys if key in counts}

    def validate_with_gx(self, frame: pd.DataFrame) -> Counts:
        """`validate`, evaluated by great_expectations itself (the reference the fast path is tested against)."""
        result = self._definition.run(batch_parameters={"dataframe": frame}, result_format=_RESULT_FORMAT)
        whole_batch = max(len(frame), 1)
        present = set(frame.columns)
        counts: Counts = {}
        for item in result.results:
            config = item.expectation_config
            if config is None:  # every result of a suite run carries its expectation
                raise RuntimeError("great-expectations returned a result without its expectation")
            column, kind = str(config.kwargs["column"]), str(config.type)
            if item.success or (column not in present and kind != _EXIST):
                continue  # a missing column is reported once, by expect_column_to_exist
            n_failed = (item.result or {}).get("unexpected_count", whole_batch if kind == _EXIST else None)
            if n_failed is None:  # it raised: GX caught it; its message is not ours to pass on
                logger.warning("contract expectation not evaluated", extra={"column": column, "expectation": kind})
                n_failed = whole_batch
            if n_failed:
                counts[(column, kind)] = int(n_failed)
        return {key: counts[key] for key in self._keys if key in counts}

    def validate_batches(self, frames: Iterable[pd.DataFrame]) -> Counts:
        """Failing rows summed over many batches (e.g. every batch the loader yields)."""
        total: Counts = {}
        for frame in frames:
            total = merge_counts(total, self.validate(frame))
        return total


def merge_counts(*counts: Mapping[tuple[str, str], int]) -> Counts:
    """Add up per-batch counts, keeping the first-seen order of keys."""
    total: Counts = {}
    for part in counts:
        for key, n in part.items():
            total[key] = total.get(key, 0) + n
    return {key: n for key, n in total.items() if n}


def failures(counts: Mapping[tuple[str, str], int]) -> list[str]:
    """One line per failed expectation, naming column, rule and row count (never a value)."""
    return [f"column '{column}': {kind} failed for {n} row(s)" for (column, kind), n in counts.items() if n]


def check_contract(frame: pd.DataFrame, columns: Sequence[ColumnSpec]) -> list[str]:
    """One-off check of one frame. For many batches, build a `ContractValidator` once instead."""
    return failures(ContractValidator(columns).validate(frame))


def _utc(value: Any) -> dt.datetime:
    """A bound as a tz-aware UTC timestamp, matching the loader's datetime64[ns, UTC] columns.

    A naive bound is read as UTC; comparing a naive bound with an aware column would raise.
    """
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
