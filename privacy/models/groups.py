"""Coarse groups of a column's codes, and the public noise arithmetic that sizes them.

Everything here is post-processing of noisy 1-way marginals or a function of public constants.
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_cap", "project_to_total", "noise_line", "sampling_l1", "quantile_groups", "frequent_groups",
           "split_histogram", "split_ranges", "heap_histogram", "SPLIT_Z", "HEAP_Z"]


def group_cap(groups: int, n_hat: float, stddev: float, *, way: int = 2) -> int:
    """Groups per column such that a `way`-way table of such columns averages about one noise
    standard deviation per cell (n/g^way ≈ σ): finer tables on small tables are mostly noise.
    At least 4 (3 for 3-way tables), at most `groups`."""
    floor = 4 if way == 2 else 3
    return int(max(floor, min(groups, np.floor((n_hat / max(stddev, 1e-9)) ** (1 / way)))))


def project_to_total(noisy: np.ndarray, total: float) -> np.ndarray:
    """Least-squares projection of noisy counts onto {x >= 0, sum(x) = total}: x = max(y - λ, 0).

    λ is kept >= 0: raising every cell (λ < 0, when `total` exceeds the positive mass) would give
    mass back to cells known to be empty."""
    y = np.asarray(noisy, float)
    if total <= 0 or y.size == 0:
        return np.zeros_like(y)
    ordered = np.sort(y)[::-1]
    cumulative = np.cumsum(ordered)
    k = np.arange(1, y.size + 1)
    lambdas = (cumulative - total) / k
    valid = ordered - lambdas > 0
    index = int(np.flatnonzero(valid)[-1]) if valid.any() else 0
    return np.clip(y - max(float(lambdas[index]), 0.0), 0.0, None)


def noise_line(stddev: float, n_cells: int) -> float:
    """A count that pure noise reaches in any of n_cells cells with probability about 1e-3."""
    from scipy.stats import norm

    return float(stddev * norm.isf(1e-3 / max(n_cells, 1)))


SPLIT_Z = 1.0  # a dyadic cell is split when its halves' mean counts differ by this many noise sds


def split_histogram(noisy: np.ndarray, stddev: float, *, z: float = SPLIT_Z) -> np.ndarray:
    """A piecewise-uniform fit of ordered noisy counts whose resolution follows the data (post-processing).

    A hierarchical histogram (Hay et al. 2010; PrivTree, Zhang et al. 2016, decides its splits the
    same way) built on one noisy fine marginal: starting from all cells, a range is halved while its
    two halves' mean counts differ by more than `z` noise standard deviations of that difference
    (σ·sqrt(1/w1 + 1/w2)); a range that is not split spreads its noisy total evenly over its cells.
    Where the counts are flat next to the noise the range stays wide (its total is known to about
    σ·sqrt(w), not σ a cell). A range holding a point mass (a cell over the noise line: income 0,
    40 hours a week) is always split, so the point mass keeps its own cell even where it happens to
    sit evenly across a halving. Totals are then clipped at zero. Every input is a noisy count or a
    public constant.
    """
    y = np.asarray(noisy, float).ravel()
    out = np.zeros(y.size)
    cumulative = np.concatenate(([0.0], np.cumsum(y)))  # range totals as differences, as stored releases did
    for a, b in split_ranges(y, stddev, z=z):
        out[a:b] = max(cumulative[b] - cumulative[a], 0.0) / (b - a)
    return out


def split_ranges(noisy: np.ndarray, stddev: float, *, z: float = SPLIT_Z) -> list[tuple[int, int]]:
    """The unsplit ranges [a, b) of `split_histogram`, in order (post-processing of noisy counts)."""
    y = np.asarray(noisy, float).ravel()
    if y.size == 0:
        return []
    cumulative = np.concatenate(([0.0], np.cumsum(y)))
    points = np.concatenate(([0], np.cumsum(y >= noise_line(stddev, y.size))))
    stack, leaves = [(0, y.size)], []
    while stack:
        a, b = stack.pop()
        if b - a > 1:
            m = (a + b) // 2
            left, right = (cumulative[m] - cumulative[a]) / (m - a), (cumulative[b] - cumulative[m]) / (b - m)
            if points[b] > points[a] or abs(left - right) > z * stddev * np.sqrt(1.0 / (m - a) + 1.0 / (b - m)):
                stack += [(a, m), (m, b)]
                continue
        leaves.append((a, b))
    return sorted(leaves)


HEAP_Z = 2.0  # round values are heaped when their cells' pooled excess passes this many noise sds


def heap_histogram(noisy: np.ndarray, stddev: float, round_cells: np.ndarray, *, z: float = SPLIT_Z,
                   heap_z: float = HEAP_Z) -> np.ndarray:
    """`split_histogram` that keeps heaps on round values (post-processing of noisy counts).

    People report round numbers (hours worked at 20/30/50, commutes at 10/15/30 minutes): heaps of
    3-9% of a column's values on multiples of 5. At n ~ 1,600 and ε = 1 each is one to two noise sds,
    under any per-cell line, so `split_histogram` spreads it evenly over its range. Pooled over every
    round cell (`round_cells`: a public mask of the codes holding one round value), heaps stand out
    of the noise: when the round cells' noisy counts exceed their ranges' even shares by more than
    `heap_z`·σ·sqrt(round cells) in total (one-sided: a column without heaps passes with probability
    about 2%), every range of `split_histogram` shares its noisy total out with a round cell weighing
    w times a plain one, w fitted so that the round cells hold their noisy total over all ranges
    (a fixed point: heaping multiplies the local density). Otherwise this is `split_histogram`.
    Every input is a noisy count or a public constant.
    """
    y = np.asarray(noisy, float).ravel()
    heap = np.asarray(round_cells, bool).ravel()
    if heap.size != y.size:
        raise ValueError("heap_histogram needs one round-cell flag per code")
    ranges = split_ranges(y, stddev, z=z)
    if not ranges:
        return np.zeros(0)
    where = np.empty(y.size, np.int64)
    for k, (a, b) in enumerate(ranges):
        where[a:b] = k
    totals = np.clip(np.bincount(where, weights=y), 0.0, None)
    width = np.bincount(where)
    excess = float(np.sum(y[heap] - (totals[where] / width[where])[heap]))
    if not heap.any() or excess <= heap_z * stddev * np.sqrt(heap.sum()):
        return split_histogram(y, stddev, z=z)
    observed, weight = max(float(y[heap].sum()), 0.0), 1.0
    for _ in range(200):
        plain = totals[where] / np.bincount(where, weights=np.where(heap, weight, 1.0))[where]
        expected = float(plain[heap].sum())
        # at most 1e6: where the round cells' noisy total passes their ranges' the fixed point runs off,
        # and the limit is every range's total on its round cells
        previous, weight = weight, min(max(observed / expected, 1.0), 1e6) if expected > 0 else 1.0
        if abs(weight - previous) <= 1e-9 * weight:
            break
    cell = np.where(heap, weight, 1.0)
    out: np.ndarray = totals[where] * cell / np.bincount(where, weights=cell)[where]
    return out


def sampling_l1(expected: np.ndarray, n: float) -> float:
    """Expected L1 distance between a multinomial sample of n rows and its expected counts.

    Even two independent columns show this much "dependence" by chance, and more the more
    cells their table has; subtracting it (a public constant) keeps selection from favouring
    wide tables over real relationships. Each cell: E|X - np| ≈ sqrt(2/π · n·p·(1-p)).
    """
    p = np.clip(np.asarray(expected, float).ravel() / max(n, 1.0), 0.0, 1.0)
    return float(np.sum(np.sqrt(2.0 / np.pi * n * p * (1.0 - p))))


def quantile_groups(fine: np.ndarray, groups: int, *, null_code: int | None) -> np.ndarray:
    """Contiguous groups of ordered codes holding about equal (noisy) mass; the null code alone.

    Greedy, re-targeting after each group: a point mass (income 0, 40 hours a week) closes a
    group of its own and the remaining groups share the remaining mass, instead of one wide
    group swallowing everything after it.
    """
    codes = np.arange(fine.size)
    values = codes[codes != null_code] if null_code is not None else codes
    n_groups = groups - (1 if null_code is not None else 0)
    mass = np.clip(fine[values].astype(float), 0.0, None)
    if mass.sum() <= 0:
        mass = np.ones(values.size)
    group = np.empty(values.size, dtype=np.int64)
    remaining, current, filled = float(mass.sum()), 0, 0.0
    target = remaining / n_groups
    for k, m in enumerate(mass):
        if filled > 0 and filled + m > 1.5 * target and current < n_groups - 1:
            current, remaining, filled = current + 1, remaining - filled, 0.0
            target = remaining / (n_groups - current)
        group[k] = current
        filled += m
        if filled >= target * (1 - 1e-9) and current < n_groups - 1 and k < mass.size - 1:
            current, remaining, filled = current + 1, remaining - filled, 0.0
            target = remaining / (n_groups - current)
    group = np.unique(group, return_inverse=True)[1]  # renumber so no group is empty
    result = np.empty(fine.size, dtype=np.int64)
    result[values] = group
    if null_code is not None:
        result[null_code] = group.max() + 1
    return result


def frequent_groups(fine: np.ndarray, groups: int, *, null_code: int | None) -> np.ndarray:
    """The most frequent codes (by noisy mass) each keep a group; the rest share one; null alone."""
    codes = np.arange(fine.size)
    values = codes[codes != null_code] if null_code is not None else codes
    keep = groups - 1 - (1 if null_code is not None else 0)
    ranked = values[np.argsort(-fine[values], kind="stable")]
    result = np.full(fine.size, keep, dtype=np.int64)  # "rare" group
    result[ranked[:keep]] = np.arange(min(keep, ranked.size))
    if null_code is not None:
        result[null_code] = keep + 1
    return np.unique(result, return_inverse=True)[1]
