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
from .conditional import Conditional, Evidence
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
        # p(child group | parent group) per edge, as rows are drawn
        self.conditionals_ = {edge: joint / np.clip(joint.sum(axis=1, keepdims=True), 1e-300, None)
                              for edge, joint in self.joint_.items()}
        self._set_within_groups()
        self.order_ = _sampling_order(len(one_way), self.edges_)

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        coarse = np.empty((n, len(self.fine_)), dtype=np.int64)
        for child, parent in self.order_:
            if parent is None:
                coarse[:, child] = draw(self.vertex_[child], n, rng)
                continue
            coarse[:, child] = draw_rows(self.conditionals_[(parent, child)], coarse[:, parent], rng)
        return self._fine_codes(coarse, rng)

    def _condition(self, evidence: Evidence) -> Conditional:
        assert self.domain_ is not None
        masks = evidence.masks(self.domain_)
        return _TreeConditional(self, evidence, masks)

    def describe(self) -> dict[str, object]:
        """Public structure (from DP measurements): the tree's edges, parent first, and each column's
        group count."""
        names = self.columns_
        return {"edges": [[names[i], names[j]] for i, j in self.edges_], "group_cap": self.group_cap_,
                "groups": self._group_counts(), "fine": self.fine_method_}


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


class _TreeConditional(Conditional):
    """Exact conditioning on the tree by belief propagation: each column's evidence likelihood over
    its groups (graphical.py) is passed leaves to root, then rows are drawn root to leaves from the
    posterior conditionals. Cost: O(columns x groups²) once; sampling as without evidence."""

    method = "exact: belief propagation on the tree (likelihoods leaves to root, then rows drawn root to leaves)"

    def __init__(self, model: TreeModel, evidence: Evidence, masks: dict[int, np.ndarray]) -> None:
        sizes = model._group_sizes()
        likelihoods = model._group_likelihoods(masks)
        belief = [likelihoods.get(j, np.ones(size)) for j, size in enumerate(sizes)]
        conditionals = model.conditionals_
        for child, parent in reversed(model.order_):  # children before parents: a child's belief is final
            if parent is not None:
                belief[parent] = belief[parent] * (conditionals[(parent, child)] @ belief[child])
        probability = 1.0
        self._roots: dict[int, np.ndarray] = {}
        self._posterior: dict[tuple[int, int], np.ndarray] = {}
        for child, parent in model.order_:
            if parent is None:
                p = model.vertex_[child] * belief[child]
                probability *= float(p.sum())
                self._roots[child] = p / p.sum() if p.sum() > 0 else p
            else:
                q = conditionals[(parent, child)] * belief[child][None, :]
                rows = q.sum(axis=1, keepdims=True)  # zero only for parent groups the posterior never draws
                self._posterior[(parent, child)] = np.where(rows > 0, q / np.clip(rows, 1e-300, None), 0.0)
        super().__init__(evidence, probability)
        self._model, self._masks, self._order = model, masks, model.order_

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        coarse = np.empty((n, len(self._model.fine_)), dtype=np.int64)
        for child, parent in self._order:
            if parent is None:
                coarse[:, child] = draw(self._roots[child], n, rng)
            else:
                coarse[:, child] = draw_rows(self._posterior[(parent, child)], coarse[:, parent], rng)
        return self._model._fine_codes(coarse, rng, self._masks)
