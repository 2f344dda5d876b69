"""Iterative proportional fitting until it stops moving, with a cap on the rounds.

IPF converges geometrically when the margins are consistent (the tree's edge tables), and may
cycle when they are not (noisy tables that disagree, in the Bayesian network's families): the
tolerance ends the first case early, the cap bounds the second. Post-processing only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["IPF_TOLERANCE", "fit_margins", "iterate_to_fixpoint"]

# Largest change of any cell (the tables are distributions, so absolute) at which IPF stops. 1e-12 is
# far below what sampling can resolve and only ~1e4 ulps of 1, so stopping there instead of running
# the old fixed number of rounds leaves the fitted tables, and every stored release's replay, as
# they were (checked by tests/pipeline/test_replay_fixtures.py).
IPF_TOLERANCE = 1e-12
_MARGIN_ROUNDS = 60  # the tree's edge tables: consistent margins, usually converged in far fewer


def iterate_to_fixpoint(step: Callable[[np.ndarray], np.ndarray], start: np.ndarray, *, max_rounds: int,
                        tolerance: float = IPF_TOLERANCE) -> np.ndarray:
    """Apply `step` until no cell moves by `tolerance` or more, or `max_rounds` times."""
    current = start
    for _ in range(max_rounds):
        following = step(current)
        change = float(np.max(np.abs(following - current))) if current.size else 0.0
        current = following
        if change < tolerance:
            break
    return current


def fit_margins(table: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Iterative proportional fitting of a positive table to given row and column distributions."""

    def step(fitted: np.ndarray) -> np.ndarray:
        fitted = fitted * (rows / np.clip(fitted.sum(axis=1), 1e-300, None))[:, None]
        result: np.ndarray = fitted * (columns / np.clip(fitted.sum(axis=0), 1e-300, None))[None, :]
        return result

    fitted = iterate_to_fixpoint(step, table / table.sum(), max_rounds=_MARGIN_ROUNDS)
    result: np.ndarray = fitted / fitted.sum()
    return result
