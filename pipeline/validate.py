"""Stage 1, load and validate: read the input once, check it against its contract, and keep what the
later stages need from this pass (row counts, DP-domain statistics, the two check samples).

Nothing is spent here. A run stops (ContractError, exit 2) on the first file that breaks its
contract; only counts per rule are reported, never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from synthgate.privacy.estimate import DomainStatistics
from synthgate.quality.contract import ContractValidator, failures as contract_failures, merge_counts

from .config import ReleaseConfig
from .context import Progress
from .errors import ContractError, InputError
from .formats import format_from_suffix
from .load import ParseFailures, SplitBatch, iter_batches, iter_split_batches
from .samples import RowIndexSample, RowSample
from .split import RowKeys, SplitKey
from .units import UnitRows, bound_contributions

__all__ = ["Validated", "validate_source", "validate_input"]



@dataclass(frozen=True)
class Validated:
    """What pass 1 found: exact sizes (internal), domain statistics (released only through DP), and the
    check samples (bottom-k by a keyed priority, so a neighbour swaps at most one row in and out):
    `check_rows` are the positions, among the training rows in stream order (the order of the
    training codes), of the `gate.sample_rows` rows the marginal checks count."""

    n_train: int
    n_holdout: int
    train_sample: pd.DataFrame
    holdout_sample: pd.DataFrame
    statistics: DomainStatistics
    units: UnitRows | None
    check_rows: np.ndarray


def validate_source(config: ReleaseConfig, key: SplitKey, progress: Progress | None = None, *,
                    keep: Callable[[pd.DataFrame], None] | None = None) -> Validated:
    """Pass 1 over the source (and holdout file): contract, parse failures, statistics, check samples.
    `keep` receives each batch's training rows (parsed), so an engine can encode or store them
    without reading the source again."""
    units = bound_contributions(config, key)
    columns = config.attributes
    contract = ContractValidator(columns)
    statistics = DomainStatistics(config.estimated_kinds)
    train_sample = RowSample(config.utility.sample_rows)
    holdout_sample = RowSample(config.utility.sample_rows)
    check_rows = RowIndexSample(config.gate.sample_rows)
    n_train = n_holdout = 0
    files: dict[Path, tuple[ParseFailures, dict[tuple[str, str], int]]] = {}
    for path, failures, part in _split_source(config, key, units):
        _, counts = files.setdefault(path, (failures, {}))
        files[path] = (failures, merge_counts(counts, contract.validate(part.batch.frame)))
        statistics.update(part.train)
        if keep is not None:
            keep(part.train)
        train_sample.add(part.train, part.train_priority)
        check_rows.add(part.train_priority)
        holdout_sample.add(part.holdout, part.holdout_priority)
        n_train += len(part.train)
        n_holdout += len(part.holdout)
        if progress:
            progress("load", n_train + n_holdout)
    for path, (failures, counts) in files.items():
        problems = failures.lines() + contract_failures(_without_parse_failures(counts, failures))
        if problems:
            raise ContractError(f"{path}", problems)
    if n_train < 1:
        raise InputError(f"{config.source_path}: no rows to train on (the input has no data rows)")
    if n_holdout < 1:
        raise InputError(f"{config.holdout_path or config.source_path}: the holdout is empty; the risk checks need "
                         "unseen rows (use a larger input or a holdout file)")
    return Validated(n_train, n_holdout, train_sample.frame(), holdout_sample.frame(), statistics, units,
                     check_rows.rows())


def validate_input(config: ReleaseConfig) -> tuple[int, int]:
    """Check config and input against the contract without spending budget; (training, holdout) rows
    of one secret split. Each run draws its own split, so a run's sizes differ a little."""
    validated = validate_source(config, SplitKey.fresh())
    return validated.n_train, validated.n_holdout


def _without_parse_failures(counts: dict[tuple[str, str], int], failures: ParseFailures) -> dict[tuple[str, str], int]:
    """A cell that does not parse becomes a null; report it once, as a parse failure, not again as a null."""
    adjusted = dict(counts)
    for column, n in failures.counts.items():
        key = (column, "expect_column_values_to_not_be_null")
        if key in adjusted:
            adjusted[key] -= n
            if adjusted[key] <= 0:
                del adjusted[key]
    return adjusted


def _split_source(config: ReleaseConfig, key: SplitKey, units: UnitRows | None
                  ) -> Iterator[tuple[Path, ParseFailures, SplitBatch]]:
    """(file, its parse failures, the split batch) per batch, for the source and any holdout file.
    Rows dropped by contribution bounding are in the whole batch only."""
    columns = config.attributes
    failures = ParseFailures()
    batches = iter_batches(config.source_path, config.source_format, columns,
                           identifiers=config.identifiers, failures=failures)
    holdout_path = config.holdout_path
    fraction = None if holdout_path else config.holdout.fraction
    for part in iter_split_batches(batches, row_keys=RowKeys(key, fraction), units=units):
        yield config.source_path, failures, part
    if holdout_path is None:
        return
    holdout_failures = ParseFailures()
    fmt = config.source.format or format_from_suffix(holdout_path)
    holdout_keys = RowKeys(key, None)
    for batch in iter_batches(holdout_path, fmt, columns, identifiers=config.identifiers, failures=holdout_failures):
        _, priority = holdout_keys.of(batch.frame)
        yield holdout_path, holdout_failures, SplitBatch(batch, batch.frame.iloc[:0], batch.frame, priority[:0], priority)
