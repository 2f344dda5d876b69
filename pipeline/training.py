"""Stage 3, encode: pass 2 over the source, the training rows as integer codes over the released
domains. The same secret split as pass 1 picks the rows.

Values outside DP-estimated bounds are clamped to them and counted per column, and rows beyond an
individual's cap are left out; both are said in the internal report (exact figures, so never in a
release): nothing is lost without a word.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .config import ReleaseConfig
from .encode import NumericCodec, TableCodec
from .errors import InputError
from .load import Batch, iter_batches, iter_split
from .split import RowKeys, SplitKey
from .context import Progress
from .validate import Validated

__all__ = ["Encoded", "encode_training"]

log = logging.getLogger("synthgate.encode")
_CLAMPED_WARNING_SHARE = 0.01  # more than this share of a column clamped earns a warning


@dataclass(frozen=True)
class Encoded:
    """Training codes, and per estimated-bounds column how many values were clamped (exact).
    `warnings` quote exact figures of the data: internal report and log only."""

    codes: np.ndarray
    clamped: Mapping[str, int]
    warnings: tuple[str, ...]


def encode_training(config: ReleaseConfig, codec: TableCodec, key: SplitKey, validated: Validated,
                    progress: Progress | None = None) -> Encoded:
    """The training rows as codes; refuses a table whose rows changed since pass 1."""
    estimated = [c for c, spec in zip(codec.codecs, config.attributes)
                 if spec.bounds == "estimate" and isinstance(c, NumericCodec)]
    clamped = {c.name: 0 for c in estimated}
    parts = []
    rows = 0
    batches: Iterator[Batch] = iter_batches(config.source_path, config.source_format, config.attributes,
                                            identifiers=config.identifiers)
    split = iter_split(batches, row_keys=RowKeys(key, None if config.holdout_path else config.holdout.fraction),
                       units=validated.units)
    for train, _ in split:
        parts.append(codec.encode(train))
        for column_codec in estimated:
            clamped[column_codec.name] += column_codec.count_outside(train[column_codec.name])
        rows += len(train)
        if progress:
            progress("encode", rows)
    codes = np.concatenate(parts) if parts else np.zeros((0, len(codec.codecs)), np.int32)
    if len(codes) != validated.n_train:  # a database table (no file to stat) that changed between the reads
        raise InputError(f"{config.source_path}: the input changed while the run was reading it (the two reads "
                         "found different rows); run again on a stable table or snapshot")
    warnings = _warnings(config, clamped, len(codes), validated)
    for warning in warnings:
        log.warning(warning)
    return Encoded(codes, clamped, warnings)


def _warnings(config: ReleaseConfig, clamped: Mapping[str, int], n_rows: int, validated: Validated) -> tuple[str, ...]:
    found = [f"column '{column}': {n / n_rows:.0%} of training values fell outside the DP-estimated bounds and "
             "were clamped; give public bounds or raise privacy.domain_share"
             for column, n in clamped.items() if n > _CLAMPED_WARNING_SHARE * max(n_rows, 1)]
    units = validated.units
    if units is not None and units.rows_dropped:
        found.append(f"column '{config.unit_column}': {units.rows_dropped} training row(s) beyond "
                     f"privacy.max_rows_per_unit={units.max_rows_per_unit} per individual were left out "
                     "(contribution bounding)")
    return tuple(found)
