"""A Bayesian network over group codes, each column drawn given at most two parents.

This is the estimator behind `graphical` with `selection: aim`. AIM (McKenna et al. 2022) lets
its marginals form any set of cliques and needs Private-PGM's junction-tree inference to fit one
distribution to them. We restrict the cliques instead: a measured marginal over S is usable only
if it lies inside a column's family (it refines that family's table), or if one column c of S
can take S∖{c} as its parents (its old parents a subset of them, no cycle).
Then each column's conditional p(c | parents) comes from its family's table over groups, fitted
by IPF to every measurement inside the family (a 3-way table over coarse groups, the 2-way tables
over groups it refines, the 1-way estimates), and the joint is their product, as in PrivBayes
(Zhang et al. 2017). Why this and not a junction tree:
- it is always a proper distribution, with no iterative inference, so estimation costs
  milliseconds and sampling is exact, ancestral, and vectorised;
- with parents limited to two, a family's table has at most groups³ cells, so memory depends on
  the domain only;
- it is consistent on what it uses: the child's conditional given its parents is the measured
  one (up to IPF to the 1-ways); what it gives up is agreement between two tables that share
  parents, which AIM's selection then sees as error and may measure.
Post-processing only: built from noisy measurements and public groupings, never from data.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .ipf import iterate_to_fixpoint

__all__ = ["BayesNet", "Constraint", "Family", "grouped_rows"]

# IPF sweeps over a family's constraints: noisy tables that disagree make IPF cycle instead of
# converge, so the sweeps stop at the tolerance (ipf.py) or, at the latest, here.
_IPF_SWEEPS = 30


@dataclass(frozen=True)
class Family:
    """A child column, its parents, and p(child | parents) over group codes."""

    child: int
    columns: tuple[int, ...]        # the family's axes, in increasing column order (child among them)
    conditional: np.ndarray         # (prod of parent group counts, child group count), rows sum to 1

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(c for c in self.columns if c != self.child)


@dataclass(frozen=True)
class Constraint:
    """A noisy table over some of a family's columns, each axis coarsened by a map of group codes."""

    columns: tuple[int, ...]
    maps: tuple[np.ndarray, ...]    # per axis: group code -> table code
    table: np.ndarray


