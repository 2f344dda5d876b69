"""The estimator the two `graphical` models share: 1-way marginals, groups, the MST tree, fine codes.

MST (McKenna, Miklau, Sheldon 2021) measures 1-way marginals, picks a maximum spanning tree of
pairs by the exponential mechanism on how badly independence explains each pair, measures those
2-way marginals and fits one consistent distribution to all measurements. Its weakness on real
tables is what lies inside bins: 2-way tables over fine numeric bins are too noisy, over coarse
ones they smear the values. Here every column has two resolutions:

- fine codes (the codec's bins or categories), whose 1-way marginal is measured as is;
- coarse groups, a public function of that noisy 1-way marginal (post-processing): ordered
  columns (the domain says which) get equal-mass (DP-quantile) groups, wide categoricals keep
  their most frequent levels and merge the rest, null codes keep a group of their own.

Pairs are selected and measured over groups, so 2-way tables stay small (at most groups² cells,
whatever the column's cardinality) and well above the noise, while sampling draws the fine code
inside its group from the fine 1-way marginal. Group counts follow the noise: at most about
sqrt(n / σ) groups per column (a 2-way table of two such columns then averages one noise standard
deviation per cell), cut on the isotonic fit of the noisy CDF so point masses get a group of their own.

Two models build on this: `TreeModel` (tree.py) estimates on the tree; `AdaptiveModel`
(adaptive.py) starts from the same tree and adds AIM's adaptive rounds.
"""

from __future__ import annotations

import abc

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import breadth_first_order, connected_components

from ..domain import Domain, Measurement
from ..table import PrivateTable
from .base import Model, ModelError, probabilities_from, row_count_from
from .bayesnet import draw, grouped_rows
from .groups import (frequent_groups, group_cap, heap_histogram, noise_line, project_to_total, quantile_groups,
                     sampling_l1, split_histogram)
from .params import Interval

__all__ = ["GraphicalModel", "parents_first", "FINE_METHODS"]

# How an ordered column's fine 1-way marginal is estimated from its noisy counts (post-processing),
# stored in the model's structure so a release replays with the method it was fitted with:
# "projected" (releases before 2026-12-03, which store no method): empty tails trimmed at the noise
# line, then each cell projected onto the simplex; "split": a hierarchical histogram over the codes
# whose resolution follows the noise (groups.split_histogram). At n ~ 1,600 and σ ≈ 37 a cell the
# projection keeps the cells that noise pushed up and zeroes the rest (ages in spikes), and the trim
# removes real tails whose cells sit near the line. "heaps" (releases since 2026-12-03, evening): the
# split histogram, whose ranges share their totals out with more weight on round values (multiples of
# 5 of an integer column, one code each) when those cells, pooled, stand out of the noise
# (groups.heap_histogram): hours at 20/30/50 and commutes at 10/15/30 are heaps of 1-2 noise sds a cell.
FINE_METHODS = ("projected", "split", "heaps")


