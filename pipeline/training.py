"""Stage 3, encode: the training rows as integer codes over the released domains, from the engine
that read them in pass 1 (the source is not read again; see `engine.py`).

Values outside DP-estimated bounds are clamped to them and counted per column, and rows beyond an
individual's cap are left out; both are said in the internal report (exact figures, so never in a
release): nothing is lost without a word.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from synthgate.privacy.counts import CodeCounts

from .config import ReleaseConfig
from .context import Progress
from .encode import TableCodec
from .engine import Engine
from .errors import InputError
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
    counts: CodeCounts | None = None  # where the engine counts the codes for the model, if not from `codes`
    n_rows: int | None = None  # every training row; None: `codes` holds them all (see TrainingCodes)

    @property
    def rows(self) -> int:
        return len(self.codes) if self.n_rows is None else self.n_rows


def encode_training(config: ReleaseConfig, codec: TableCodec, engine: Engine, validated: Validated,
                    progress: Progress | None = None) -> Encoded:
    """The training rows pass 1 validated, as codes; refuses codes that are not exactly those rows."""
    training = engine.encode(codec, progress)
    if training.rows != validated.n_train:  # an engine bug, or a source an engine read twice that changed
        raise InputError(f"{config.source_path}: the input changed while the run was reading it (the two reads "
                         "found different rows); run again on a stable table or snapshot")
    warnings = _warnings(config, training.clamped, training.rows, validated)
    for warning in warnings:
        log.warning(warning)
    return Encoded(training.codes, dict(training.clamped), warnings, training.counts, training.n_rows)


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
