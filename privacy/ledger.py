"""The privacy-budget ledger: every release batch of a dataset, composed against its lifetime budget.

A SQLite database (one file; WAL journal; `BEGIN IMMEDIATE` transactions), or a PostgreSQL
database for jobs on several machines (each write transaction under one advisory lock), so that
two runs of the same dataset can never both spend the last of its budget: a run *reserves* its whole
planned spend in one write transaction before it reads any data, and the reservation counts
as spent until the run settles it. A run that dies after measuring keeps its reservation
(conservative: what may have been spent is counted as spent). A HOLD still spends.

Composition across batches is the accountant module's `compose`, the same rule as within a run:
under zCDP the batches' ρ add up, and their thresholding δ add up; the total converts to ε with the
lifetime δ left after those. Under pure DP (lifetime δ = 0) the ε add up.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .accountant import BatchAmounts, Budget, Charge, compose
from .errors import BudgetExceededError, ConfigError
from .ledger_store import is_url, open_store

__all__ = ["Ledger", "LedgerError", "BatchRecord", "DatasetBudget", "default_ledger_path", "BatchAmounts"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    name TEXT PRIMARY KEY,
    lifetime_epsilon REAL NOT NULL CHECK (lifetime_epsilon > 0),
    lifetime_delta REAL NOT NULL CHECK (lifetime_delta >= 0 AND lifetime_delta < 1),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY,
    dataset TEXT NOT NULL REFERENCES datasets(name),
    status TEXT NOT NULL CHECK (status IN ('reserved', 'completed', 'released_unspent')),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    config_hash TEXT NOT NULL,
    model TEXT NOT NULL,
    rho REAL NOT NULL,
    rho_gaussian REAL NOT NULL,
    epsilon_pure REAL NOT NULL,
    delta_approx REAL NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    charges TEXT NOT NULL DEFAULT '[]',
    decision TEXT,
    manifest_hash TEXT,
    measurements_hash TEXT
);
CREATE TABLE IF NOT EXISTS charges (
    batch_id TEXT NOT NULL REFERENCES batches(batch_id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    label TEXT NOT NULL,
    rho REAL NOT NULL,
    epsilon REAL NOT NULL,
    delta REAL NOT NULL,
    PRIMARY KEY (batch_id, seq)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    dataset TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


class LedgerError(ConfigError):
    """The ledger refuses an operation (unknown dataset, repeated batch id, lowering below spent...)."""


def default_ledger_path() -> str | Path:
    """`SYNTHGATE_LEDGER` (a SQLite path or a postgresql:// URL), else `ledger.sqlite` in the user's
    data directory."""
    override = os.environ.get("SYNTHGATE_LEDGER")
    if override:
        return override if is_url(override) else Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("synthgate", appauthor=False)) / "ledger.sqlite"


@dataclass(frozen=True)
class BatchRecord:
    batch_id: str
    dataset: str
    status: str
    started_at: str
    finished_at: str | None
    config_hash: str
    model: str
    rho: float
    rho_gaussian: float
    epsilon_pure: float
    delta_approx: float
    epsilon: float
    delta: float
    decision: str | None
    manifest_hash: str | None
    charges: str = "[]"  # JSON list of the labelled charges written so far
    measurements_hash: str | None = None  # SHA-256 of the run's internal/measurements.json

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "charges": json.loads(self.charges), "by_stage": self.by_stage()}

    def by_stage(self) -> dict[str, float]:
        """Spend per stage (the label before ':', e.g. domain, marginal, select, gate), in ρ where the
        charge has one and in ε for pure charges: so the gate's share shows beside the model's."""
        stages: dict[str, float] = {}
        for charge in json.loads(self.charges):
            stage = str(charge.get("label", "")).split(":", 1)[0]
            amount = charge.get("rho") or charge.get("epsilon") or 0.0
            stages[stage] = stages.get(stage, 0.0) + float(amount)
        return stages


@dataclass(frozen=True)
class DatasetBudget:
    name: str
    lifetime_epsilon: float
    lifetime_delta: float
    spent_epsilon: float
    batches: tuple[BatchRecord, ...]

    @property
    def remaining_epsilon(self) -> float:
        return max(0.0, self.lifetime_epsilon - self.spent_epsilon)

    @property
    def spent_rho(self) -> float:
        return sum(b.rho for b in self.batches if b.status != "released_unspent")

    @property
    def remaining_rho(self) -> float | None:
        """Under zCDP, the ρ a further batch may still spend (with no thresholding δ); None under pure ε.

        More telling than the ε left: zCDP batches compose sub-additively in ε, so a run of ε=1
        can fit where 'remaining epsilon' reads less than 1."""
        if self.lifetime_delta == 0:
            return None
        reserved_delta = sum(b.delta_approx for b in self.batches if b.status != "released_unspent")
        if self.lifetime_delta - reserved_delta <= 0:
            return 0.0
        lifetime = Budget(self.lifetime_epsilon, self.lifetime_delta)
        return max(0.0, lifetime.rho_available(reserved_delta) - self.spent_rho)

    def to_json(self) -> dict[str, object]:
        return {"dataset": self.name, "lifetime_epsilon": self.lifetime_epsilon, "lifetime_delta": self.lifetime_delta,
                "spent_epsilon": self.spent_epsilon, "remaining_epsilon": self.remaining_epsilon,
                "spent_rho": self.spent_rho, "remaining_rho": self.remaining_rho,
                "batches": [b.to_json() for b in self.batches]}


def compose_epsilon(amounts: Sequence[BatchAmounts], lifetime_delta: float) -> float:
    """ε of several batches together, in the dataset's accounting (`compose`)."""
    return compose(amounts, delta=lifetime_delta).epsilon


class Ledger:
    """Records lifetime budgets and release batches; every write transaction is exclusive (SQLite's
    BEGIN IMMEDIATE, or PostgreSQL's advisory lock: see ledger_store.py)."""

    def __init__(self, location: str | Path) -> None:
        self._store = open_store(location)
        self.path = self._store.where  # shown in messages: a path, or the URL (never a password)
        self._store.create(_SCHEMA)
        with self._store.transaction() as db:
            if "measurements_hash" not in self._store.columns(db, "batches"):  # written before the hash was kept
                db.execute("ALTER TABLE batches ADD COLUMN measurements_hash TEXT")

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        with self._store.connect() as db:
            yield db

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._store.transaction() as db:
            yield db

    # --- lifetime budgets -------------------------------------------------------------------
    def set_lifetime(self, dataset: str, *, epsilon: float, delta: float, force: bool = False) -> None:
        """Create or change a dataset's lifetime budget. Raising it needs `force` and is recorded."""
        if not (epsilon > 0 and 0 <= delta < 1):
            raise LedgerError("a lifetime budget needs epsilon > 0 and 0 <= delta < 1")
        now = _now()
        with self._transaction() as db:
            row = db.execute("SELECT lifetime_epsilon, lifetime_delta FROM datasets WHERE name = ?",
                             (dataset,)).fetchone()
            if row is None:
                db.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?)", (dataset, epsilon, delta, now, now))
                self._event(db, dataset, "create", {"lifetime_epsilon": epsilon, "lifetime_delta": delta})
                return
            old_epsilon, old_delta = row
            raising = epsilon > old_epsilon or delta > old_delta
            if raising and not force:
                raise LedgerError(f"dataset '{dataset}': raising the lifetime budget (epsilon {old_epsilon:g} -> "
                                  f"{epsilon:g}, delta {old_delta:g} -> {delta:g}) needs --force, and is recorded")
            if (delta == 0) != (old_delta == 0):
                raise LedgerError(f"dataset '{dataset}': cannot switch between pure (delta = 0) and zCDP accounting")
            db.execute("UPDATE datasets SET lifetime_epsilon = ?, lifetime_delta = ?, updated_at = ? WHERE name = ?",
                       (epsilon, delta, now, dataset))
            self._event(db, dataset, "raise (forced)" if raising else "lower",
                        {"from": [old_epsilon, old_delta], "to": [epsilon, delta]})

    def show(self, dataset: str) -> DatasetBudget:
        with self._connect() as db:
            row = db.execute("SELECT lifetime_epsilon, lifetime_delta FROM datasets WHERE name = ?",
                             (dataset,)).fetchone()
            if row is None:
                raise LedgerError(f"dataset '{dataset}' has no lifetime budget in {self.path}; "
                                  f"set one with: synthgate budget set {dataset} --lifetime-epsilon E")
            batches = self._batches(db, dataset)
        spent = compose_epsilon([_amounts(b) for b in batches if b.status != "released_unspent"], row[1])
        return DatasetBudget(dataset, row[0], row[1], spent, tuple(batches))

    def status_after(self, dataset: str, batch_id: str, actual: BatchAmounts) -> dict[str, object]:
        """The dataset's lifetime, spent and remaining ε once `batch_id` settles at `actual`."""
        budget = self.show(dataset)
        others = [_amounts(b) for b in budget.batches
                  if b.status != "released_unspent" and b.batch_id != batch_id]
        spent = compose_epsilon([*others, actual], budget.lifetime_delta)
        return {"name": dataset, "batch_id": batch_id, "lifetime_epsilon": budget.lifetime_epsilon,
                "lifetime_delta": budget.lifetime_delta, "spent_epsilon": spent,
                "remaining_epsilon": max(0.0, budget.lifetime_epsilon - spent)}

    def datasets(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT name FROM datasets ORDER BY name")]

    # --- batches ------------------------------------------------------------------------------
    def reserve(self, *, dataset: str, batch_id: str, config_hash: str, model: str, planned: BatchAmounts,
                run_epsilon: float, run_delta: float) -> None:
        """Reserve a run's whole planned spend before any data is read, or raise BudgetExceededError."""
        with self._transaction() as db:
            row = db.execute("SELECT lifetime_epsilon, lifetime_delta FROM datasets WHERE name = ?",
                             (dataset,)).fetchone()
            if row is None:
                raise LedgerError(f"dataset '{dataset}' has no lifetime budget in {self.path}; set one with: "
                                  f"synthgate budget set {dataset} --lifetime-epsilon E (or privacy.lifetime_epsilon "
                                  "in the config)")
            lifetime_epsilon, lifetime_delta = row
            existing = db.execute("SELECT status FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if existing is not None:
                raise LedgerError(f"batch '{batch_id}' is already in the ledger ({existing[0]}); a batch id is "
                                  "spent once: use a new --batch-id")
            batches = self._batches(db, dataset)
            counted = [_amounts(b) for b in batches if b.status != "released_unspent"]
            before = compose_epsilon(counted, lifetime_delta)
            after = compose_epsilon([*counted, planned], lifetime_delta)
            if after > lifetime_epsilon * (1 + 1e-9):
                remaining = max(0.0, lifetime_epsilon - before)
                raise BudgetExceededError(
                    f"dataset '{dataset}': this run needs epsilon={run_epsilon:g} but only {remaining:.4g} of the "
                    f"lifetime epsilon={lifetime_epsilon:g} remains ({len(counted)} batch(es) recorded); "
                    "lower privacy.epsilon or raise the lifetime budget with synthgate budget set --force")
            db.execute(
                "INSERT INTO batches (batch_id, dataset, status, started_at, config_hash, model, rho, rho_gaussian, "
                "epsilon_pure, delta_approx, epsilon, delta) VALUES (?, ?, 'reserved', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (batch_id, dataset, _now(), config_hash, model, *planned.as_tuple(), run_epsilon, run_delta))

    def record_charge(self, batch_id: str, seq: int, charge: Charge) -> None:
        """Append one charge (its label and cost, `seq`-th of the batch) to the batch's charge rows. The
        reservation already counts it. One INSERT that reads nothing, so a spend's write is the same
        whatever came before it (rewriting the whole list made a run's writes quadratic)."""
        with self._transaction() as db:
            db.execute("INSERT INTO charges (batch_id, seq, at, label, rho, epsilon, delta) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (batch_id, seq, _now(), charge.label, charge.rho, charge.epsilon, charge.delta))

    def complete(self, batch_id: str, *, charges: Sequence[Charge], epsilon: float, decision: str,
                 manifest_hash: str | None, measurements_hash: str | None = None) -> None:
        """Settle a batch at what it actually spent (never more than reserved), with the hashes that
        bind its manifest and its stored DP measurements to this spend."""
        spent = BatchAmounts.from_charges(charges)
        with self._transaction() as db:
            row = db.execute("SELECT status FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if row is None or row[0] != "reserved":
                raise LedgerError(f"batch '{batch_id}' has no open reservation in the ledger")
            db.execute("UPDATE batches SET status = 'completed', finished_at = ?, rho = ?, rho_gaussian = ?, "
                       "epsilon_pure = ?, delta_approx = ?, epsilon = ?, charges = ?, decision = ?, manifest_hash = ?, "
                       "measurements_hash = ? WHERE batch_id = ?",
                       (_now(), *spent.as_tuple(), epsilon, json.dumps([c.to_json() for c in charges]),
                        decision, manifest_hash, measurements_hash, batch_id))

    def release_unspent(self, batch_id: str) -> None:
        """Cancel a reservation for a run that stopped before its first charge (e.g. bad input)."""
        with self._transaction() as db:
            db.execute("UPDATE batches SET status = 'released_unspent', finished_at = ?, rho = 0, rho_gaussian = 0, "
                       "epsilon_pure = 0, delta_approx = 0, epsilon = 0 WHERE batch_id = ? AND status = 'reserved'", (_now(), batch_id))

    @staticmethod
    def _batches(db: Any, dataset: str) -> list[BatchRecord]:
        rows = db.execute(
            "SELECT batch_id, dataset, status, started_at, finished_at, config_hash, model, rho, rho_gaussian, epsilon_pure, "
            "delta_approx, epsilon, delta, decision, manifest_hash, charges, measurements_hash FROM batches WHERE dataset = ? "
            "ORDER BY started_at, batch_id", (dataset,)).fetchall()
        records = [BatchRecord(*r) for r in rows]
        for i, record in enumerate(records):
            if record.status == "reserved":  # a run still going, or killed: its appended charges
                appended = db.execute("SELECT label, rho, epsilon, delta FROM charges WHERE batch_id = ? ORDER BY seq",
                                      (record.batch_id,)).fetchall()
                if not appended:  # none, or a ledger written before charges were appended (JSON column)
                    continue
                charges = [{"label": label, "rho": rho, "epsilon": epsilon, "delta": delta}
                           for label, rho, epsilon, delta in appended]
                records[i] = dataclasses.replace(record, charges=json.dumps(charges))
        return records

    @staticmethod
    def _event(db: Any, dataset: str, kind: str, detail: dict[str, object]) -> None:
        db.execute("INSERT INTO events (at, dataset, kind, detail) VALUES (?, ?, ?, ?)",
                   (_now(), dataset, kind, json.dumps(detail)))

    def record_event(self, dataset: str, kind: str, detail: dict[str, object]) -> None:
        """A line in the dataset's history that spends nothing (e.g. a `sample` from a release).
        `detail` must hold public facts only (ids, the request, row counts): it is shown by `budget show`."""
        with self._transaction() as db:
            self._event(db, dataset, kind, detail)

    def events(self, dataset: str) -> list[tuple[str, str, str]]:
        with self._connect() as db:
            rows = db.execute("SELECT at, kind, detail FROM events WHERE dataset = ? ORDER BY id", (dataset,))
            return [(str(at), str(kind), str(detail)) for at, kind, detail in rows]


def _amounts(batch: BatchRecord) -> BatchAmounts:
    return BatchAmounts(batch.rho, batch.rho_gaussian, batch.epsilon_pure, batch.delta_approx)


def _now() -> str:
    """UTC time to the microsecond, from one clock read (two reads could straddle a second and go back)."""
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos // 1000:06d}Z"
