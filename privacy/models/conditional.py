"""Sampling from a fitted model's conditional distribution given evidence on some columns.

Evidence is in code space: for each named column, the set of codes a row may take (several codes
of one column are OR, several columns are AND). `Model.condition(evidence)` returns a
`Conditional`: the distribution p(x | evidence) the model defines, its probability of the
evidence, and how it is drawn. Each kind says its method and cost (`Conditional.method`):

- exact by restriction (schema, independent): columns are independent, so each evidence
  column's distribution is restricted to its allowed codes. Cost: none beyond sampling.
- exact by belief propagation (graphical, tree): likelihoods flow leaves to root, then rows are
  drawn root to leaves from the posterior conditionals. Cost: O(columns x groups²) once.
- exact by rejection (copula; graphical with AIM, whose network weights each draw by the
  evidence's likelihood inside its groups): accepted draws are exact draws from the conditional.
  Cost: about n / p(evidence) draws; refused when that passes `MAX_DRAWS`.

Everything here is post-processing of the noisy measurements: no data, no spend. A condition the
model gives (near-)zero probability is refused (`ConditionError`, exit 2), not approximated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from ..domain import Domain
from ..errors import InputError

__all__ = ["ConditionError", "Conditional", "Evidence", "MAX_DRAWS", "MIN_PROBABILITY", "PILOT_DRAWS",
           "RejectionConditional", "RestrictedConditional"]

# Below this probability under the model a condition is refused: the rows would describe a
# region the noisy measurements say (almost) nobody is in.
MIN_PROBABILITY = 1e-6
# Rejection samplers estimate p(evidence) from this many draws of a fixed generator (public, repeatable).
PILOT_DRAWS = 100_000
# A rejection sampler refuses a request that would need more draws than this (about a minute).
MAX_DRAWS = 200_000_000
_CHUNK = 65_536
_MAX_CHUNK = 262_144  # draws held at once by a rejection sampler: about 25 MB at 12 columns


class ConditionError(InputError):
    """A condition the model cannot serve: zero or near-zero probability, or too costly to draw."""


@dataclass(frozen=True)
class Evidence:
    """Allowed codes per column; empty means no condition. Public: a request over a public domain."""

    allowed: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @classmethod
    def from_mapping(cls, allowed: Mapping[str, Iterable[int]]) -> Evidence:
        return cls(tuple((column, tuple(sorted({int(c) for c in codes}))) for column, codes in allowed.items()))

    def __bool__(self) -> bool:
        return bool(self.allowed)

    def with_codes(self, column: str, codes: Iterable[int]) -> Evidence:
        """This evidence with `column` restricted to `codes` (replacing any earlier restriction)."""
        return Evidence.from_mapping({**dict(self.allowed), column: codes})

    def masks(self, domain: Domain) -> dict[int, np.ndarray]:
        """Column index -> boolean mask over its codes; checked against the domain."""
        masks: dict[int, np.ndarray] = {}
        for column, codes in self.allowed:
            if column not in domain.columns:
                raise ConditionError(f"condition on '{column}': no such column in the release")
            size = domain.size(column)
            if not codes or min(codes) < 0 or max(codes) >= size:
                raise ConditionError(f"condition on '{column}': its codes lie outside the column's domain")
            mask = np.zeros(size, bool)
            mask[list(codes)] = True
            masks[domain.index(column)] = mask
        return masks

    def accepts(self, codes: np.ndarray, domain: Domain) -> np.ndarray:
        """Which rows of codes (n x d) meet the evidence."""
        ok = np.ones(codes.shape[0], bool)
        for j, mask in self.masks(domain).items():
            ok &= mask[codes[:, j]]
        return ok


class Conditional:
    """p(x | evidence) of one fitted model: `probability` of the evidence under the model, `method`
    (how rows are drawn, and the cost) and `sample(n, rng)` (n x d codes, all meeting the evidence)."""

    method: str = ""

    def __init__(self, evidence: Evidence, probability: float) -> None:
        self.evidence, self.probability = evidence, float(probability)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


class RestrictedConditional(Conditional):
    """Independent columns: each evidence column's distribution restricted to its allowed codes."""

    method = "exact: each column's distribution restricted to the allowed codes (columns are independent)"

    def __init__(self, evidence: Evidence, domain: Domain, probabilities: list[np.ndarray]) -> None:
        masks = evidence.masks(domain)
        restricted, probability = [], 1.0
        for j, p in enumerate(probabilities):
            q = np.where(masks[j], p, 0.0) if j in masks else np.asarray(p, float)
            mass = float(q.sum())
            probability *= mass
            restricted.append(q / mass if mass > 0 else q)
        super().__init__(evidence, probability)
        self._probabilities = restricted

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        from .bayesnet import draw

        return np.column_stack([draw(p, n, rng) for p in self._probabilities]).astype(np.int32)


class RejectionConditional(Conditional):
    """Draws from the model and keeps each draw with probability `weight(draw)` (1 or 0 for plain
    rejection; the evidence's likelihood inside a row's groups for the graphical network): the kept
    draws are exact draws from the conditional. `finish` turns kept draws into codes."""

    method = "exact by rejection: about n / p(evidence) draws of the model"

    def __init__(self, evidence: Evidence, draw: Callable[[int, np.random.Generator], np.ndarray],
                 weight: Callable[[np.ndarray], np.ndarray],
                 finish: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
                 method: str | None = None) -> None:
        self._draw, self._weight = draw, weight
        self.method = method or self.method
        self._finish = finish or (lambda rows, rng: rows.astype(np.int32))
        pilot = self._draw(PILOT_DRAWS, np.random.default_rng(0))  # fixed generator: the same estimate every time
        super().__init__(evidence, float(np.mean(self._weight(pilot))))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if n <= 0:
            return self._finish(self._draw(0, rng), rng)
        if self.probability <= 0 or n / self.probability > MAX_DRAWS:
            raise ConditionError(f"drawing {n:,} rows by rejection at p(evidence) = {self.probability:.2g} needs "
                                 f"more than {MAX_DRAWS:,} draws of the model; ask for fewer rows or a wider condition")
        kept: list[np.ndarray] = []
        n_kept = n_drawn = 0
        while n_kept < n:
            if n_drawn > 2 * MAX_DRAWS:  # p was estimated: stop rather than loop for ever
                raise ConditionError("rejection sampling took more than twice the expected draws; widen the condition")
            size = int(min(max(_CHUNK, 1.2 * (n - n_kept) / self.probability), _MAX_CHUNK))
            rows = self._draw(size, rng)
            keep = rng.random(size) < self._weight(rows)
            kept.append(rows[keep][: n - n_kept])
            n_kept += kept[-1].shape[0]
            n_drawn += size
        return self._finish(np.concatenate(kept), rng)
