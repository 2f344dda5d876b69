"""The holdout split and check samples: secret, content-keyed, and stable under neighbouring tables.

Tests on the real health_insurance table. A split that anyone holding the manifest could redo, or
that moved other rows when one row is added or removed, breaks the DP guarantee of every
measurement of the training rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synthgate.pipeline.config import load_config
from synthgate.pipeline.load import Batch, iter_batches, iter_split, iter_split_batches
from synthgate.pipeline.samples import RowIndexSample, RowSample
from synthgate.pipeline.split import OccurrenceCounter, RowKeys, SplitKey, row_hashes

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "health_insurance.yaml"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    config = load_config(CONFIG)
    batches = list(iter_batches(config.source_path, config.source_format, config.attributes,
                                identifiers=config.identifiers))
    return pd.concat([b.frame for b in batches], ignore_index=True)


def _batches(frame: pd.DataFrame, size: int) -> Iterator[Batch]:
    for start in range(0, len(frame), size):
        yield Batch(frame.iloc[start:start + size].reset_index(drop=True), start)


def _split(frame: pd.DataFrame, key: SplitKey, *, size: int = 4096) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = list(iter_split(_batches(frame, size), row_keys=RowKeys(key, 0.2)))
    return (pd.concat([p[0] for p in parts], ignore_index=True), pd.concat([p[1] for p in parts], ignore_index=True))


def _multiset(frame: pd.DataFrame) -> Counter[tuple[object, ...]]:
    return Counter(tuple("<null>" if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False))


def test_two_runs_draw_different_splits_whatever_the_seed(table: pd.DataFrame) -> None:
    """The split does not come from --seed: each run's fresh secret gives a different one."""
    first, _ = _split(table, SplitKey.fresh())
    second, _ = _split(table, SplitKey.fresh())
    moved = sum(((_multiset(first) - _multiset(second)) + (_multiset(second) - _multiset(first))).values())
    assert moved > 0.1 * len(table)


def test_the_same_key_splits_alike_whatever_the_batch_boundaries(table: pd.DataFrame) -> None:
    """Both passes over the input must agree, and batch sizes depend on the reader, not the data."""
    key = SplitKey.fresh()
    train_a, holdout_a = _split(table, key, size=4096)
    train_b, holdout_b = _split(table, key, size=777)
    assert train_a.equals(train_b) and holdout_a.equals(holdout_b)


