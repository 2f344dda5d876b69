"""Attack scores computed from a synthetic release (codes) alone: a higher score means "member".

The attacker re-encodes the released values with the config's public codec, so it works on
codes; numeric codes are bins, so "close" means a bin or so apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from synthgate.privacy.domain import Measurement

__all__ = ["CANARY_SCORES", "canary_scores", "density_ratio", "distance_to_closest", "measurement_score", "CANARIES"]

# One distinctive record per table, inside the public domain of its config but far from the
# bulk of the data (oldest allowed ages, largest families, rare combinations). Public values:
# they come from the configs' domains, not from the data.
CANARIES: dict[str, dict[str, object]] = {
    "health_insurance": {"health": "no", "age": 118, "limit": "yes", "gender": "female", "insurance": "no",
                         "married": "no", "selfemp": "yes", "family": 20, "region": "west",
                         "ethnicity": "other", "education": "phd"},
    "fertility": {"morekids": "yes", "gender1": "female", "gender2": "female", "age": 21, "afam": "yes",
                  "hispanic": "yes", "other": "yes", "work": 52},
}

CANARY_SCORES = ("exact", "near", "rare_values", "marginals")


def distance_to_closest(targets: np.ndarray, synthetic: np.ndarray, *, numeric: tuple[bool, ...],
                        sizes: tuple[int, ...], cells_per_chunk: int = 4_000_000) -> np.ndarray:
    """Distance from each target row to its closest synthetic row (mixed Hamming/range-scaled L1).

    A null code sits one past the last bin, so it is a full bin range away from most values.
    Duplicate synthetic rows are dropped first (same distances, far less work on coarse domains).
    """
    is_numeric = np.asarray(numeric)
    scale = np.maximum(np.asarray(sizes, float) - 1, 1.0).astype(np.float32)
    synth = np.unique(synthetic, axis=0).astype(np.int16)
    chunk = max(1, cells_per_chunk // max(synth.size, 1))
    out = np.empty(targets.shape[0])
    for start in range(0, targets.shape[0], chunk):
        block = targets[start:start + chunk].astype(np.int16)
        diff = np.abs(synth[None, :, :] - block[:, None, :]).astype(np.float32)
        diff = np.where(is_numeric, diff / scale, diff > 0)
        out[start:start + chunk] = diff.sum(axis=2).min(axis=1)
    return out


def density_ratio(targets: np.ndarray, synthetic: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """log(share of synthetic rows identical to the target / share of reference rows identical to it).

    A DOMIAS-style score (van Breugel et al. 2023) with exact-cell densities: a generator that
    over-represents its training rows puts more mass on them than the population (`reference`,
    real rows that are neither targets nor training rows) does. Add-one smoothed. Useful where
    rows repeat (coarse tables); on sparse tables most cells are empty and the distance score is
    the one with power.
    """
    def cell_counts(pool: np.ndarray) -> np.ndarray:
        _, inverse = np.unique(np.vstack([pool, targets]), axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        counts = np.bincount(inverse[:pool.shape[0]], minlength=int(inverse.max()) + 1)
        return counts[inverse[pool.shape[0]:]]

    synthetic_share = (cell_counts(synthetic) + 1.0) / (synthetic.shape[0] + 1.0)
    reference_share = (cell_counts(reference) + 1.0) / (reference.shape[0] + 1.0)
    return np.log(synthetic_share / reference_share)


def canary_scores(synthetic: np.ndarray, canary: np.ndarray, *, numeric: tuple[bool, ...]) -> dict[str, float]:
    """Scores an attacker can compute for "the canary was in the training data".

    - exact: synthetic rows equal to the canary (numeric columns within one bin);
    - near: rows that match it on all but two columns (same tolerance);
    - rare_values: rows within one bin of the canary on at least one numeric column (its outlying values);
    - marginals: sum over columns of log-frequency of the canary's code in the synthetic data
      (what a 1-way-marginal model can leak).
    """
    is_numeric = np.asarray(numeric)
    diff = np.abs(synthetic.astype(np.int64) - canary.astype(np.int64)[None, :])
    match = np.where(is_numeric, diff <= 1, diff == 0)
    mismatches = (~match).sum(axis=1)
    n = synthetic.shape[0]
    frequencies = (synthetic == canary[None, :]).sum(axis=0)
    return {
        "exact": float((mismatches == 0).sum()),
        "near": float((mismatches <= 2).sum()),
        "rare_values": float(match[:, is_numeric].any(axis=1).sum()) if is_numeric.any() else 0.0,
        "marginals": float(np.log((frequencies + 0.5) / (n + 1.0)).sum()),
    }


def measurement_score(measurements: Sequence[Measurement], canary: np.ndarray, reference: np.ndarray, *,
                      columns: Sequence[str], sizes: Sequence[int],
                      groupings: Mapping[str, np.ndarray]) -> float:
    """White-box score: how far the noisy counts of the canary's cells sit above the counts of the
    other rows, each measurement weighted by 1/variance (the Gaussian likelihood-ratio test).

    The attacker of the DP definition: knows every other row (`reference`) and sees the noisy
    measurements the release is post-processed from. A measurement taken over coarse groups
    (shape smaller than the column's codes) is matched through the run's public grouping.
    Noisy sums of score products ("moments") are not used, nor measurements over a grouping the
    release does not publish (AIM's coarser groups for triples): the test is valid, just not optimal.
    """
    total = 0.0
    for m in measurements:
        if m.kind != "counts" or not m.columns:
            continue
        match = np.ones(reference.shape[0], bool)
        cell = []
        for k, column in enumerate(m.columns):
            j = list(columns).index(column)
            grouped = m.shape[k] < sizes[j] and column in groupings
            lookup = np.asarray(groupings[column]) if grouped else np.arange(sizes[j])
            if int(lookup.max()) + 1 != m.shape[k]:
                break
            cell.append(int(lookup[canary[j]]))
            match &= lookup[reference[:, j]] == cell[-1]
        if len(cell) != len(m.columns):
            continue
        noisy = float(m.noisy_counts.reshape(m.shape)[tuple(cell)])
        total += (noisy - float(match.sum())) * min(1.0 / max(m.stddev, 1e-300) ** 2, 1e12)
    return total
