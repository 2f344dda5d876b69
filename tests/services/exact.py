"""Exact conditionals of small fitted models, by enumerating every cell from the model's own factors
(never from its sampler): the reference the conditional-sampling tests check draws against."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import chisquare

from synthgate.privacy.domain import Domain
from synthgate.privacy.models import AdaptiveModel, IndependentModel, Model, SchemaModel, TreeModel
from synthgate.privacy.models.conditional import Evidence


def cells(domain: Domain) -> np.ndarray:
    return np.array(list(itertools.product(*(range(s) for s in domain.sizes))))


def _within(model: TreeModel | AdaptiveModel, domain: Domain, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group codes of every cell, and the product of p(fine code | group) over columns."""
    groups = np.column_stack([model.groupings_[c][grid[:, j]] for j, c in enumerate(domain.columns)])
    p = np.ones(len(grid))
    for j in range(grid.shape[1]):
        for g, (members, q) in enumerate(model.within_[j]):
            for m, pm in zip(members, q):
                p[(groups[:, j] == g) & (grid[:, j] == m)] *= pm
    return groups, p


def exact_joint(model: Model, domain: Domain) -> np.ndarray:
    """p(cell) for every cell of `domain` (C order)."""
    grid = cells(domain)
    if isinstance(model, SchemaModel):
        return np.full(len(grid), 1.0 / len(grid))
    if isinstance(model, IndependentModel):
        return np.prod([model.probabilities_[j][grid[:, j]] for j in range(grid.shape[1])], axis=0)
    if isinstance(model, TreeModel):
        groups, p = _within(model, domain, grid)
        for child, parent in model.order_:
            p = p * (model.vertex_[child][groups[:, child]] if parent is None
                     else model.conditionals_[(parent, child)][groups[:, parent], groups[:, child]])
        return p
    assert isinstance(model, AdaptiveModel)
    groups, p = _within(model, domain, grid)
    net = model.network_
    for j in range(grid.shape[1]):
        family = net.families.get(j)
        if family is None:
            p = p * net.vertex[j][groups[:, j]]
        else:
            p = p * family.conditional[net._parent_index(family, groups), groups[:, j]]
    return p


def exact_conditional(model: Model, domain: Domain, evidence: Evidence) -> tuple[np.ndarray, float]:
    """p(cell | evidence) and p(evidence)."""
    joint = exact_joint(model, domain)
    restricted = np.where(evidence.accepts(cells(domain), domain), joint, 0.0)
    return restricted / restricted.sum(), float(restricted.sum() / joint.sum())


def chi_square_p(draws: np.ndarray, expected_p: np.ndarray, domain: Domain) -> float:
    """Pearson's chi-square p-value of draws (n x d codes) against cell probabilities; cells with
    expected count < 5 pooled. A draw in a cell of probability 0 fails at once."""
    index = np.ravel_multi_index(tuple(draws.T), domain.sizes)
    observed = np.bincount(index, minlength=expected_p.size).astype(float)
    expected = expected_p * len(draws)
    assert observed[expected == 0].sum() == 0, "a draw fell in a cell the conditional gives probability 0"
    big = expected >= 5
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return float(chisquare(obs, exp).pvalue)
