"""The releases an audit attacks: synthgate's models driven directly, and a non-private baseline.

The DP methods run what `run_release` runs from encoding to the gate: the table's config gives
the codec (public domains), `plan_budget` splits (epsilon, delta) into the model's cost and the
DP gate's query costs (`plan.model_cost` = total - domain - gate), the model fits through a fresh
`PrivateTable` on a fresh `Accountant` (so DP noise is fresh, from the secure source, on every
call), the output row count is the model's DP estimate (the shipped `output.rows: estimate`),
and then the DP gate runs as in `run_release`: `measure_gate` with `plan.gate_costs` on the same
training codes, the check samples kept like the run keeps them (`RowSample` over priorities from
`RowKeys` under the benchmark's `SplitKey`), the synthetic table's head as the release, and
`gate()` decides. Its noisy figures and the decision are part of what an attacker sees. Both
the model and the gate charge the same accountant, which refuses to pass the budget.

Differences from a run, for speed (the canary audit fits thousands of releases): the check
samples hold `gate_rows` rows (default 1,000) instead of `utility.sample_rows` (5,000); the exact
internal figures (`run_checks`' non-DP part) are not computed, as they are not released;
validation and file writing are skipped. The seeded RNG drives sampling only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from synthgate.pipeline.config import ReleaseConfig
from synthgate.pipeline.encode import TableCodec
from synthgate.privacy.accountant import _SLACK, Accountant, BatchAmounts, Budget, Charge
from synthgate.privacy.domain import Measurement

from bench._common import make_config, object_columns

__all__ = ["AuditTable", "GateView", "Method", "Release", "load_table", "release"]

RESAMPLE = "resample"
GATE_ROWS = 1000  # check-sample rows per side (a run keeps utility.sample_rows = 5,000): speed


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
class GateView:
    """What the DP gate published for one release: the decision, the DP figures (value, stddev) and
    the noisy query answers behind them (label -> names, values, stddev). All DP: the manifest and
    `--json` show them."""

    decision: str
    figures: dict[str, tuple[float | None, float]]
    queries: dict[str, dict[str, Any]]

    @property
    def held(self) -> bool:
        return self.decision != "RELEASE"

    def noisy(self, label: str, name: str) -> tuple[float, float] | None:
        """(noisy value, noise stddev) of one entry of a gate query, or None when it was not made."""
        query = self.queries.get(label)
        if query is None or name not in query["names"]:
            return None
        return float(query["values"][query["names"].index(name)]), float(query["stddev"])


@dataclass(frozen=True)
class Release:
    """What one run produced: synthetic codes and, for DP methods, the noisy measurements behind them
    (with the public column groupings the 2-way ones were taken over) and the DP gate's output."""

    codes: np.ndarray
    measurements: tuple[Measurement, ...] = ()
    groupings: dict[str, np.ndarray] = field(default_factory=dict)
    gate: GateView | None = None


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
    # The gate's inputs, kept as run_release keeps them: the check samples (the `gate_rows` rows of
    # lowest secret priority on each side, in priority order) and the priorities of the training one.
    gate_config: ReleaseConfig | None = None
    train_sample: pd.DataFrame | None = None
    train_sample_priority: np.ndarray | None = None
    holdout_sample: pd.DataFrame | None = None
    seed: int = 0

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(self.codec.domain.sizes)


def load_table(name: str, *, seed: int, gate_rows: int = GATE_ROWS) -> AuditTable:
    """Encode the table's training and holdout rows (split with `seed`) over its public domain, and
    keep the DP gate's check samples (`gate_rows` rows a side) as `run_release` keeps them."""
    from synthgate.pipeline.encode import NumericCodec
    from synthgate.pipeline.load import iter_batches, iter_split_batches
    from synthgate.pipeline.samples import RowSample
    from synthgate.pipeline.split import RowKeys, SplitKey

    from bench.fidelity.harness import table_codec

    config = make_config(name)
    if estimated := [c.name for c in config.attributes if c.is_estimated]:
        raise SystemExit(f"{name}: columns {estimated} have DP-estimated domains; this audit drives the "
                         "model directly and needs every domain public in the config")
    if config.holdout_path is not None:
        raise SystemExit(f"{name}: a holdout file is not supported by this audit")
    gate_config = config.model_copy(update={"utility": config.utility.model_copy(update={"sample_rows": gate_rows})})
    # The split and the check-sample priorities of bench.fidelity.harness.real_split / run_release,
    # under the benchmark's reproducible key.
    key = SplitKey.reproducible_for_benchmarks(seed)
    batches = iter_batches(config.source_path, config.source_format, config.attributes, identifiers=config.identifiers)
    train_parts, holdout_parts, train_priority = [], [], []
    holdout_sample = RowSample(gate_rows)
    for part in iter_split_batches(batches, row_keys=RowKeys(key, config.holdout.fraction)):
        train_parts.append(part.train)
        holdout_parts.append(part.holdout)
        train_priority.append(part.train_priority)
        holdout_sample.add(part.holdout, part.holdout_priority)
    train = object_columns(pd.concat(train_parts, ignore_index=True))
    holdout = object_columns(pd.concat(holdout_parts, ignore_index=True))
    priority = np.concatenate(train_priority)
    first = np.argsort(priority, kind="stable")[:gate_rows]
    codec = table_codec(config, None)
    return AuditTable(
        name=name, config=config, codec=codec,
        train=codec.encode(train).astype(np.int32), holdout=codec.encode(holdout).astype(np.int32),
        delta=float(config.privacy.delta),
        numeric=tuple(isinstance(c, NumericCodec) for c in codec.codecs),
        null_codes={c.name: c.null_code for c in codec.codecs if c.null_code is not None},
        gate_config=gate_config, train_sample=train.iloc[first].reset_index(drop=True),
        train_sample_priority=priority[first], holdout_sample=holdout_sample.frame(), seed=seed,
    )


