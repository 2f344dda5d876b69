"""`SummedCounts` gives exactly the counts a fresh pass over the rows gives, and reads the rows once
per clique: the whole domain when it is small, else each clique it is asked for, else (too large to
keep) the query as asked."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from synthgate.privacy import counts as counts_module
from synthgate.privacy.counts import ArrayCounts, SummedCounts


class _Spy(ArrayCounts):
    """ArrayCounts that records every query it answers (each one is a pass over the rows)."""

    def __init__(self, codes: np.ndarray) -> None:
        super().__init__(codes)
        self.passes: list[tuple[int, ...]] = []

    def counts(self, columns: Sequence[int], sizes: Sequence[int],
               groupings: Sequence[np.ndarray | None]) -> np.ndarray:
        self.passes.append(tuple(columns))
        return super().counts(columns, sizes, groupings)


def _codes(sizes: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # skewed and dependent columns, so that a wrong axis or a wrong grouping changes the counts
    base = rng.integers(0, 1 << 30, n)
    return np.column_stack([(base // (7**j) + rng.integers(0, 2, n)) % s for j, s in enumerate(sizes)]).astype(np.int32)


def _queries(sizes: tuple[int, ...], rng: np.random.Generator, n_queries: int
             ) -> list[tuple[list[int], list[np.ndarray | None]]]:
    out = []
    for _ in range(n_queries):
        k = int(rng.integers(1, 4))
        columns = [int(c) for c in rng.choice(len(sizes), size=k, replace=False)]  # any order
        groupings: list[np.ndarray | None] = [
            rng.integers(0, max(1, sizes[c] // 3), sizes[c]) if rng.random() < 0.5 else None for c in columns]
        out.append((columns, groupings))
    return out


@pytest.mark.parametrize("table_cells", [1 << 22, 600, 40])  # whole domain / each clique / some too large
def test_summed_counts_equal_a_fresh_count(monkeypatch: pytest.MonkeyPatch, table_cells: int) -> None:
    monkeypatch.setattr(counts_module, "_TABLE_CELLS", table_cells)
    sizes = (2, 3, 15, 53, 2, 9)
    codes = _codes(sizes, 20_000, seed=1)
    summed, direct = SummedCounts(ArrayCounts(codes), sizes), ArrayCounts(codes)
    for columns, groupings in _queries(sizes, np.random.default_rng(2), 60):
        shape = [sizes[c] if g is None else int(g.max()) + 1 for c, g in zip(columns, groupings)]
        got = summed.counts(columns, shape, groupings)
        assert got.shape == tuple(shape)
        np.testing.assert_array_equal(got, direct.counts(columns, shape, groupings))
    assert summed.counts([], [], []).tolist() == [20_000]


def test_a_small_domain_is_read_once() -> None:
    sizes = (2, 2, 2, 15, 2, 2, 2, 53)  # fertility's domain: 50,880 cells
    spy = _Spy(_codes(sizes, 5_000, seed=3))
    summed = SummedCounts(spy, sizes)
    for columns, groupings in _queries(sizes, np.random.default_rng(4), 80):
        summed.counts(columns, [sizes[c] if g is None else int(g.max()) + 1 for c, g in zip(columns, groupings)],
                      groupings)
    assert spy.passes == [tuple(range(len(sizes)))]


def test_a_large_domain_is_read_once_per_clique(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counts_module, "_TABLE_CELLS", 1_000)
    sizes = (20, 20, 20, 20)
    spy = _Spy(_codes(sizes, 5_000, seed=5))
    summed = SummedCounts(spy, sizes)
    summed.counts([1, 0], [20, 20], [None, None])
    summed.counts([0], [20], [None])                      # inside (0, 1): no new pass
    summed.counts([0, 1], [4, 20], [np.arange(20) // 5, None])
    summed.counts([2, 0, 1], [20, 20, 20], [None] * 3)     # 8,000 cells: counted as asked, not kept
    summed.counts([3, 2], [20, 20], [None, None])
    assert spy.passes == [(0, 1), (2, 0, 1), (2, 3)]


def test_summed_counts_need_one_size_per_column() -> None:
    with pytest.raises(ValueError, match="one domain size per column"):
        SummedCounts(ArrayCounts(np.zeros((3, 2), np.int32)), (2,))
