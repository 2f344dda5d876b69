"""The holdout split and the check samples, keyed by a per-run secret that is never stored or published.

Why not the seed: the seed is in the manifest, so a split drawn from it can be redone by anyone,
on this table or on the table with one row added or removed. Drawn by row position, one removed
row would move thousands of others between training and holdout, and every measurement of the
training rows would lose far more privacy than its charge.

How: each row gets a 64-bit hash of its parsed values, mixed with a secret key, and an occurrence
number (the k-th identical row gets k). A row is held out when a keyed function of (hash,
occurrence) falls below the holdout fraction. The decision depends on the row's own content and on
how many identical rows came before it, so two neighbouring tables give training sets that differ
only in the changed row's own membership (identical rows are interchangeable), whatever its
position. The same function with a second key gives each row its priority for the fixed-size check
samples (the rows with the smallest priorities are kept): a neighbour changes a sample by at most
one row in and one row out. Both passes over the input compute the same key, hashes and occurrence
numbers, so they agree without storing the split.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["SplitKey", "RowKeys", "OccurrenceCounter", "row_hashes", "uniform_from", "keys_of_rows"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, repr=False)
class SplitKey:
    """Secret keys of one run: never written to a file, a log or the manifest (no repr either)."""

    row: int
    held: int
    priority: int
    hash_key: str  # pandas' 16-character siphash key, for text values

    @classmethod
    def fresh(cls) -> SplitKey:
        return cls(secrets.randbits(64), secrets.randbits(64), secrets.randbits(64), secrets.token_hex(8))

    @classmethod
    def reproducible_for_benchmarks(cls, seed: int) -> SplitKey:
        """A key anyone with `seed` can rebuild: for benchmarks and tests that must see the same rows as
        a run. Never used by the CLI; a release made with it has a split its seed reveals."""
        words = np.random.default_rng([seed, 0x5EC7]).integers(0, 2**63, size=4, dtype=np.int64)
        return cls(int(words[0]), int(words[1]), int(words[2]), f"{int(words[3]):016x}"[:16])

    def __repr__(self) -> str:
        return "SplitKey(<secret>)"


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijection on 64-bit words that spreads every input bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def _keyed(x: np.ndarray, key: int) -> np.ndarray:
    return _mix(x ^ np.uint64(key))


def uniform_from(words: np.ndarray) -> np.ndarray:
    """Uniform floats in [0, 1) from 64-bit words (their top 53 bits)."""
    return (words >> np.uint64(11)).astype(np.float64) * 2.0**-53


def row_hashes(frame: pd.DataFrame, key: SplitKey) -> np.ndarray:
    """One keyed 64-bit hash per row of parsed values (nulls hash alike; column order matters).

    Each column's hash is injective for numbers and datetimes (pandas' 64-bit mix is a bijection)
    and a keyed siphash for text; the columns are folded in with the secret key, so nobody without
    the key can build two different rows that collide."""
    with np.errstate(over="ignore"):
        h = np.full(len(frame), np.uint64(key.row), dtype=np.uint64)
        for j, name in enumerate(frame.columns):
            column = pd.util.hash_pandas_object(frame[name], index=False, hash_key=key.hash_key).to_numpy(np.uint64)
            h = _keyed(h ^ column, (key.row + (j + 1) * int(_GOLDEN)) & (2**64 - 1))
    return h


@dataclass
class OccurrenceCounter:
    """How many times each hash has been seen so far in the stream, in sorted runs (16 bytes a
    distinct row), merged as they grow so that a lookup searches a few runs only."""

    _runs: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def next_occurrences(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, the number of earlier rows with the same hash (earlier batches and this one)."""
        if hashes.size == 0:
            return np.zeros(0, np.int64)
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        starts = np.ones(ordered.size, bool)
        starts[1:] = ordered[1:] != ordered[:-1]
        position = np.arange(ordered.size)
        within = position - np.maximum.accumulate(np.where(starts, position, 0))
        unique = ordered[starts]
        counts = np.diff(np.append(np.flatnonzero(starts), ordered.size))
        before = np.zeros(unique.size, np.int64)
        for run_hashes, run_counts in self._runs:
            at = np.searchsorted(run_hashes, unique)
            found = at < run_hashes.size
            found[found] = run_hashes[at[found]] == unique[found]
            before[found] += run_counts[at[found]]
        occurrences = np.empty(hashes.size, np.int64)
        occurrences[order] = within + np.repeat(before, counts)
        self._add(unique, counts.astype(np.int64))
        return occurrences

    def _add(self, unique: np.ndarray, counts: np.ndarray) -> None:
        self._runs.append((unique, counts))
        while len(self._runs) > 1 and self._runs[-2][0].size <= 2 * self._runs[-1][0].size:
            (a, ca), (b, cb) = self._runs.pop(), self._runs.pop()
            merged = np.concatenate([a, b])
            weights = np.concatenate([ca, cb])
            keys, inverse = np.unique(merged, return_inverse=True)
            self._runs.append((keys, np.bincount(inverse, weights=weights, minlength=keys.size).astype(np.int64)))


class RowKeys:
    """Per row of a stream: held out or not, and its sample priority. One per pass over the input."""

    def __init__(self, key: SplitKey, fraction: float | None) -> None:
        self._key = key
        self._fraction = fraction
        self._occurrences = OccurrenceCounter()

    def of(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(held-out mask, priorities in [0, 1)) for the next batch of the stream."""
        hashes = row_hashes(frame, self._key)
        occurrence = self._occurrences.next_occurrences(hashes)
        return keys_of_rows(hashes, occurrence, self._key, self._fraction)


def keys_of_rows(hashes: np.ndarray, occurrence: np.ndarray, key: SplitKey,
                 fraction: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(held-out mask, priorities in [0, 1)) of rows from their hashes and occurrence numbers. Rows
    with equal hashes are interchangeable, so any engine that numbers each hash's occurrences 0, 1, ...
    in any order gets the same training and holdout multisets as the stream order gives."""
    occurrence = occurrence.astype(np.uint64)
    with np.errstate(over="ignore"):
        base = _keyed(hashes ^ (occurrence * _GOLDEN), key.row)
        priority = uniform_from(_keyed(base, key.priority))
        if not fraction:
            return np.zeros(len(hashes), bool), priority
        held = uniform_from(_keyed(base, key.held)) < fraction
    return held, priority
