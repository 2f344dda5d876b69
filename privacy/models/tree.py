"""The tree model (`graphical` with `selection: mst`): MST's tree of 2-way marginals over groups.

Estimation is post-processing on the tree: vertex marginals combine every measurement that covers
them (inverse-variance weights), each edge table is fitted to its vertex marginals by iterative
proportional fitting, and rows are sampled root to leaves from the conditionals. Cost: a scan per
query; the rest depends on the domain only.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from ..domain import Domain, Measurement
from ..table import PrivateTable
from .base import ModelError
from .bayesnet import draw, draw_rows
from .graphical import GraphicalModel
from .ipf import fit_margins
from .params import Fractions, Interval

__all__ = ["TreeModel"]


class TreeModel(GraphicalModel):
    """Keeps every 1-way distribution in full and the strongest pairwise dependences (a tree)."""

    selection = "mst"
    _parameter_constraints = {"groups": Interval(2, integer=True), "shares": Fractions(3)}

    def __init__(self, *, groups: int = 32, shares: tuple[float, float, float] = (0.3, 0.15, 0.55)) -> None:
        """`shares` split the budget: 1-way marginals, tree selection, 2-way marginals."""
        super().__init__(groups=groups)
        self.shares = shares

    def _fit(self, table: PrivateTable, budget: float) -> None:
        # With one column there is no pair to select or measure: the 1-way marginal takes it all.
        shares = self.shares if len(table.domain.columns) > 1 else (1.0, 0.0, 0.0)
        one_way, two_way, _ = self._fit_tree(table, budget, shares)
        self.measurements_ = [*one_way, *two_way]
        self._estimate(one_way, two_way)

    def _restore(self, domain: Domain, structure: dict[str, object]) -> None:
        one_way, two_way = self._restore_groups(domain, structure)
        edges = cast(list[list[str]], structure.get("edges", []))
        self.edges_ = [(domain.index(a), domain.index(b)) for a, b in edges]  # stored parents first
        self._estimate(one_way, two_way)

    def _estimate(self, one_way: list[Measurement], two_way: list[Measurement]) -> None:
        sizes = self._group_sizes()
        self.vertex_ = self._vertex(one_way, list(zip(self.edges_, two_way)))
        self.joint_ = {}
        for (i, j), m in zip(self.edges_, two_way):
            start = np.clip(m.noisy_counts.reshape(sizes[i], sizes[j]), 0, None) + 1e-6
            self.joint_[(i, j)] = fit_margins(start, self.vertex_[i], self.vertex_[j])
        self._set_within_groups()
        self.order_ = _sampling_order(len(one_way), self.edges_)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        coarse = np.empty((n, len(self.fine_)), dtype=np.int64)
        for child, parent in self.order_:
            if parent is None:
                coarse[:, child] = draw(self.vertex_[child], n, rng)
                continue
            joint = self.joint_[(parent, child)]
            conditional = joint / np.clip(joint.sum(axis=1, keepdims=True), 1e-300, None)
            coarse[:, child] = draw_rows(conditional, coarse[:, parent], rng)
        return self._fine_codes(coarse, rng)

    def describe(self) -> dict[str, object]:
        """Public structure (from DP measurements): the tree's edges, parent first, and each column's
        group count."""
        names = self.columns_
        return {"edges": [[names[i], names[j]] for i, j in self.edges_], "group_cap": self.group_cap_,
                "groups": self._group_counts()}


def _sampling_order(d: int, edges: list[tuple[int, int]]) -> list[tuple[int, int | None]]:
    """(column, parent) pairs in the order rows are drawn: the roots in column order, then the
    edges as stored (parents first, as `parents_first` and every stored release wrote them)."""
    children = [child for _, child in edges]
    order: list[tuple[int, int | None]] = [(j, None) for j in range(d) if j not in children]
    drawn = {j for j, _ in order}
    for parent, child in edges:
        if parent not in drawn or child in drawn:
            raise ModelError("the stored tree is not a forest listed parents first; the measurements file is damaged")
        order.append((child, parent))
        drawn.add(child)
    return order
