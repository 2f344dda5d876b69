"""Contribution bounding: with a `role: unit` column, each individual keeps at most k training rows.

Neighbouring tables then differ by one individual (all of their rows), not by one row, so every
query's sensitivity becomes k (`ReleaseConfig.contribution`). Which of a person's rows are kept is
drawn from a secure random source, never from `--seed` and never from the values, and depends on
that person's rows only: adding or removing someone changes nobody else's kept rows. The holdout is
split by individual too, so nobody sits on both sides of the risk checks.

Unit ids are read as text and hashed in memory with two siphash keys drawn afresh for each run (128
bits, 16 bytes a row): nobody can build two ids that collide, and two real ids merge into one unit
with a chance of about n²/2^129. A fixed, public key would let two colliding ids be one unit, so that
removing one person changes which of the other's rows are kept. The holdout is keyed by the run's
secret too: the published seed says nothing about who was held out. The ids are never parsed,
logged or kept.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import ReleaseConfig
from .errors import InputError
from .load import iter_text_column
from .split import SplitKey, uniform_from

__all__ = ["UnitRows", "bound_contributions"]


@dataclass(frozen=True)
class UnitRows:
    """Per source row: held out (by individual), or dropped as beyond its individual's cap."""

    held: np.ndarray
    dropped: np.ndarray
    training_units: int
    max_rows_per_unit: int
    training_rows_dropped: int

    @property
    def rows_dropped(self) -> int:
        """Training rows left out by the bound (holdout rows past it are left out of the checks too)."""
        return self.training_rows_dropped

    def summary(self, column: str) -> dict[str, object]:
        """Exact figures for the internal report (operator-facing, never released)."""
        return {"unit_column": column, "max_rows_per_unit": self.max_rows_per_unit,
                "training_units": self.training_units, "training_rows_dropped": self.rows_dropped}


def bound_contributions(config: ReleaseConfig, key: SplitKey) -> UnitRows | None:
    """The row split and the contribution bound for a config with a unit column; None without one."""
    column = config.unit_column
    if column is None:
        return None
    keys = _unit_keys(config, column, key)
    held = np.zeros(len(keys), bool) if config.holdout_path else _held_out(keys, key, config.holdout.fraction or 0.0)
    # Holdout individuals are capped too: the DP gate counts holdout rows, with sensitivity k.
    dropped, _ = _beyond_cap(keys, np.ones(len(keys), bool), config.privacy.max_rows_per_unit)
    training_units = _count_units(keys[~held])
    return UnitRows(held, dropped, training_units, config.privacy.max_rows_per_unit, int((dropped & ~held).sum()))


def _unit_keys(config: ReleaseConfig, column: str, key: SplitKey) -> np.ndarray:
    """(rows, 2) uint64: each id hashed under two secret siphash keys."""
    second_key = f"{key.held:016x}"
    parts: list[np.ndarray] = []
    missing = 0
    for array in iter_text_column(config.source_path, config.source_format, config.column(column)):
        missing += array.null_count
        if not missing:
            ids = np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)
            parts.append(np.column_stack([pd.util.hash_array(ids, hash_key=key.hash_key),
                                          pd.util.hash_array(ids, hash_key=second_key)]))
    if missing:
        raise InputError(f"{config.source_path}: column '{column}' (role: unit) is empty in {missing} row(s); every "
                         "row needs the id of its individual, or contributions cannot be bounded")
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.uint64)


def _held_out(keys: np.ndarray, key: SplitKey, fraction: float) -> np.ndarray:
    """Whole individuals to the holdout, by a keyed function of their (already secretly keyed) id."""
    with np.errstate(over="ignore"):
        word = keys[:, 0] ^ (keys[:, 1] * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64(key.held)
        word = pd.util.hash_array(word)  # a bijective 64-bit mix of the keyed word
    return uniform_from(word) < fraction


def _count_units(keys: np.ndarray) -> int:
    return int(np.unique(keys, axis=0).shape[0]) if len(keys) else 0


def _beyond_cap(keys: np.ndarray, eligible: np.ndarray, cap: int) -> tuple[np.ndarray, int]:
    """(rows past the first `cap` of each individual in a secure random order, number of individuals)."""
    rows = np.flatnonzero(eligible)
    priority = np.random.default_rng(secrets.randbits(128)).random(rows.size)
    order = np.lexsort((priority, keys[rows, 1], keys[rows, 0]))
    sorted_keys = keys[rows][order]
    starts = np.ones(rows.size, bool)
    starts[1:] = np.any(sorted_keys[1:] != sorted_keys[:-1], axis=1)
    position = np.arange(rows.size)
    rank = position - np.maximum.accumulate(np.where(starts, position, 0))
    dropped = np.zeros(len(keys), bool)
    dropped[rows[order[rank >= cap]]] = True
    return dropped, int(starts.sum()) if rows.size else 0