@pytest.mark.parametrize("where", ["first", "middle", "duplicate"])
def test_neighbouring_tables_differ_only_in_the_changed_rows_membership(table: pd.DataFrame, where: str) -> None:
    """The regression the issue demonstrated: removing row 0 and re-splitting moved 2,569 training rows."""
    key = SplitKey.fresh()
    if where == "first":
        neighbour = table.iloc[1:]
        changed = table.iloc[[0]]
    elif where == "middle":
        neighbour = table.drop(index=len(table) // 2)
        changed = table.iloc[[len(table) // 2]]
    else:  # add a copy of an existing row near the start: identical rows are interchangeable
        neighbour = pd.concat([table.iloc[:10], table.iloc[[5000]], table.iloc[10:]], ignore_index=True)
        changed = table.iloc[[5000]]
    train, holdout = _split(table, key)
    train_n, holdout_n = _split(neighbour.reset_index(drop=True), key)
    train_diff = (_multiset(train) - _multiset(train_n)) + (_multiset(train_n) - _multiset(train))
    holdout_diff = (_multiset(holdout) - _multiset(holdout_n)) + (_multiset(holdout_n) - _multiset(holdout))
    changed_row = next(iter(_multiset(changed)))
    assert sum(train_diff.values()) + sum(holdout_diff.values()) == 1
    assert set(train_diff) | set(holdout_diff) == {changed_row}


def test_the_held_out_share_follows_the_configured_fraction(table: pd.DataFrame) -> None:
    _, holdout = _split(table, SplitKey.fresh())
    assert stats.binomtest(len(holdout), len(table), 0.2).pvalue > 1e-4


def test_check_samples_of_neighbours_differ_by_at_most_one_row_in_and_one_out(table: pd.DataFrame) -> None:
    """The DP gate counts over these samples with sensitivity 1: a neighbour swaps one row at most."""
    key = SplitKey.fresh()

    def sample(frame: pd.DataFrame) -> Counter[tuple[object, ...]]:
        rows = RowSample(500)
        for part in iter_split_batches(_batches(frame, 1000), row_keys=RowKeys(key, 0.2)):
            rows.add(part.train, part.train_priority)
        return _multiset(rows.frame())

    base = sample(table)
    for neighbour in (table.iloc[1:], table.drop(index=123), pd.concat([table, table.iloc[[7]]])):
        other = sample(neighbour.reset_index(drop=True))
        assert sum((base - other).values()) <= 1 and sum((other - base).values()) <= 1


def test_occurrences_count_identical_rows_across_batches() -> None:
    counter = OccurrenceCounter()
    seen: Counter[int] = Counter()
    rng = np.random.default_rng(0)
    for _ in range(40):
        hashes = rng.integers(0, 50, size=rng.integers(0, 30)).astype(np.uint64)
        got = counter.next_occurrences(hashes)
        expected = []
        for h in hashes.tolist():
            expected.append(seen[h])
            seen[h] += 1
        assert got.tolist() == expected


def test_row_hashes_depend_on_the_secret_and_never_show_it(table: pd.DataFrame) -> None:
    key = SplitKey.fresh()
    head = table.head(200)
    assert np.array_equal(row_hashes(head, key), row_hashes(head.copy(), key))
    assert not np.array_equal(row_hashes(head, key), row_hashes(head, SplitKey.fresh()))
    assert str(key.row) not in repr(key) and key.hash_key not in repr(key)


def _marginal_sample(frame: pd.DataFrame, key: SplitKey, *, size: int = 1000, batch: int = 1000) -> pd.DataFrame:
    """The training rows a run's marginal checks count: positions kept by RowIndexSample."""
    rows, trains = RowIndexSample(size), []
    for part in iter_split_batches(_batches(frame, batch), row_keys=RowKeys(key, 0.2)):
        rows.add(part.train_priority)
        trains.append(part.train)
    return pd.concat(trains, ignore_index=True).iloc[rows.rows()]


def test_the_marginal_sample_is_keyed_fixed_size_and_swaps_one_row_for_a_neighbour(table: pd.DataFrame) -> None:
    """The same rule as the check samples (bottom-k of the secret priority), by position among the
    training rows: the same rows as RowSample keeps, whatever the batches; other rows with another key;
    a neighbour moves it by one row in and one out at most."""
    key = SplitKey.fresh()
    base = _marginal_sample(table, key)
    assert len(base) == 1000
    assert _multiset(base) == _marginal_sample_rows_by_row_sample(table, key)
    assert _multiset(_marginal_sample(table, key, batch=333)) == _multiset(base)
    other_key = _multiset(_marginal_sample(table, SplitKey.fresh()))
    assert sum((_multiset(base) - other_key).values()) > 500
    duplicate_early = pd.concat([table.iloc[:9], table.iloc[[7]], table.iloc[9:]])
    for neighbour in (table.iloc[1:], table.drop(index=123), duplicate_early):
        other = _multiset(_marginal_sample(neighbour.reset_index(drop=True), key))
        assert sum((_multiset(base) - other).values()) <= 1 and sum((other - _multiset(base)).values()) <= 1
    assert len(_marginal_sample(table.iloc[:900], key)) == len(_split(table.iloc[:900], key)[0])  # small: all


def _marginal_sample_rows_by_row_sample(frame: pd.DataFrame, key: SplitKey) -> Counter[tuple[object, ...]]:
    rows = RowSample(1000)
    for part in iter_split_batches(_batches(frame, 1000), row_keys=RowKeys(key, 0.2)):
        rows.add(part.train, part.train_priority)
    return _multiset(rows.frame())
