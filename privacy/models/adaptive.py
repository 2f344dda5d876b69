"""The adaptive model (`graphical` with `selection: aim`): MST's tree as a warm start, then AIM rounds.

After the tree (graphical.py) it spends part of the budget in AIM-style rounds (aim.py) over pairs
and 3-way tables, estimated as a Bayesian network with at most two parents per column (bayesnet.py,
which says why that estimator). 3-way tables are over coarse groups: a union of groups per column,
at most `coarse_groups` of them, so each table stays within `max_cells` cells.
"""

from __future__ import annotations

import numpy as np

from ..domain import Domain, Measurement
from ..table import PrivateTable
from .aim import candidates, run_aim
from .bayesnet import BayesNet, Constraint
from .conditional import Conditional, Evidence, RejectionConditional
from .graphical import GraphicalModel
from .groups import frequent_groups, group_cap, quantile_groups
from .params import Interval

__all__ = ["AdaptiveModel"]

_SHARES = (0.3, 0.1, 0.3, 0.3)  # of the budget: 1-way, tree selection, tree 2-way, adaptive rounds


class AdaptiveModel(GraphicalModel):
    """Keeps every 1-way distribution and the dependences AIM's rounds find worst explained,
    including ones only a 3-way table shows."""

    selection = "aim"
    _parameter_constraints = {"groups": Interval(2, integer=True), "rounds": Interval(1, integer=True, optional=True),
                              "coarse_groups": Interval(2, integer=True), "max_cells": Interval(1, integer=True)}

    def __init__(self, *, groups: int = 32, rounds: int | None = None, coarse_groups: int = 12,
                 max_cells: int = 4096) -> None:
        """`rounds` of AIM (half the column count by default); `coarse_groups` and `max_cells`
        bound its 3-way tables."""
        super().__init__(groups=groups)
        self.rounds = rounds
        self.coarse_groups = coarse_groups
        self.max_cells = max_cells

    def _fit(self, table: PrivateTable, budget: float) -> None:
        d = len(table.domain.columns)
        if d == 1:  # nothing to select: the 1-way marginal takes the whole budget
            one_way, _, _ = self._fit_tree(table, budget, (1.0, 0.0, 0.0))
            self.coarse_cap_ = self.coarse_groups
            self._set_coarse_maps(table.domain)
            self.measurements_ = list(one_way)
            self._estimate(one_way, [])
            return
        one_way_share, select_share, two_way_share, aim_share = _SHARES
        one_way, two_way, n_hat = self._fit_tree(table, budget, (one_way_share, select_share, two_way_share))
        noise = self._tree_noise(table, budget * two_way_share)
        self.coarse_cap_ = group_cap(self.coarse_groups, n_hat, noise, way=3)
        self._set_coarse_maps(table.domain)
        pool = candidates(d, [self.groupings_[c] for c in self.columns_], self.coarse_maps_, max_cells=self.max_cells)
        measured = run_aim(table, pool, lambda ms: self._network(one_way, ms), start=two_way,
                           budget=budget * aim_share, rounds=self.rounds or max(1, d // 2), n_hat=n_hat)
        self.measurements_ = [*one_way, *measured]
        self._estimate(one_way, measured)

    def _restore(self, domain: Domain, structure: dict[str, object]) -> None:
        one_way, measured = self._restore_groups(domain, structure)
        self.coarse_cap_ = int(structure.get("coarse_cap", self.coarse_groups))  # type: ignore[call-overload]
        self._set_coarse_maps(domain)
        self._estimate(one_way, measured)

    def _set_coarse_maps(self, domain: Domain) -> None:
        """Group -> coarse group per column (nested: a union of groups), for AIM's 3-way tables."""
        self.coarse_maps_ = [self._coarser(domain, c, p) for c, p in zip(self.columns_, self.coarse_)]

    def _coarser(self, domain: Domain, column: str, groups: np.ndarray) -> np.ndarray:
        if groups.size <= self.coarse_cap_:
            return np.arange(groups.size)
        null = domain.null_code(column)
        null_group = int(self.groupings_[column][null]) if null is not None else None
        if domain.is_ordered(column):
            return quantile_groups(groups, self.coarse_cap_, null_code=null_group)
        return frequent_groups(groups, self.coarse_cap_, null_code=null_group)

    def _estimate(self, one_way: list[Measurement], measured: list[Measurement]) -> None:
        self.network_ = self._network(one_way, measured)
        self._set_within_groups()

    def _network(self, one_way: list[Measurement], measured: list[Measurement]) -> BayesNet:
        """The Bayesian network AIM's measurements define, attached in the order they were taken."""
        index = {c: j for j, c in enumerate(self.columns_)}
        pairs = [((index[m.columns[0]], index[m.columns[1]]), m) for m in measured if len(m.columns) == 2]
        net = BayesNet(self._vertex(one_way, pairs))
        constraints: list[Constraint] = []
        for m in measured:
            columns = [index[c] for c in m.columns]
            maps = [np.arange(int(self.groupings_[self.columns_[j]].max()) + 1) if len(columns) == 2
                    else self.coarse_maps_[j] for j in columns]
            constraints.append(Constraint(tuple(columns), tuple(maps), m.noisy_counts.reshape(m.shape)))
            placed = net.place(columns)
            if placed is not None:
                net.attach(placed[0], placed[1], constraints)
        net.calibrate()
        return net

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self._fine_codes(self.network_.sample(n, rng), rng)

    def _condition(self, evidence: Evidence) -> Conditional:
        """Rejection over the network's group codes, each draw kept with the evidence's likelihood
        inside its groups (exact). Exact conditioning of a network with two parents a column would
        need a junction tree; rejection costs about n / p(evidence) draws, at ~1 µs a row and column."""
        assert self.domain_ is not None
        masks = evidence.masks(self.domain_)
        likelihoods = self._group_likelihoods(masks)

        def weight(rows: np.ndarray) -> np.ndarray:
            w = np.ones(rows.shape[0])
            for j, lam in likelihoods.items():
                w *= lam[rows[:, j]]
            return w

        return RejectionConditional(evidence, self.network_.sample, weight,
                                    lambda rows, rng: self._fine_codes(rows, rng, masks),
                                    method="exact by rejection over the network's groups, each draw kept with the "
                                           "evidence's likelihood inside its groups: about n / p(evidence) draws")

    def describe(self) -> dict[str, object]:
        """Public structure (from DP measurements): each column's parents and group count."""
        names = self.columns_
        return {"selection": "aim", "group_cap": self.group_cap_, "coarse_cap": self.coarse_cap_,
                "parents": {names[c]: [names[p] for p in f.parents] for c, f in self.network_.families.items()},
                "groups": self._group_counts(), "fine": self.fine_method_}
