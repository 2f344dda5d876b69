"""One release, start to finish: the stage order and the one privacy boundary, in one place.

    validate (the one pass over the source) -> DP domains -> encode -> measure+fit (PrivateTable)
    -> sample -> check -> gate -> publish

Each stage is a function in its own module that returns a frozen value the next one takes. Nothing
is spent before the input has passed its contract, every charge is in the ledger before its noise
is drawn, and nothing is written to --out until the whole run directory is complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.ledger import BatchAmounts, Ledger, LedgerError

from .check import CheckInputs, run_checks
from .config import ReleaseConfig
from .context import RunContext, RunOptions
from .domains import release_domains
from .engine import open_engine
from .errors import InputError, OutputError
from .fit import fit_model
from .gate import gate
from .logs import event
from .outcome import Outcome
from .package import write_package
from .plan import BudgetPlan, plan_budget
from .publish import Staging, prepare_output_dir, sha256_file, write_error
from .synthesize import sample_synthetic
from .training import encode_training
from .validate import validate_input

__all__ = ["ReleaseResult", "RunOptions", "run_release", "validate_input"]

log = logging.getLogger("synthgate.run")


@dataclass
class ReleaseResult:
    decision: str
    reasons: list[str]
    figures: dict[str, Any]
    paths: dict[str, str]
    release_id: str
    seed: int
    spent: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def released(self) -> bool:
        return self.decision == "RELEASE"

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": self.reasons, "figures": self.figures, "paths": self.paths,
                "release_id": self.release_id, "seed": self.seed, "spent": self.spent, "timings": self.timings,
                "warnings": self.warnings}


def run_release(config: ReleaseConfig, *, out: Path, ledger: Ledger, seed: int | None = None,
                options: RunOptions = RunOptions()) -> ReleaseResult:
    """Run one release batch, charged to `ledger`.

    Before any data is read: the output location is checked and the whole planned spend is
    reserved in the ledger (BudgetExceededError, exit 4, if it does not fit). A run that fails
    before its first charge gives its reservation back; one that fails after keeps what it spent.
    `seed` drives sampling only; `options.split_key` is for benchmarks that must see the run's rows.
    """
    out = prepare_output_dir(Path(out))
    run = RunContext.start(config, seed, options)
    budget = Budget(config.privacy.epsilon, config.privacy.delta)
    plan = plan_budget(config, budget)
    ensure_lifetime(ledger, config)
    ledger.reserve(dataset=config.dataset, batch_id=run.release_id, config_hash=config.config_hash,
                   model=config.model.kind, planned=plan.planned_amounts(budget),
                   run_epsilon=budget.epsilon, run_delta=budget.delta)
    accountant = Accountant(budget, on_spend=lambda seq, charge: ledger.record_charge(run.release_id, seq, charge))
    try:
        return _stages(run, plan, accountant, ledger, out)
    except BaseException:
        if accountant.charges:
            ledger.complete(run.release_id, charges=accountant.charges, epsilon=accountant.spent().epsilon,
                            decision="FAILED", manifest_hash=None)
        else:
            ledger.release_unspent(run.release_id)
        raise


def ensure_lifetime(ledger: Ledger, config: ReleaseConfig) -> None:
    """First run of a dataset: take its lifetime budget from the config, or refuse clearly."""
    if config.dataset in ledger.datasets():
        return
    lifetime = config.privacy.lifetime
    if lifetime is None:
        raise LedgerError(f"dataset '{config.dataset}' has no lifetime budget in the ledger {ledger.path}: set "
                          "privacy.lifetime_epsilon in the config, or run: synthgate budget set "
                          f"{config.dataset} --lifetime-epsilon E")
    ledger.set_lifetime(config.dataset, epsilon=lifetime[0], delta=lifetime[1])


def _stages(run: RunContext, plan: BudgetPlan, accountant: Accountant, ledger: Ledger, out: Path) -> ReleaseResult:
    """The stage order, and nothing else."""
    config, clock = run.config, _Clock()
    inputs = InputSnapshot.of(config)
    with open_engine(config, run.key, out) as engine:  # reads the source once; its scratch goes on exit
        with clock("load_validate"):
            validated = engine.validate(run.progress)
        inputs.check_unchanged()
        event(log, "input passed its contract", stage="validate", rows=validated.n_train + validated.n_holdout,
              seconds=clock.timings["load_validate"])
        with clock("domains"):
            domains = release_domains(config, validated, accountant, plan)
        with clock("encode"):
            encoded = encode_training(config, domains.codec, engine, validated, run.progress)
    inputs.check_unchanged()  # a file still being written when the read ended is refused too
    with clock("fit"):
        measured = fit_model(config, domains, encoded, accountant)
    event(log, "model fitted", stage="fit", seconds=clock.timings["fit"],
          epsilon_spent=round(accountant.spent().epsilon, 6))
    with _staged(out) as staging:
        with clock("sample"):
            sampled = sample_synthetic(run, domains, measured, staging.folder("package"))
        with clock("check"):
            checked = run_checks(CheckInputs.of(run, validated, domains, encoded, sampled), accountant=accountant,
                                 costs=domains.plan.gate_costs)
        decision = gate(checked.figures, config.gate)  # DP figures decide; non-DP only when opted in
        with clock("publish"):
            lifetime = ledger.status_after(config.dataset, run.release_id,
                                           BatchAmounts.from_charges(accountant.charges))
            outcome = Outcome(run, validated, domains, encoded, measured, sampled, checked, decision, accountant,
                              clock.timings)
            paths, measurements_hash = write_package(staging, outcome, lifetime=lifetime)
            ledger.complete(run.release_id, charges=accountant.charges, epsilon=accountant.spent().epsilon,
                            decision=decision.decision,
                            manifest_hash=sha256_file(Path(paths[outcome.folder]) / "manifest.json"),
                            measurements_hash=measurements_hash)
    event(log, "run finished", stage="publish", decision=decision.decision, release_id=run.release_id)
    # stdout and --json: the DP figures only (exact ones quote the real data: internal report and log)
    public_figures = {name: figure.to_json() for name, figure in checked.figures.items() if figure.dp}
    return ReleaseResult(decision.decision, decision.reasons, public_figures, paths, run.release_id, run.seed,
                         {**accountant.spent().to_json(), "dataset": lifetime}, clock.timings, outcome.warnings)


@contextmanager
def _staged(out: Path) -> Iterator[Staging]:
    """A staging folder for the run directory; on any failure it is removed, so nothing partial is left."""
    staging = Staging(out)
    try:
        yield staging
    except OSError as exc:  # disk full, file too large, permissions
        staging.abort()
        raise OutputError(f"{write_error(out, exc)}. The budget this run spent stays recorded in the ledger") from None
    except BaseException:
        staging.abort()
        raise


@dataclass(frozen=True)
class InputSnapshot:
    """Size and modification time of each input file when the run started.

    The source is read once (the engine keeps what it parsed), but a file that is still being
    written (a job appending, a sync) may have been read half-way. Checked after the read and
    again after encoding, so a late writer is caught too; a change stops the run (exit 2)."""

    files: tuple[tuple[Path, int, int], ...]

    @classmethod
    def of(cls, config: ReleaseConfig) -> InputSnapshot:
        paths = [config.source_path] + ([config.holdout_path] if config.holdout_path else [])
        return cls(tuple((p, *_stat(p)) for p in paths if isinstance(p, Path)))

    def check_unchanged(self) -> None:
        for path, size, mtime in self.files:
            if _stat(path) != (size, mtime):
                raise InputError(f"{path}: the input changed while the run was reading it; "
                                 "run again once the file is complete")


def _stat(path: Path) -> tuple[int, int]:
    try:
        info = path.stat()
    except OSError:
        return (-1, -1)
    return (info.st_size, info.st_mtime_ns)


class _Clock:
    """Wall time per stage, in seconds: `with clock("fit"): ...`."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, stage: str) -> _Clock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self._stage] = round(time.perf_counter() - self._start, 4)