class GraphicalModel(Model):
    """Keeps every 1-way distribution in full and the strongest dependences over groups."""

    kind = "graphical"  # stored releases say "graphical" plus the selection; the factory maps it to the class
    selection: str = ""
    _parameter_constraints = {"groups": Interval(2, integer=True)}

    def __init__(self, *, groups: int = 32) -> None:
        """`groups` caps the groups per column in 2-way tables (fewer when the noise calls for it)."""
        super().__init__()
        self.groups = groups
        self.fine_method_ = FINE_METHODS[-1]  # new fits; `_restore_groups` reads a stored release's method

    # --- measuring: 1-way marginals, groups, the tree (charges the table) ------------------------
    def _fit_tree(self, table: PrivateTable, budget: float, shares: tuple[float, float, float]
                  ) -> tuple[list[Measurement], list[Measurement], float]:
        """Measures the 1-way marginals, selects a tree of pairs over groups and measures its 2-way
        marginals: (1-way, 2-way, DP row estimate). Charges `budget` times the sum of `shares`
        (1-way, selection, 2-way) to the table."""
        if budget <= 0:
            raise ModelError(f"the {self.kind} model needs a positive budget")
        columns = self.columns_ = table.domain.columns
        d = len(columns)
        one_way_share, select_share, two_way_share = shares
        one_way = [table.marginal([c], cost=budget * one_way_share / d) for c in columns]
        n_hat = max(row_count_from(one_way) or 1.0, 1.0)
        self.group_cap_ = self.groups
        if d > 1:  # groups sized to the noise of the 2-way tables the plan will measure
            self.group_cap_ = group_cap(self.groups, n_hat, self._tree_noise(table, budget * two_way_share))
        self._set_groups(table.domain, one_way)
        self.edges_: list[tuple[int, int]] = []
        two_way: list[Measurement] = []
        if d > 1:
            # Parents first (breadth-first from each root), so the sampler and AIM's network can place every edge.
            self.edges_ = parents_first(d, self._select_tree(table, budget * select_share, n_hat))
            cost = budget * two_way_share / len(self.edges_)
            two_way = [table.marginal([columns[i], columns[j]], cost=cost, groupings=self.groupings_)
                       for i, j in self.edges_]
        return one_way, two_way, n_hat

    def _tree_noise(self, table: PrivateTable, two_way_budget: float) -> float:
        return table.count_stddev(two_way_budget / (len(table.domain.columns) - 1))

    def _select_tree(self, table: PrivateTable, budget: float, n_hat: float) -> list[tuple[int, int]]:
        """Kruskal with the exponential mechanism: each round picks, among the pairs joining two
        components, one that independence explains worst (largest L1 error)."""
        d = len(table.domain.columns)
        component = list(range(d))
        edges: list[tuple[int, int]] = []
        pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
        for round_ in range(d - 1):
            candidates = [(i, j) for i, j in pairs if component[i] != component[j]]
            estimates = [n_hat * np.outer(self.coarse_[i], self.coarse_[j]) for i, j in candidates]
            names = [(table.domain.columns[i], table.domain.columns[j]) for i, j in candidates]
            choice = table.select(names, estimates, cost=budget / (d - 1), groupings=self.groupings_,
                                  label=f"select:tree-edge-{round_ + 1}",
                                  offsets=[sampling_l1(e, n_hat) for e in estimates])
            i, j = candidates[choice]
            edges.append((i, j))
            old, new = component[j], component[i]
            component = [new if c == old else c for c in component]
        return edges

    # --- groups (post-processing of the noisy 1-way marginals) --------------------------------------
    def _restore_groups(self, domain: Domain, structure: dict[str, object]
                        ) -> tuple[list[Measurement], list[Measurement]]:
        """Rebuilds the groups from the stored 1-way marginals: (1-way, the measurements after them)."""
        self.columns_ = domain.columns
        d = len(domain.columns)
        self.group_cap_ = int(structure.get("group_cap", self.groups))  # type: ignore[call-overload]
        method = str(structure.get("fine", "projected"))
        if method not in FINE_METHODS:
            raise ModelError(f"the stored fine-marginal method '{method}' is unknown: use one of "
                             f"{', '.join(FINE_METHODS)}")
        self.fine_method_ = method
        self._set_groups(domain, self.measurements_[:d])
        return self.measurements_[:d], self.measurements_[d:]

    def _set_groups(self, domain: Domain, one_way: list[Measurement]) -> None:
        self.fine_ = [self._denoised(domain, c, m) for c, m in zip(self.columns_, one_way)]
        self.groupings_ = {c: self._grouping(domain, c, self._group_basis(domain, c, m, p))
                           for c, m, p in zip(self.columns_, one_way, self.fine_)}
        # Group totals from the raw noisy counts: noise averages out inside a group, while clipping
        # each empty fine cell at zero first would add about 0.4σ of false mass per cell.
        self.coarse_ = [probabilities_from(np.bincount(self.groupings_[c], weights=m.noisy_counts.ravel(),
                                                       minlength=int(self.groupings_[c].max()) + 1))
                        for c, m in zip(self.columns_, one_way)]

    def _denoised(self, domain: Domain, column: str, measurement: Measurement) -> np.ndarray:
        """A fine 1-way distribution with less false mass in empty cells (post-processing only).

        Ordered columns: cells beyond the outermost cells whose noisy count clears the noise line
        (the same line as the DP bounds) are set to zero, so empty tails (ages 63-120 in an [0, 120]
        domain) are not sampled. Then the least-squares projection onto the simplex (subtract one
        constant, clip at zero, keep the noisy total) removes the bias that clipping adds.
        """
        noisy = measurement.noisy_counts.ravel().astype(float)
        null = domain.null_code(column)
        if self.fine_method_ in ("split", "heaps") and domain.is_ordered(column) and noisy.size > 2:
            # The null code and a point code (the value 0 among bins) keep their own noisy counts:
            # spreading a range's total evenly over its codes would give one value a bin's share.
            values = ~np.isin(np.arange(noisy.size), [c for c in (null, domain.point_code(column)) if c is not None])
            fitted = noisy.clip(0.0, None)
            if self.fine_method_ == "heaps":
                rounds = domain.round_code_mask(column)[values]
                fitted[values] = heap_histogram(noisy[values], measurement.stddev, rounds)
            else:
                fitted[values] = split_histogram(noisy[values], measurement.stddev)
            return probabilities_from(project_to_total(fitted, max(float(noisy.sum()), 1.0)))
        if domain.is_ordered(column) and noisy.size > 2:
            values = np.arange(noisy.size) != null if null is not None else np.ones(noisy.size, bool)
            line = noise_line(measurement.stddev, int(values.sum()))
            significant = np.flatnonzero(values & (noisy >= line))
            if significant.size:
                trimmed = values.copy()
                trimmed[significant[0]: significant[-1] + 1] = False
                noisy[trimmed] = 0.0
        return probabilities_from(project_to_total(noisy, max(float(noisy.sum()), 1.0)))

    def _group_basis(self, domain: Domain, column: str, measurement: Measurement, fine: np.ndarray) -> np.ndarray:
        """The mass that groups are cut by. Ordered columns: increments of the isotonic fit of the
        noisy CDF (post-processing). The denoised fine marginal zeroes every cell below the noise,
        so on a small table (acs12: 1,600 rows, σ ≈ 37 a cell) it keeps only the point masses and
        leaves income one group for all its non-zero values; the CDF keeps the spread."""
        if not domain.is_ordered(column) or fine.size <= self.groups:
            return fine
        from sklearn.isotonic import isotonic_regression

        noisy = measurement.noisy_counts.ravel().astype(float)
        null = domain.null_code(column)
        values = np.arange(noisy.size) != null if null is not None else np.ones(noisy.size, bool)
        cdf = isotonic_regression(np.cumsum(noisy[values]), y_min=0.0)
        basis = np.zeros(noisy.size)
        basis[values] = np.diff(cdf, prepend=0.0).clip(0.0, None)
        if null is not None:
            basis[null] = max(noisy[null], 0.0)
        return basis

    def _grouping(self, domain: Domain, column: str, fine: np.ndarray) -> np.ndarray:
        null = domain.null_code(column)
        if fine.size <= self.group_cap_:
            return np.arange(fine.size)
        if domain.is_ordered(column):
            return quantile_groups(fine, self.group_cap_, null_code=null)
        return frequent_groups(fine, self.group_cap_, null_code=null)

    # --- estimation and sampling (post-processing only) ---------------------------------------------
    def _vertex(self, one_way: list[Measurement],
                pairs: list[tuple[tuple[int, int], Measurement]]) -> list[np.ndarray]:
        """Group-level 1-way estimates: inverse-variance average of every measurement covering them."""
        d = len(one_way)
        sizes = self._group_sizes()
        sums: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for j in range(d):
            grouping = self.groupings_[self.columns_[j]]
            members = np.bincount(grouping, minlength=sizes[j])
            counts = np.bincount(grouping, weights=one_way[j].noisy_counts.ravel(), minlength=sizes[j])
            variance = members * _noise_variance(one_way[j])
            sums.append(counts / variance)
            weights.append(1.0 / variance)
        for (i, j), m in pairs:
            table = m.noisy_counts.reshape(sizes[i], sizes[j])
            sums[i] = sums[i] + table.sum(axis=1) / (sizes[j] * _noise_variance(m))
            weights[i] = weights[i] + 1.0 / (sizes[j] * _noise_variance(m))
            sums[j] = sums[j] + table.sum(axis=0) / (sizes[i] * _noise_variance(m))
            weights[j] = weights[j] + 1.0 / (sizes[i] * _noise_variance(m))
        return [probabilities_from(s / w) for s, w in zip(sums, weights)]

    def _group_sizes(self) -> list[int]:
        return [int(self.groupings_[c].max()) + 1 for c in self.columns_]

    def _set_within_groups(self) -> None:
        """For each column and group: its fine codes and their probabilities given the group."""
        self.within_: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for j, column in enumerate(self.columns_):
            grouping = self.groupings_[column]
            column_groups = []
            for g in range(int(grouping.max()) + 1):
                members = np.flatnonzero(grouping == g)
                p = self.fine_[j][members]
                total = p.sum()
                column_groups.append((members, p / total if total > 0 else np.full(members.size, 1.0 / members.size)))
            self.within_.append(column_groups)

    def _fine_codes(self, coarse: np.ndarray, rng: np.random.Generator,
                    masks: dict[int, np.ndarray] | None = None) -> np.ndarray:
        """Fine codes drawn inside each row's group from the fine 1-way estimate; with `masks`
        (evidence: column -> allowed fine codes), from that estimate restricted to the allowed codes."""
        n, d = coarse.shape
        codes = np.empty((n, d), dtype=np.int32)
        masks = masks or {}
        for j in range(d):
            if j not in masks and all(members.size == 1 for members, _ in self.within_[j]):
                # one fine code per group (e.g. a binary column): a lookup, and nothing to draw
                codes[:, j] = np.array([members[0] for members, _ in self.within_[j]])[coarse[:, j]]
                continue
            for g, rows in grouped_rows(coarse[:, j], len(self.within_[j])):
                members, p = self.within_[j][g]
                if j in masks:
                    p = np.where(masks[j][members], p, 0.0)
                    if p.sum() <= 0:
                        raise ModelError("a row was drawn in a group the evidence excludes")  # weights prevent it
                    p = p / p.sum()
                codes[rows, j] = members[draw(p, rows.size, rng)] if members.size > 1 else members[0]
        return codes

    def _group_likelihoods(self, masks: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """Per evidence column: p(fine code allowed | group), for every group. The group-level model
        times these likelihoods is the exact conditional over groups, since fine codes are drawn
        inside groups independently of everything else."""
        return {j: np.array([float(p[mask[members]].sum()) for members, p in self.within_[j]])
                for j, mask in masks.items()}

    def _group_counts(self) -> dict[str, int]:
        return {c: int(g.max()) + 1 for c, g in self.groupings_.items()}

    @abc.abstractmethod
    def describe(self) -> dict[str, object]: ...


def parents_first(d: int, edges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The edges of a forest on d columns as (parent, child), breadth-first from the lowest column of
    each tree (children in column order), so every parent comes before its children."""
    if not edges:
        return []
    rows, cols = np.array(edges).T
    one_way = coo_array((np.ones(len(edges)), (rows, cols)), shape=(d, d))
    graph = (one_way + one_way.T).tocsr()  # both directions, neighbours sorted: children in column order
    graph.sort_indices()
    _, labels = connected_components(graph, directed=False)
    _, roots = np.unique(labels, return_index=True)  # the lowest column of each tree
    oriented = []
    for root in sorted(int(r) for r in roots):
        order, predecessors = breadth_first_order(graph, root, directed=True, return_predecessors=True)
        oriented += [(int(predecessors[node]), int(node)) for node in order[1:]]
    return oriented


def _noise_variance(measurement: Measurement) -> float:
    """A cell's noise variance, floored: at a huge budget the discrete Gaussian's exact variance
    underflows (about 1e-317 at epsilon 1e4), and inverse-variance weights became inf/inf = NaN."""
    return max(float(measurement.stddev) ** 2, 1e-6)
