"""A Bayesian network over group codes, each column drawn given at most two parents.

This is the estimator behind `graphical` with `selection: aim`. AIM (McKenna et al. 2022) lets
its marginals form any set of cliques and needs Private-PGM's junction-tree inference to fit one
distribution to them. We restrict the cliques instead: a measured marginal over S is usable only
if one column c of S can take S∖{c} as its parents (its old parents a subset of them, no cycle).
Then each column's conditional p(c | parents) is read off one measured table, post-processed
(clipped, and fitted by IPF to the columns' 1-way estimates), and the joint is their product,
as in PrivBayes (Zhang et al. 2017). Why this and not a junction tree:
- it is always a proper distribution, with no iterative inference, so estimation costs
  milliseconds and sampling is exact, ancestral, and vectorised;
- with parents limited to two and 3-way tables measured over coarser groups, every table stays
  small (groups² or coarse³ cells), so memory depends on the domain only;
- it is consistent on what it uses: the child's conditional given its parents is the measured
  one (up to IPF to the 1-ways); what it gives up is agreement between two tables that share
  parents, which AIM's selection then sees as error and may measure.
Post-processing only: built from noisy measurements and public groupings, never from data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BayesNet", "Family", "fit_axes"]

_IPF_ITERATIONS = 30


@dataclass(frozen=True)
class Family:
    """A child column, its parents, and p(child | parents) at the table's resolution."""

    child: int
    columns: tuple[int, ...]        # the measured table's axes, in order (child among them)
    maps: tuple[np.ndarray, ...]    # per axis: group code -> table code (identity or coarser)
    conditional: np.ndarray         # (prod of parent axis sizes, child axis size), rows sum to 1

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(c for c in self.columns if c != self.child)


class BayesNet:
    """Columns over group codes; roots follow their 1-way estimate, others a Family."""

    def __init__(self, vertex: Sequence[np.ndarray]) -> None:
        self.vertex = [np.asarray(v, float) for v in vertex]
        self.families: dict[int, Family] = {}

    def parents(self, j: int) -> tuple[int, ...]:
        return self.families[j].parents if j in self.families else ()

    def orient(self, columns: Sequence[int]) -> int | None:
        """The child that can take the other columns as its parents, or None.

        Its current parents must be among them (so no measured dependence is dropped) and no
        other column may descend from it (no cycle). Among several, the one with the most parents
        already (it extends a family), then the last listed: a public, deterministic rule."""
        best: int | None = None
        for c in columns:
            others = set(columns) - {c}
            if not set(self.parents(c)) <= others or others & self._descendants(c):
                continue
            if best is None or len(self.parents(c)) >= len(self.parents(best)):
                best = c
        return best

    def attach(self, child: int, columns: Sequence[int], maps: Sequence[np.ndarray], table: np.ndarray) -> None:
        """Make `columns` minus `child` the child's parents, with the conditional from `table`
        (noisy counts shaped by the maps' code counts)."""
        columns = tuple(columns)
        targets = [np.bincount(m, weights=self.vertex[c], minlength=int(m.max()) + 1) for c, m in zip(columns, maps)]
        joint = fit_axes(np.clip(table, 0.0, None) + 1e-6, targets)
        axis = columns.index(child)
        moved = np.moveaxis(joint, axis, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        rows = flat.sum(axis=1, keepdims=True)
        conditional = np.where(rows > 0, flat / np.clip(rows, 1e-300, None), targets[axis] / targets[axis].sum())
        self.families[child] = Family(child, columns, tuple(maps), conditional)

    def order(self) -> list[int]:
        """Columns, every parent before its children."""
        done: list[int] = []
        pending = list(range(len(self.vertex)))
        while pending:
            ready = [j for j in pending if set(self.parents(j)) <= set(done)]
            if not ready:
                raise RuntimeError("the network has a cycle")  # orient() prevents this
            done += ready
            pending = [j for j in pending if j not in ready]
        return done

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows of group codes (n x d), ancestral sampling."""
        out = np.zeros((n, len(self.vertex)), dtype=np.int64)
        for j in self.order():
            family = self.families.get(j)
            if family is None:
                out[:, j] = draw(self.vertex[j], n, rng)
                continue
            parent_axes = [k for k, c in enumerate(family.columns) if c != j]
            sizes = [int(family.maps[k].max()) + 1 for k in parent_axes]
            index = (np.ravel_multi_index(tuple(family.maps[k][out[:, family.columns[k]]] for k in parent_axes), sizes)
                     if parent_axes else np.zeros(n, dtype=np.int64))
            coarse = draw_rows(family.conditional, index, rng)
            child_map = family.maps[family.columns.index(j)]
            out[:, j] = self._refine(j, child_map, coarse, rng)
        return out

    def _refine(self, j: int, child_map: np.ndarray, coarse: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Group codes from coarser table codes, by the 1-way estimate inside each coarse code."""
        if child_map.size == int(child_map.max()) + 1 and np.array_equal(child_map, np.arange(child_map.size)):
            return coarse
        out = np.empty_like(coarse)
        for code in np.unique(coarse):
            rows = np.flatnonzero(coarse == code)
            members = np.flatnonzero(child_map == code)
            p = self.vertex[j][members]
            p = p / p.sum() if p.sum() > 0 else np.full(members.size, 1.0 / members.size)
            out[rows] = members[draw(p, rows.size, rng)]
        return out

    def _descendants(self, j: int) -> set[int]:
        children: dict[int, list[int]] = {}
        for child, family in self.families.items():
            for p in family.parents:
                children.setdefault(p, []).append(child)
        seen: set[int] = set()
        stack = list(children.get(j, []))
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(children.get(c, []))
        return seen


def fit_axes(table: np.ndarray, targets: Sequence[np.ndarray]) -> np.ndarray:
    """Iterative proportional fitting of a positive table to one target distribution per axis."""
    fitted = np.asarray(table, float) / table.sum()
    for _ in range(_IPF_ITERATIONS):
        for axis, target in enumerate(targets):
            other = tuple(k for k in range(fitted.ndim) if k != axis)
            current = fitted.sum(axis=other)
            shape = [1] * fitted.ndim
            shape[axis] = -1
            fitted *= (np.asarray(target, float) / max(float(np.sum(target)), 1e-300)
                       / np.clip(current, 1e-300, None)).reshape(shape)
    return fitted / fitted.sum()


def draw(p: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    cumulative = np.cumsum(p)
    cumulative[-1] = 1.0
    return np.searchsorted(cumulative, rng.random(n), side="right").clip(0, p.size - 1)


def draw_rows(conditional: np.ndarray, parents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row from the row of `conditional` its parent's value selects."""
    cumulative = np.cumsum(conditional, axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(parents.size)
    out = np.empty(parents.size, dtype=np.int64)
    for value in np.unique(parents):
        rows = np.flatnonzero(parents == value)
        out[rows] = np.searchsorted(cumulative[value], u[rows], side="right")
    return out.clip(0, conditional.shape[1] - 1)
