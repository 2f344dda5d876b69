"""Contribution bounding: with a `role: unit` column, each individual keeps at most k training rows.

Neighbouring tables then differ by one individual (all of their rows), not by one row, so every
query's sensitivity becomes k (`ReleaseConfig.contribution`). Which of a person's rows are kept is
drawn from a secure random source, never from `--seed` and never from the values, and depends on
that person's rows only: adding or removing someone changes nobody else's kept rows. The holdout is
split by individual too, so nobody sits on both sides of the risk checks.

Unit ids are read as text and hashed to 64 bits in memory (8 bytes a row); a hash collision merges
two people into one unit, which only ever drops more rows. The ids are never parsed, logged or kept.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import ReleaseConfig
from .errors import InputError
from .load import iter_text_column

__all__ = ["UnitRows", "bound_contributions"]


@dataclass(frozen=True)
class UnitRows:
    """Per source row: held out (by individual), or dropped as beyond its individual's cap."""

    held: np.ndarray
    dropped: np.ndarray
    training_units: int
    max_rows_per_unit: int

    @property
    def rows_dropped(self) -> int:
        return int(self.dropped.sum())

    def summary(self, column: str) -> dict[str, object]:
        """Exact figures for the internal report (operator-facing, never released)."""
        return {"unit_column": column, "max_rows_per_unit": self.max_rows_per_unit,
                "training_units": self.training_units, "training_rows_dropped": self.rows_dropped}


def bound_contributions(config: ReleaseConfig, seed: int) -> UnitRows | None:
    """The row split and the contribution bound for a config with a unit column; None without one."""
    column = config.unit_column
    if column is None:
        return None
    keys = _unit_keys(config, column)
    held = np.zeros(keys.size, bool) if config.holdout_path else _held_out(keys, seed, config.holdout.fraction or 0.0)
    dropped, units = _beyond_cap(keys, ~held, config.privacy.max_rows_per_unit)
    return UnitRows(held, dropped, units, config.privacy.max_rows_per_unit)


def _unit_keys(config: ReleaseConfig, column: str) -> np.ndarray:
    parts: list[np.ndarray] = []
    missing = 0
    for array in iter_text_column(config.source_path, config.source_format, config.column(column)):
        missing += array.null_count
        if not missing:
            parts.append(pd.util.hash_array(np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)))
    if missing:
        raise InputError(f"{config.source_path}: column '{column}' (role: unit) is empty in {missing} row(s); every "
                         "row needs the id of its individual, or contributions cannot be bounded")
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def _held_out(keys: np.ndarray, seed: int, fraction: float) -> np.ndarray:
    """Whole individuals to the holdout: a seeded hash of the unit id, so both passes agree."""
    salted = keys ^ pd.util.hash_array(np.array([seed & (2**64 - 1)], dtype=np.uint64))[0]
    uniform = (pd.util.hash_array(salted) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return uniform < fraction


def _beyond_cap(keys: np.ndarray, eligible: np.ndarray, cap: int) -> tuple[np.ndarray, int]:
    """(rows past the first `cap` of each individual in a secure random order, number of individuals)."""
    rows = np.flatnonzero(eligible)
    priority = np.random.default_rng(secrets.randbits(128)).random(rows.size)
    order = np.lexsort((priority, keys[rows]))
    sorted_keys = keys[rows][order]
    starts = np.ones(rows.size, bool)
    starts[1:] = sorted_keys[1:] != sorted_keys[:-1]
    position = np.arange(rows.size)
    rank = position - np.maximum.accumulate(np.where(starts, position, 0))
    dropped = np.zeros(keys.size, bool)
    dropped[rows[order[rank >= cap]]] = True
    return dropped, int(starts.sum()) if rows.size else 0
