"""The releases an audit attacks: synthgate's models driven directly, and a non-private baseline.

The DP methods run exactly what `run_release` runs between encoding and sampling: the table's
config gives the codec (public domains), `plan_budget` splits (epsilon, delta) into the model's
cost, the model fits through a fresh `PrivateTable` and `Accountant` (so DP noise is fresh,
from the secure source, on every call), and the output row count is the model's DP estimate,
as with the shipped `output.rows: estimate`. Skipped: validation, the gate and file writing,
which do not change what an attacker sees. The seeded RNG drives sampling only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from synthgate.pipeline.config import ReleaseConfig
from synthgate.pipeline.encode import TableCodec
from synthgate.privacy.domain import Measurement

from bench._common import make_config

__all__ = ["AuditTable", "Method", "Release", "load_table", "release"]

RESAMPLE = "resample"


@dataclass(frozen=True)
class Method:
    """A release method: `kind` is a synthgate model kind or "resample" (non-private, no epsilon)."""

    kind: str
    epsilon: float | None = None

    @property
    def label(self) -> str:
        if self.epsilon is None:
            return "resample (non-private)"
        return f"{self.kind} eps={self.epsilon:g}"

    @property
    def is_private(self) -> bool:
        return self.epsilon is not None


@dataclass(frozen=True)
class Release:
    """What one run produced: synthetic codes and, for DP methods, the noisy measurements behind them
    (with the public column groupings the 2-way ones were taken over)."""

    codes: np.ndarray
    measurements: tuple[Measurement, ...] = ()
    groupings: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditTable:
    """A shared table encoded with its config's public codec, split as `run_release` splits it."""

    name: str
    config: ReleaseConfig
    codec: TableCodec
    train: np.ndarray
    holdout: np.ndarray
    delta: float
    numeric: tuple[bool, ...]  # ordered (numeric) columns, whose codes are bins
    null_codes: dict[str, int]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(self.codec.domain.sizes)


def load_table(name: str, *, seed: int) -> AuditTable:
    """Encode the table's training and holdout rows (split with `seed`) over its public domain."""
    from synthgate.pipeline.encode import NumericCodec

    from bench.fidelity.harness import real_split, table_codec

    config = make_config(name)
    if estimated := [c.name for c in config.attributes if c.is_estimated]:
        raise SystemExit(f"{name}: columns {estimated} have DP-estimated domains; this audit drives the "
                         "model directly and needs every domain public in the config")
    train, holdout = real_split(config, seed)
    codec = table_codec(config, None)
    return AuditTable(
        name=name, config=config, codec=codec,
        train=codec.encode(train).astype(np.int32), holdout=codec.encode(holdout).astype(np.int32),
        delta=float(config.privacy.delta),
        numeric=tuple(isinstance(c, NumericCodec) for c in codec.codecs),
        null_codes={c.name: c.null_code for c in codec.codecs if c.null_code is not None},
    )


def release(table: AuditTable, codes: np.ndarray, method: Method, rng: np.random.Generator) -> Release:
    """Synthetic codes released from training `codes` by `method` (fresh DP noise each call)."""
    if not method.is_private:
        return Release(_resample(table, codes, rng))
    from synthgate.pipeline.plan import plan_budget
    from synthgate.privacy.accountant import Accountant, Budget
    from synthgate.privacy.models import make_model
    from synthgate.privacy.table import PrivateTable

    budget = Budget(float(method.epsilon or 0.0), table.delta)
    plan = plan_budget(table.config, Accountant(budget))
    model_config = table.config.model
    domain = table.codec.domain
    model = make_model(method.kind, correlation_share=model_config.correlation_share, groups=model_config.groups,
                       ordered=[c for c, num in zip(domain.columns, table.numeric) if num],
                       null_codes=table.null_codes, selection=model_config.selection)
    model.fit(PrivateTable(codes, domain, Accountant(budget)), plan.model_cost)
    n_rows = max(1, int(round(model.n_estimate or 1.0)))
    return Release(model.sample(n_rows, rng), tuple(model.measurements_), dict(getattr(model, "groupings_", {})))


def _resample(table: AuditTable, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The non-private baseline: training rows drawn with replacement (same count), each numeric
    code moved by -1, 0 or +1 (tiny perturbation, null codes kept). Leaks by construction."""
    synthetic = codes[rng.integers(0, codes.shape[0], codes.shape[0])].copy()
    for j, numeric in enumerate(table.numeric):
        if not numeric:
            continue
        name = table.codec.domain.columns[j]
        null = table.null_codes.get(name)
        values = table.sizes[j] - (1 if null is not None else 0)
        moved = np.clip(synthetic[:, j] + rng.integers(-1, 2, synthetic.shape[0]), 0, values - 1)
        keep = synthetic[:, j] == null if null is not None else np.zeros(synthetic.shape[0], bool)
        synthetic[:, j] = np.where(keep, synthetic[:, j], moved)
    return synthetic
