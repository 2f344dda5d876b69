"""Stage 4, measure and fit: the model spends the rest of the run's budget on noisy marginals of the
training codes (every read goes through `PrivateTable`, which charges before it reads) and is
fitted to them; from here on everything is post-processing of DP measurements.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from synthgate.privacy.accountant import Accountant
from synthgate.privacy.models import Model, build_model
from synthgate.privacy.table import PrivateTable

from .config import ReleaseConfig
from .domains import Domains
from .errors import InputError
from .training import Encoded

__all__ = ["Measured", "fit_model"]

log = logging.getLogger("synthgate.fit")


@dataclass(frozen=True)
class Measured:
    """The fitted model and the synthetic row count (public config or the model's DP estimate).
    `warnings` are functions of DP output and public config: publishable."""

    model: Model
    n_rows: int
    warnings: tuple[str, ...]


def fit_model(config: ReleaseConfig, domains: Domains, encoded: Encoded, accountant: Accountant) -> Measured:
    """Measure the training codes at the plan's model cost, fit, and size the synthetic table."""
    codec = domains.codec
    model = build_model(config.model.to_model_spec())
    rows = encoded.codes if encoded.counts is None else encoded.counts
    model.fit(PrivateTable(rows, codec.domain, accountant, contribution=config.contribution),
              domains.plan.model_cost)
    n_rows = _output_rows(config, model.n_estimate)
    warnings: list[str] = []
    if config.output.rows == "estimate" and n_rows == config.output.max_rows:
        warnings.append(f"the DP row count reached output.max_rows={config.output.max_rows:,}: the synthetic table "
                        "was cut there; at this budget the count is mostly noise, give output.rows instead")
    for warning in warnings:
        log.warning(warning)
    return Measured(model, n_rows, tuple(warnings))


def _output_rows(config: ReleaseConfig, n_estimate: float | None) -> int:
    if config.output.rows != "estimate":
        return int(config.output.rows)
    if n_estimate is None:
        raise InputError("output.rows is 'estimate' but the model measured nothing to estimate it from")
    return int(min(max(1, round(n_estimate)), config.output.max_rows))
