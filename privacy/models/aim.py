"""AIM-style adaptive selection (McKenna, Mullins, Sheldon, Miklau 2022) for `graphical`.

Each round: estimate every candidate marginal from the current model, pick with the exponential
mechanism the one it gets most wrong (quality: L1 error of the model's estimate minus the L1 error
the measurement's own noise would leave, sensitivity 1), measure it with Gaussian noise, refit.
Candidates are pairs over groups and triples over coarse groups, kept if their table has at most
`max_cells` cells (AIM's size constraint), if the Bayesian network can use them (see `bayesnet`)
and if they were not measured yet (the network cannot always absorb a table, e.g. when the
dependence is between two parents; AIM's estimator could, so it re-measures, but here a repeat
would mostly spend budget on the same unfixable error). Only when every placeable table has been
measured (a small table) may one be measured again: the measurements are then averaged by IPF. Rounds are fixed in number and equal in cost, so the plan is public and sums to the
budget exactly; AIM's annealing of the per-round budget is left out.

Costs (in the table's unit, ρ under zCDP): `budget` over `rounds` rounds, each 10% on selection
and 90% on the measurement, every charge labelled with its round.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..domain import Measurement
from ..table import PrivateTable
from .bayesnet import BayesNet

__all__ = ["AIM_SELECT_SHARE", "Candidate", "candidates", "run_aim"]

AIM_SELECT_SHARE = 0.1
_ESTIMATE_ROWS = 50_000  # Monte Carlo rows for the model's estimate of every candidate (post-processing)


@dataclass(frozen=True)
class Candidate:
    """A marginal AIM may measure: its columns and, per column, the fine code -> table code map."""

    columns: tuple[int, ...]
    groupings: tuple[np.ndarray, ...]   # fine code -> table code, per column
    maps: tuple[np.ndarray, ...]        # group code -> table code, per column

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(m.max()) + 1 for m in self.maps)


def candidates(d: int, groupings: Sequence[np.ndarray], coarse: Sequence[np.ndarray], *,
               max_cells: int) -> list[Candidate]:
    """Pairs over groups, triples over coarse groups; at most `max_cells` cells each.

    `groupings[j]` maps column j's fine codes to groups, `coarse[j]` its groups to coarse groups."""
    out = []
    identity = [np.arange(int(g.max()) + 1) for g in groupings]
    for pair in combinations(range(d), 2):
        out.append(Candidate(pair, tuple(groupings[j] for j in pair), tuple(identity[j] for j in pair)))
    for triple in combinations(range(d), 3):
        out.append(Candidate(triple, tuple(coarse[j][groupings[j]] for j in triple), tuple(coarse[j] for j in triple)))
    return [c for c in out if int(np.prod(c.shape)) <= max_cells]


def run_aim(table: PrivateTable, pool: Sequence[Candidate], build: Callable[[list[Measurement]], BayesNet], *,
            start: Sequence[Measurement] = (), budget: float, rounds: int, n_hat: float) -> list[Measurement]:
    """`start` and then the measurements AIM takes, in order; `build(measurements)` refits the
    network from them. Charges `budget` to the table's accountant in `2 * rounds` labelled charges."""
    names = table.domain.columns
    per_round = budget / rounds
    measure_cost = per_round * (1 - AIM_SELECT_SHARE)
    noise = float(np.sqrt(2 / np.pi) * table.count_stddev(measure_cost))
    estimator = np.random.default_rng(0)  # Monte Carlo of the public model only: no data, no DP noise
    measured: list[Measurement] = list(start)
    for round_ in range(1, rounds + 1):
        net = build(measured)
        taken = {m.columns for m in measured}
        placeable = [c for c in pool if net.place(c.columns) is not None]
        # Re-measure only when every placeable table was measured (small tables): the rounds' budget is planned.
        usable = [c for c in placeable if tuple(names[j] for j in c.columns) not in taken] or placeable
        if not usable:
            raise ValueError("no candidate marginal fits the network")  # a pair of two roots always does
        rows = net.sample(_ESTIMATE_ROWS, estimator)
        estimates, offsets = [], []
        for c in usable:
            counts = _histogram(rows, c) * (n_hat / _ESTIMATE_ROWS)
            estimates.append(counts)
            # AIM's quality subtracts the noise the measurement would leave; here also the Monte Carlo error.
            offsets.append(noise * counts.size + _monte_carlo_l1(counts, n_hat))
        choice = table.select([[names[j] for j in c.columns] for c in usable], estimates,
                              cost=per_round * AIM_SELECT_SHARE, label=f"select:aim-round-{round_}",
                              groupings=[dict(zip((names[j] for j in c.columns), c.groupings)) for c in usable],
                              offsets=offsets)
        chosen = usable[choice]
        columns = [names[j] for j in chosen.columns]
        measured.append(table.marginal(columns, cost=measure_cost, label=f"marginal:{','.join(columns)}:aim-{round_}",
                                       groupings=dict(zip(columns, chosen.groupings))))
    return measured


def _histogram(rows: np.ndarray, c: Candidate) -> np.ndarray:
    codes = tuple(m[rows[:, j]] for j, m in zip(c.columns, c.maps))
    flat = np.ravel_multi_index(codes, c.shape)
    return np.bincount(flat, minlength=int(np.prod(c.shape))).reshape(c.shape).astype(float)


def _monte_carlo_l1(counts: np.ndarray, n_hat: float) -> float:
    """Expected L1 error, at n_hat scale, of a histogram of _ESTIMATE_ROWS Monte Carlo rows."""
    p = np.clip(counts.ravel() / max(n_hat, 1.0), 0.0, 1.0)
    return float(np.sum(np.sqrt(2 / np.pi * _ESTIMATE_ROWS * p * (1 - p))) * n_hat / _ESTIMATE_ROWS)