class BayesNet:
    """Columns over group codes; roots follow their 1-way estimate, others a Family."""

    def __init__(self, vertex: Sequence[np.ndarray]) -> None:
        self.vertex = [np.asarray(v, float) for v in vertex]
        self.families: dict[int, Family] = {}

    def parents(self, j: int) -> tuple[int, ...]:
        return self.families[j].parents if j in self.families else ()

    def place(self, columns: Sequence[int]) -> tuple[int, tuple[int, ...]] | None:
        """Where a table over `columns` goes: (child, family columns), or None if nowhere.

        Inside an existing family whose child is one of the columns (the smallest such), it refines
        that family's table; a family whose child is not among them would only bend the child's
        conditional, not the columns' joint. Otherwise one column takes the others as its parents: its current parents
        must be among them (so no measured dependence is dropped) and none may descend from it
        (no cycle); among several, the one with the most parents already, then the last listed.
        A public, deterministic rule."""
        wanted = set(columns)
        inside = [(len(f.columns), c) for c, f in self.families.items() if c in wanted and wanted <= set(f.columns)]
        if inside:
            child = min(inside)[1]
            return child, self.families[child].columns
        best: int | None = None
        for c in columns:
            others = wanted - {c}
            if not set(self.parents(c)) <= others or others & self._descendants(c):
                continue
            if best is None or len(self.parents(c)) >= len(self.parents(best)):
                best = c
        return None if best is None else (best, tuple(sorted(columns)))

    def attach(self, child: int, columns: Sequence[int], constraints: Sequence[Constraint]) -> None:
        """Make `columns` minus `child` the child's parents; p(child | parents) from the family's
        table over groups fitted by IPF to the 1-way estimates and then to each constraint."""
        columns = tuple(sorted(columns))
        sizes = [self.vertex[c].size for c in columns]
        joint = np.ones(sizes) / np.prod(sizes)
        fits = [Constraint((c,), (np.arange(self.vertex[c].size),), self.vertex[c]) for c in columns]
        fits += [k for k in constraints if set(k.columns) <= set(columns)]

        def sweep(table: np.ndarray) -> np.ndarray:
            for k in fits:
                table = _fit_constraint(table, columns, k)
            return table

        joint = iterate_to_fixpoint(sweep, joint, max_rounds=_IPF_SWEEPS)
        moved = np.moveaxis(joint, columns.index(child), -1)
        flat = moved.reshape(-1, moved.shape[-1])
        rows = flat.sum(axis=1, keepdims=True)
        fallback = self.vertex[child] / max(float(self.vertex[child].sum()), 1e-300)
        conditional = np.where(rows > 1e-12, flat / np.clip(rows, 1e-300, None), fallback)
        self.families[child] = Family(child, columns, conditional)

    def calibrate(self, n: int = 50_000, iterations: int = 10) -> None:
        """Rescale each child's conditional so the child's marginal in the network matches its
        1-way estimate (the parents' joint in the network is not the one in the family's table,
        so without this the 1-way fidelity the fine measurements bought drifts). The parents'
        joint comes from n Monte Carlo rows drawn parents first with a fixed generator:
        post-processing, and the same network every time."""
        self._ancestral(n, np.random.default_rng(0), calibrate=iterations)

    def _calibrated(self, family: Family, index: np.ndarray, iterations: int) -> Family:
        weight_of_row = np.bincount(index, minlength=family.conditional.shape[0]) / index.size
        target = self.vertex[family.child] / max(float(self.vertex[family.child].sum()), 1e-300)
        conditional = family.conditional
        for _ in range(iterations):
            implied = weight_of_row @ conditional
            conditional = conditional * np.where(implied > 0, target / np.clip(implied, 1e-300, None), 0.0)
            rows = conditional.sum(axis=1, keepdims=True)
            conditional = np.where(rows > 0, conditional / np.clip(rows, 1e-300, None), target)
        self.families[family.child] = Family(family.child, family.columns, conditional)
        return self.families[family.child]

    def order(self) -> list[int]:
        """Columns, every parent before its children."""
        done: list[int] = []
        pending = list(range(len(self.vertex)))
        while pending:
            ready = [j for j in pending if set(self.parents(j)) <= set(done)]
            if not ready:
                raise RuntimeError("the network has a cycle")  # place() prevents this
            done += ready
            pending = [j for j in pending if j not in ready]
        return done

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows of group codes (n x d), ancestral sampling."""
        return self._ancestral(n, rng, calibrate=0)

    def _ancestral(self, n: int, rng: np.random.Generator, *, calibrate: int) -> np.ndarray:
        """Parents first; with `calibrate` > 0, each family is calibrated on the rows drawn so far."""
        out = np.zeros((n, len(self.vertex)), dtype=np.int64)
        for j in self.order():
            family = self.families.get(j)
            if family is None:
                out[:, j] = draw(self.vertex[j], n, rng)
                continue
            index = self._parent_index(family, out)
            if calibrate:
                family = self._calibrated(family, index, calibrate)
            out[:, j] = draw_rows(family.conditional, index, rng)
        return out

    def _parent_index(self, family: Family, rows: np.ndarray) -> np.ndarray:
        parents = family.parents
        return np.ravel_multi_index(tuple(rows[:, p] for p in parents), [self.vertex[p].size for p in parents])

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


def _fit_constraint(joint: np.ndarray, columns: tuple[int, ...], k: Constraint) -> np.ndarray:
    """One IPF step: rescale `joint` so its (coarsened) marginal on k's columns matches k's table."""
    order = sorted(range(len(k.columns)), key=lambda a: columns.index(k.columns[a]))
    axes = [columns.index(k.columns[a]) for a in order]
    maps = [k.maps[a] for a in order]
    target = np.transpose(np.clip(np.asarray(k.table, float), 0.0, None) + 1e-9, order)
    target = target / target.sum()
    marginal = joint.sum(axis=tuple(a for a in range(joint.ndim) if a not in axes))
    for position, m in enumerate(maps):
        onehot = np.eye(target.shape[position])[m]
        marginal = np.moveaxis(np.tensordot(marginal, onehot, axes=([position], [0])), -1, position)
    ratio = (target / np.clip(marginal, 1e-300, None))[np.ix_(*maps)]
    shape = [joint.shape[a] if a in axes else 1 for a in range(joint.ndim)]
    fitted: np.ndarray = joint * ratio.reshape(shape)
    fitted /= fitted.sum()
    return fitted


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
    for value, rows in grouped_rows(parents, conditional.shape[0]):
        out[rows] = np.searchsorted(cumulative[value], u[rows], side="right")
    return out.clip(0, conditional.shape[1] - 1)


def grouped_rows(values: np.ndarray, n_values: int) -> Iterator[tuple[int, np.ndarray]]:
    """(value, the rows holding it, in increasing order) for every value in `values` (each in
    [0, n_values)), in increasing value order: what `np.flatnonzero(values == v)` gives for each
    `v` of `np.unique(values)`, from one stable sort (a radix sort for up to 2^16 values) instead of
    one pass over every row per value. Callers draw from the generator in this order, so the
    random stream and the rows drawn are the same as with the per-value passes."""
    values = np.asarray(values)
    if not values.size:
        return
    keys = values.astype(np.uint16) if n_values <= 1 << 16 else values
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(values, minlength=n_values)
    ends = np.cumsum(counts)
    for value in np.flatnonzero(counts):
        yield int(value), order[ends[value] - counts[value]: ends[value]]