def train_sample_with(table: AuditTable, rows: pd.DataFrame, *, first: bool = False) -> pd.DataFrame:
    """The training check sample when `rows` (e.g. the canary) are appended to the training rows.

    A row's priority is a keyed function of its own content and occurrence number; `rows` are
    assumed to occur nowhere in the table (true of the canaries), so each is occurrence 0 and gets
    the priority the run would give it, and the sample keeps the `gate_rows` lowest as a run does.
    `first=True` gives them priority 0 instead: the worst case, in which they are always among the
    rows the gate compares (a run's secret key puts a row there with probability about k / n)."""
    from synthgate.pipeline.samples import RowSample
    from synthgate.pipeline.split import RowKeys, SplitKey

    assert table.train_sample is not None and table.train_sample_priority is not None
    rows = rows[list(table.train_sample.columns)].astype(table.train_sample.dtypes.to_dict())
    _, priority = RowKeys(SplitKey.reproducible_for_benchmarks(table.seed), None).of(rows)
    if first:
        priority = np.zeros(len(rows))
    sample = RowSample(len(table.train_sample))
    sample.add(pd.concat([table.train_sample, rows], ignore_index=True),
               np.concatenate([table.train_sample_priority, priority]))
    return sample.frame()


def release(table: AuditTable, codes: np.ndarray, method: Method, rng: np.random.Generator, *,
            train_sample: pd.DataFrame | None = None, with_gate: bool = True) -> Release:
    """Synthetic codes released from training `codes` by `method` (fresh DP noise each call), with
    the DP gate's figures and decision (`train_sample`: the training check sample of `codes`, the
    table's own by default; `with_gate=False` skips the gate, for speed where it is not attacked)."""
    if not method.is_private:
        return Release(_resample(table, codes, rng))
    from synthgate.pipeline.plan import plan_budget
    from synthgate.privacy.models import build_model
    from synthgate.privacy.table import PrivateTable

    budget = Budget(float(method.epsilon or 0.0), table.delta)
    config = _config_for(table, method)
    plan = plan_budget(config, budget)
    model_config = config.model
    domain = table.codec.domain
    model = build_model(model_config.to_model_spec())  # the codec's domain says which columns are ordered
    accountant = _BenchAccountant(budget)  # one per run: the model's and the gate's charges compose on it
    model.fit(PrivateTable(codes, domain, accountant), plan.model_cost)
    n_rows = max(1, int(round(model.n_estimate or 1.0)))
    synthetic = model.sample(n_rows, rng)
    view = None
    if with_gate and plan.gate_costs:
        view = _gate(table, config, codes, synthetic, plan.gate_costs, accountant, rng,
                     table.train_sample if train_sample is None else train_sample)
    return Release(synthetic, tuple(model.measurements_), dict(getattr(model, "groupings_", {})), view)


class _BenchAccountant(Accountant):
    """An `Accountant` whose budget check compares total rho with the budget's rho (computed once)
    instead of converting rho to epsilon on every charge: the same decisions (epsilon_from_rho is
    increasing in rho), without two nested 200-step bisections per charge, which cost about 60 ms
    each, some 30% of an AIM release (40-50 charges). Charges and noise are untouched."""

    _caps: dict[tuple[float, float], float] = {}

    def check(self, *charges: Charge) -> bool:
        budget = self.budget
        every = [*self.charges, *charges]
        if budget.accounting != "zcdp" or any(c.delta > 0 for c in every):
            return super().check(*charges)
        key = (budget.epsilon, budget.delta)
        if key not in self._caps:
            self._caps[key] = Budget(budget.epsilon * (1 + _SLACK), budget.delta).rho_available()
        return BatchAmounts.from_charges(every).rho <= self._caps[key]


def _config_for(table: AuditTable, method: Method) -> ReleaseConfig:
    """The table's config (with the audit's check-sample size) for this method's kind and epsilon, so
    that `plan_budget` and the gate see what a run of that config would see."""
    config = table.gate_config or table.config
    privacy = config.privacy.model_copy(update={"epsilon": float(method.epsilon or 0.0)})
    return config.model_copy(update={"model": config.model.model_copy(update={"kind": method.kind}),
                                     "privacy": privacy})


def _gate(table: AuditTable, config: ReleaseConfig, codes: np.ndarray, synthetic: np.ndarray,
          costs: dict[str, float], accountant: Accountant, rng: np.random.Generator,
          train_sample: pd.DataFrame) -> GateView:
    """measure_gate + gate() as run_release calls them (DP figures only; the exact internal ones are
    not released and are skipped)."""
    from synthgate.pipeline.check import CheckInputs, measure_gate
    from synthgate.pipeline.gate import gate

    assert table.holdout_sample is not None
    head = synthetic[: config.utility.sample_rows]
    seed = int(rng.integers(0, 2**31 - 1))  # the run's (public) seed: picks the TVD column sets
    checked = measure_gate(CheckInputs(
        config=config, codec=table.codec, train_codes=codes, synth_codes=synthetic,
        train_sample=train_sample, holdout_sample=table.holdout_sample,
        synth_sample=table.codec.canonical(table.codec.decode(head, rng)), seed=seed,
        n_holdout=int(table.holdout.shape[0]), clamped={}), accountant=accountant, costs=costs)
    decision = gate(checked.figures, config.gate)
    figures = {name: (f.value, f.stddev) for name, f in checked.figures.items() if f.dp}
    queries = {q["label"]: {"names": list(q["names"]), "values": list(q["values"]), "stddev": q["stddev"]}
               for q in checked.queries}
    return GateView(decision.decision, figures, queries)


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
