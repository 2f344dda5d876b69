"""Sampling by parent value from one stable sort draws exactly what the per-value passes drew:
same rows, same random stream (the frozen replays depend on it)."""

from __future__ import annotations

import numpy as np
import pytest

from synthgate.privacy.models.bayesnet import draw_rows, grouped_rows


def _draw_rows_per_value(conditional: np.ndarray, parents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The implementation before grouped_rows: one comparison pass over every row per parent value."""
    cumulative = np.cumsum(conditional, axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(parents.size)
    out = np.empty(parents.size, dtype=np.int64)
    for value in np.unique(parents):
        rows = np.flatnonzero(parents == value)
        out[rows] = np.searchsorted(cumulative[value], u[rows], side="right")
    return out.clip(0, conditional.shape[1] - 1)


@pytest.mark.parametrize("n_values", [1, 7, 1_000, 70_000])  # 70,000: past the radix-sort width
def test_grouped_rows_are_the_per_value_rows(n_values: int) -> None:
    rng = np.random.default_rng(n_values)
    values = rng.integers(0, n_values, 30_000) // 3 * 3 % n_values  # some values never occur
    got = list(grouped_rows(values, n_values))
    assert [v for v, _ in got] == [int(v) for v in np.unique(values)]
    for value, rows in got:
        np.testing.assert_array_equal(rows, np.flatnonzero(values == value))
    assert list(grouped_rows(np.zeros(0, np.int64), n_values)) == []


@pytest.mark.parametrize("n_parents", [3, 1_024])
def test_draw_rows_keeps_the_random_stream(n_parents: int) -> None:
    rng = np.random.default_rng(7)
    conditional = rng.dirichlet(np.full(9, 0.3), size=n_parents)
    parents = rng.integers(0, n_parents, 50_000) // 2 * 2  # odd parent values never occur
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    np.testing.assert_array_equal(draw_rows(conditional, parents, a), _draw_rows_per_value(conditional, parents, b))
    assert a.random() == b.random()  # the generators were left in the same state
