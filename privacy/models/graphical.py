"""The `graphical` model: a tree of DP 2-way marginals chosen like MST, at two resolutions.

MST (McKenna, Miklau, Sheldon 2021) measures 1-way marginals, picks a maximum spanning tree of
pairs by the exponential mechanism on how badly independence explains each pair, measures those
2-way marginals and fits one consistent distribution to all measurements. Its weakness on real
tables is what lies inside bins: 2-way tables over fine numeric bins are too noisy, over coarse
ones they smear the values. Here every column has two resolutions:

- fine codes (the codec's bins or categories), whose 1-way marginal is measured as is;
- coarse groups, a public function of that noisy 1-way marginal (post-processing): numeric
  columns get equal-mass (DP-quantile) groups, wide categoricals keep their most frequent
  levels and merge the rest (compressing rare levels under DP), nulls keep a group of their own.

Pairs are selected and measured over groups, so 2-way tables stay small (at most groups²
cells, whatever the column's cardinality) and well above the noise, while sampling draws the
fine code inside its group from the fine 1-way marginal. Estimation is post-processing on the
tree: vertex marginals combine every measurement that covers them (inverse-variance weights),
each edge table is fitted to its vertex marginals by iterative proportional fitting, and rows
are sampled root to leaves from the conditionals. Cost: a scan per query; the rest depends on
the domain only.

Group counts follow the noise: at most about sqrt(n / σ) groups per column (a 2-way table of
two such columns then averages one noise standard deviation per cell), cut on the isotonic fit
of the noisy CDF so point masses get a group of their own.

`selection="aim"` keeps the tree as a warm start and then spends part of the budget in
AIM-style rounds (`aim.py`) over pairs and 3-way tables, estimated as a Bayesian network with
at most two parents per column (`bayesnet.py`, which says why that estimator).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import cast

import numpy as np

from ..domain import Domain, Measurement
from ..table import PrivateTable
from .aim import candidates, run_aim
from .base import Model, ModelError, probabilities_from, row_count_from
from .bayesnet import BayesNet, Constraint, draw, draw_rows
from .groups import frequent_groups, group_cap, noise_line, project_to_total, quantile_groups, sampling_l1

__all__ = ["GraphicalModel", "quantile_groups", "frequent_groups", "sampling_l1", "project_to_total", "group_cap"]

_IPF_ITERATIONS = 60
_AIM_SHARES = (0.3, 0.1, 0.3, 0.3)  # selection aim: 1-way, tree selection, tree 2-way, adaptive rounds


class GraphicalModel(Model):
    """Keeps every 1-way distribution in full and the strongest pairwise dependences (a tree)."""

    kind = "graphical"

    def __init__(self, *, groups: int = 32, ordered: Collection[str] = (), null_codes: Mapping[str, int] | None = None,
                 shares: tuple[float, float, float] = (0.3, 0.15, 0.55), selection: str = "mst",
                 rounds: int | None = None, coarse_groups: int = 12, max_cells: int = 4096) -> None:
        """`ordered` names columns whose codes are ordered (numeric bins); `null_codes` gives each
        column's null code, if any. `shares` split the budget: 1-way, selection, 2-way (under
        `aim`, selection and measurement share the last two in `rounds` rounds, d by default).
        `coarse_groups` and `max_cells` bound AIM's 3-way tables."""
        super().__init__()
        if groups < 2 or coarse_groups < 2:
            raise ModelError("groups and coarse_groups must be at least 2")
        if selection not in ("mst", "aim"):
            raise ModelError(f"selection must be 'mst' or 'aim', not '{selection}'")
        if rounds is not None and rounds < 1:
            raise ModelError("rounds must be at least 1")
        self.selection = selection
        self.rounds = rounds
        self.coarse_groups = coarse_groups
        self.max_cells = max_cells
        if len(shares) != 3 or min(shares) <= 0 or not np.isclose(sum(shares), 1.0):
            raise ModelError("shares must be three positive fractions that add up to 1")
        self.groups = groups
        self.ordered = frozenset(ordered)
        self.null_codes = dict(null_codes or {})
        self.shares = shares

    def _fit(self, table: PrivateTable, budget: float) -> None:
        if budget <= 0:
            raise ModelError("the graphical model needs a positive budget")
        columns = self.columns_ = table.domain.columns
        d = len(columns)
        one_way_share, select_share, two_way_share = self.shares if d > 1 else (1.0, 0.0, 0.0)
        aim = self.selection == "aim" and d > 1
        if aim:  # AIM starts from MST's tree (a warm start), then spends the rest in adaptive rounds
            one_way_share, select_share, two_way_share, aim_share = _AIM_SHARES
        one_way = [table.marginal([c], cost=budget * one_way_share / d) for c in columns]
        n_hat = max(row_count_from(one_way) or 1.0, 1.0)
        self.group_cap_, self.coarse_cap_ = self.groups, self.coarse_groups
        if d > 1:  # groups sized to the noise of the 2-way tables the plan will measure
            noise = table.count_stddev(budget * two_way_share / (d - 1))
            self.group_cap_ = group_cap(self.groups, n_hat, noise)
            self.coarse_cap_ = group_cap(self.coarse_groups, n_hat, noise, way=3)
        self._set_groups(one_way)
        self.edges_: list[tuple[int, int]] = []
        two_way: list[Measurement] = []
        if d > 1:
            # Parents first (breadth-first from each root), so AIM's network can place every edge.
            edges = self._select_tree(table, budget * select_share, n_hat)
            self.edges_ = [(p, c) for c, p in _tree_order(d, edges) if p is not None]
            cost = budget * two_way_share / len(self.edges_)
            two_way = [table.marginal([columns[i], columns[j]], cost=cost, groupings=self.groupings_)
                       for i, j in self.edges_]
        if aim:
            pool = candidates(d, [self.groupings_[c] for c in columns], self.coarse_maps_, max_cells=self.max_cells)
            measured = run_aim(table, pool, lambda ms: self._network(one_way, ms), start=two_way,
                               budget=budget * aim_share, rounds=self.rounds or max(1, d // 2), n_hat=n_hat)
            self.measurements_ = [*one_way, *measured]
            self._estimate_aim(one_way, measured)
            return
        self.measurements_ = [*one_way, *two_way]
        self._estimate(one_way, two_way)

    def _set_groups(self, one_way: list[Measurement]) -> None:
        self.fine_ = [self._denoised(c, m) for c, m in zip(self.columns_, one_way)]
        self.groupings_ = {c: self._grouping(c, self._group_basis(c, m, p))
                           for c, m, p in zip(self.columns_, one_way, self.fine_)}
        # Group totals from the raw noisy counts: noise averages out inside a group, while clipping
        # each empty fine cell at zero first would add about 0.4σ of false mass per cell.
        self.coarse_ = [probabilities_from(np.bincount(self.groupings_[c], weights=m.noisy_counts.ravel(),
                                                       minlength=int(self.groupings_[c].max()) + 1))
                        for c, m in zip(self.columns_, one_way)]
        self.coarse_maps_ = [self._coarser(c, p) for c, p in zip(self.columns_, self.coarse_)]

    def _coarser(self, column: str, groups: np.ndarray) -> np.ndarray:
        """Group -> coarse group (nested: a union of groups), for AIM's 3-way tables."""
        if groups.size <= self.coarse_cap_:
            return np.arange(groups.size)
        null = self.null_codes.get(column)
        null_group = int(self.groupings_[column][null]) if null is not None else None
        if column in self.ordered:
            return quantile_groups(groups, self.coarse_cap_, null_code=null_group)
        return frequent_groups(groups, self.coarse_cap_, null_code=null_group)

    def _denoised(self, column: str, measurement: Measurement) -> np.ndarray:
        """A fine 1-way distribution with less false mass in empty cells (post-processing only).

        Ordered columns: cells beyond the outermost cells whose noisy count clears the noise line
        (the same line as the DP bounds) are set to zero, so empty tails (ages 63-120 in an [0, 120]
        domain) are not sampled. Then the least-squares projection onto the simplex (subtract one
        constant, clip at zero, keep the noisy total) removes the bias that clipping adds.
        """
        noisy = measurement.noisy_counts.ravel().astype(float)
        null = self.null_codes.get(column)
        if column in self.ordered and noisy.size > 2:
            values = np.arange(noisy.size) != null if null is not None else np.ones(noisy.size, bool)
            line = noise_line(measurement.stddev, int(values.sum()))
            significant = np.flatnonzero(values & (noisy >= line))
            if significant.size:
                trimmed = values.copy()
                trimmed[significant[0]: significant[-1] + 1] = False
                noisy[trimmed] = 0.0
        return probabilities_from(project_to_total(noisy, max(float(noisy.sum()), 1.0)))

    def _group_basis(self, column: str, measurement: Measurement, fine: np.ndarray) -> np.ndarray:
        """The mass that groups are cut by. Ordered columns: increments of the isotonic fit of the
        noisy CDF (post-processing). The denoised fine marginal zeroes every cell below the noise,
        so on a small table (acs12: 1,600 rows, σ ≈ 37 a cell) it keeps only the point masses and
        leaves income one group for all its non-zero values; the CDF keeps the spread."""
        if column not in self.ordered or fine.size <= self.groups:
            return fine
        from sklearn.isotonic import isotonic_regression

        noisy = measurement.noisy_counts.ravel().astype(float)
        null = self.null_codes.get(column)
        values = np.arange(noisy.size) != null if null is not None else np.ones(noisy.size, bool)
        cdf = isotonic_regression(np.cumsum(noisy[values]), y_min=0.0)
        basis = np.zeros(noisy.size)
        basis[values] = np.diff(cdf, prepend=0.0).clip(0.0, None)
        if null is not None:
            basis[null] = max(noisy[null], 0.0)
        return basis

    def _restore(self, domain: Domain, structure: dict[str, object]) -> None:
        self.columns_ = domain.columns
        d = len(domain.columns)
        one_way, two_way = self.measurements_[:d], self.measurements_[d:]
        self.group_cap_ = int(structure.get("group_cap", self.groups))  # type: ignore[call-overload]
        self.coarse_cap_ = int(structure.get("coarse_cap", self.coarse_groups))  # type: ignore[call-overload]
        self._set_groups(one_way)
        if self.selection == "aim":
            self._estimate_aim(one_way, two_way)
            return
        edges = cast(list[list[str]], structure.get("edges", []))
        self.edges_ = [(domain.index(a), domain.index(b)) for a, b in edges]
        self._estimate(one_way, two_way)

    def structure(self) -> dict[str, object]:
        return self.describe()

    # --- structure ---------------------------------------------------------------------------
    def _grouping(self, column: str, fine: np.ndarray) -> np.ndarray:
        null = self.null_codes.get(column)
        if fine.size <= self.group_cap_:
            return np.arange(fine.size)
        if column in self.ordered:
            return quantile_groups(fine, self.group_cap_, null_code=null)
        return frequent_groups(fine, self.group_cap_, null_code=null)

    def _coarse(self, j: int) -> np.ndarray:
        """Coarse probabilities of column j from its noisy 1-way marginal."""
        return self.coarse_[j]

    def _select_tree(self, table: PrivateTable, budget: float, n_hat: float) -> list[tuple[int, int]]:
        """Kruskal with the exponential mechanism: each round picks, among the pairs joining two
        components, one that independence explains worst (largest L1 error)."""
        d = len(table.domain.columns)
        coarse = [self._coarse(j) for j in range(d)]
        component = list(range(d))
        edges: list[tuple[int, int]] = []
        pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
        for round_ in range(d - 1):
            candidates = [(i, j) for i, j in pairs if component[i] != component[j]]
            estimates = [n_hat * np.outer(coarse[i], coarse[j]) for i, j in candidates]
            names = [(table.domain.columns[i], table.domain.columns[j]) for i, j in candidates]
            choice = table.select(names, estimates, cost=budget / (d - 1), groupings=self.groupings_,
                                  label=f"select:tree-edge-{round_ + 1}",
                                  offsets=[sampling_l1(e, n_hat) for e in estimates])
            i, j = candidates[choice]
            edges.append((i, j))
            old, new = component[j], component[i]
            component = [new if c == old else c for c in component]
        return edges

    # --- estimation (post-processing only) -------------------------------------------------------
    def _estimate(self, one_way: list[Measurement], two_way: list[Measurement]) -> None:
        d = len(one_way)
        sizes = [int(self.groupings_[c].max()) + 1 for c in self.columns_]
        vertex = self._vertex(one_way, list(zip(self.edges_, two_way)))
        self.vertex_ = vertex
        self.joint_ = {}
        for (i, j), m in zip(self.edges_, two_way):
            start = np.clip(m.noisy_counts.reshape(sizes[i], sizes[j]), 0, None) + 1e-6
            self.joint_[(i, j)] = fit_margins(start, vertex[i], vertex[j])
        self.within_ = [self._within_groups(j) for j in range(d)]
        self.order_ = _tree_order(d, self.edges_)

    def _estimate_aim(self, one_way: list[Measurement], measured: list[Measurement]) -> None:
        self.network_ = self._network(one_way, measured)
        self.within_ = [self._within_groups(j) for j in range(len(one_way))]

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

    def _vertex(self, one_way: list[Measurement],
                pairs: list[tuple[tuple[int, int], Measurement]]) -> list[np.ndarray]:
        """Group-level 1-way estimates: inverse-variance average of every measurement covering them."""
        d = len(one_way)
        sizes = [int(self.groupings_[c].max()) + 1 for c in self.columns_]
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

    def _within_groups(self, j: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each group: its fine codes and their probabilities given the group."""
        grouping = self.groupings_[self.columns_[j]]
        result = []
        for g in range(int(grouping.max()) + 1):
            members = np.flatnonzero(grouping == g)
            p = self.fine_[j][members]
            total = p.sum()
            result.append((members, p / total if total > 0 else np.full(members.size, 1.0 / members.size)))
        return result

    # --- sampling ------------------------------------------------------------------------------
    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.selection == "aim" and len(self.fine_) > 1:
            return self._fine_codes(self.network_.sample(n, rng), rng)
        d = len(self.fine_)
        coarse = np.empty((n, d), dtype=np.int64)
        for child, parent in self.order_:
            if parent is None:
                coarse[:, child] = draw(self.vertex_[child], n, rng)
                continue
            joint = self.joint_[(parent, child)] if (parent, child) in self.joint_ else self.joint_[(child, parent)].T
            conditional = joint / np.clip(joint.sum(axis=1, keepdims=True), 1e-300, None)
            coarse[:, child] = draw_rows(conditional, coarse[:, parent], rng)
        return self._fine_codes(coarse, rng)

    def _fine_codes(self, coarse: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Fine codes drawn inside each row's group from the fine 1-way estimate."""
        n, d = coarse.shape
        codes = np.empty((n, d), dtype=np.int32)
        for j in range(d):
            for g, (members, p) in enumerate(self.within_[j]):
                rows = np.flatnonzero(coarse[:, j] == g)
                if rows.size:
                    codes[rows, j] = members[draw(p, rows.size, rng)] if members.size > 1 else members[0]
        return codes

    def describe(self) -> dict[str, object]:
        """Public structure (from DP measurements): the tree's edges and each column's group count."""
        names = self.columns_
        if self.selection == "aim" and len(names) > 1:
            return {"selection": "aim", "group_cap": self.group_cap_, "coarse_cap": self.coarse_cap_,
                    "parents": {names[c]: [names[p] for p in f.parents] for c, f in self.network_.families.items()},
                    "groups": {c: int(g.max()) + 1 for c, g in self.groupings_.items()}}
        return {"edges": [[names[i], names[j]] for i, j in self.edges_], "group_cap": self.group_cap_,
                "groups": {c: int(g.max()) + 1 for c, g in self.groupings_.items()}}


def fit_margins(table: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Iterative proportional fitting of a positive table to given row and column distributions."""
    fitted = table / table.sum()
    for _ in range(_IPF_ITERATIONS):
        fitted *= (rows / np.clip(fitted.sum(axis=1), 1e-300, None))[:, None]
        fitted *= (columns / np.clip(fitted.sum(axis=0), 1e-300, None))[None, :]
    result: np.ndarray = fitted / fitted.sum()
    return result


def _tree_order(d: int, edges: list[tuple[int, int]]) -> list[tuple[int, int | None]]:
    """(column, parent) pairs, parents first; one root per connected component."""
    neighbours: dict[int, list[int]] = {j: [] for j in range(d)}
    for i, j in edges:
        neighbours[i].append(j)
        neighbours[j].append(i)
    seen: set[int] = set()
    order: list[tuple[int, int | None]] = []
    for root in range(d):
        if root in seen:
            continue
        seen.add(root)
        order.append((root, None))
        queue = [root]
        while queue:
            node = queue.pop(0)
            for other in neighbours[node]:
                if other not in seen:
                    seen.add(other)
                    order.append((other, node))
                    queue.append(other)
    return order


def _noise_variance(measurement: Measurement) -> float:
    """A cell's noise variance, floored: at a huge budget the discrete Gaussian's exact variance
    underflows (about 1e-317 at epsilon 1e4), and inverse-variance weights became inf/inf = NaN."""
    return max(float(measurement.stddev) ** 2, 1e-6)
