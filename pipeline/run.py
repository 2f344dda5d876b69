"""One release, start to finish: the stage order and the one privacy boundary, in one place.

    load+validate (pass 1) -> DP domains -> encode (pass 2) -> measure+fit (PrivateTable)
    -> sample -> check -> gate -> publish

Nothing is spent before the input has passed its contract, and nothing is written to --out
until the whole run directory is complete.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.estimate import DomainStatistics, EstimatedDomain
from synthgate.privacy.ledger import BatchAmounts, Ledger, LedgerError
from synthgate.privacy.models import make_model
from synthgate.privacy.sample import iter_synthetic, write_synthetic
from synthgate.privacy.table import PrivateTable
from synthgate.quality.contract import ContractValidator, failures as contract_failures, merge_counts

from .check import CheckInputs, Checked, run_checks
from .config import ReleaseConfig
from .config import _format_from_suffix as format_from_suffix
from .datasheet import write_datasheet
from .encode import NumericCodec, TableCodec, codec_from_spec
from .errors import ContractError, InputError, OutputError
from .fake_ids import FabricatedColumns, fake_specs
from .gate import Decision, gate
from .load import Batch, ParseFailures, SplitBatch, iter_batches, iter_split, iter_split_batches
from .split import RowKeys, SplitKey
from .logs import event
from .manifest import build_manifest, build_report
from .plan import BudgetPlan, plan_budget, split_domains
from .publish import Staging, prepare_output_dir, sha256_file, write_error
from .samples import RowSample
from .units import UnitRows, bound_contributions

__all__ = ["ReleaseResult", "run_release", "validate_input"]

log = logging.getLogger("synthgate.run")
Progress = Callable[[str, int], None]


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


@dataclass
class _Pass1:
    n_train: int
    n_holdout: int
    train_sample: pd.DataFrame
    holdout_sample: pd.DataFrame
    statistics: DomainStatistics


def run_release(config: ReleaseConfig, *, out: Path, ledger: Ledger, seed: int | None = None,
                csv: bool | None = None, batch_id: str | None = None,
                progress: Progress | None = None, split_key: SplitKey | None = None) -> ReleaseResult:
    """Run one release batch, charged to `ledger`.

    Before any data is read: the output location is checked and the whole planned spend is
    reserved in the ledger (BudgetExceededError, exit 4, if it does not fit). Each charge is
    written to the ledger before its noise is drawn. A run that fails before its first charge
    gives its reservation back; one that fails after keeps what it spent.

    `split_key` is for benchmarks that must see the run's rows (SplitKey.reproducible_for_benchmarks);
    by default each run draws a secret one that is never stored.
    """
    out = prepare_output_dir(Path(out))
    seed = secrets.randbits(32) if seed is None else int(seed)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    release_id = batch_id or f"{config.dataset}-{stamp}-{config.config_hash[:8]}-{secrets.token_hex(3)}"
    budget = Budget(config.privacy.epsilon, config.privacy.delta)
    plan = plan_budget(config, budget)
    ensure_lifetime(ledger, config)
    ledger.reserve(dataset=config.dataset, batch_id=release_id, config_hash=config.config_hash,
                   model=config.model.kind, planned=plan.planned_amounts(budget),
                   run_epsilon=budget.epsilon, run_delta=budget.delta)
    accountant = Accountant(budget, on_spend=lambda seq, charge: ledger.record_charge(release_id, seq, charge))
    try:
        result = _run_batch(config, out, seed, csv, release_id, plan, accountant, ledger, progress,
                            split_key or SplitKey.fresh())
    except BaseException:
        if accountant.charges:
            ledger.complete(release_id, charges=accountant.charges, epsilon=accountant.spent().epsilon,
                            decision="FAILED", manifest_hash=None)
        else:
            ledger.release_unspent(release_id)
        raise
    return result


def ensure_lifetime(ledger: Ledger, config: ReleaseConfig) -> None:
    """First run of a dataset: take its lifetime budget from the config, or refuse clearly."""
    if config.dataset in ledger.datasets():
        return
    privacy = config.privacy
    if privacy.lifetime_epsilon is None:
        raise LedgerError(f"dataset '{config.dataset}' has no lifetime budget in the ledger {ledger.path}: set "
                          "privacy.lifetime_epsilon in the config, or run: synthgate budget set "
                          f"{config.dataset} --lifetime-epsilon E")
    ledger.set_lifetime(config.dataset, epsilon=privacy.lifetime_epsilon, delta=privacy.lifetime_delta)


def _run_batch(config: ReleaseConfig, out: Path, seed: int, csv: bool | None, release_id: str, plan: BudgetPlan,
               accountant: Accountant, ledger: Ledger, progress: Progress | None, key: SplitKey) -> ReleaseResult:
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    inputs = InputSnapshot.of(config)
    with clock("load_validate"):
        units = bound_contributions(config, key)
        first = _first_pass(config, key, progress, units)
    inputs.check_unchanged()
    event(log, "input passed its contract", stage="validate", rows=first.n_train + first.n_holdout,
          seconds=timings["load_validate"])

    with clock("domains"):
        estimated: list[EstimatedDomain] = []
        if first.statistics.columns:
            n_hat = first.statistics.release_row_count(accountant, cost=plan.row_count_cost,
                                                       contribution=config.contribution)
            plan = split_domains(plan, n_hat=n_hat, kinds=first.statistics.kinds, contribution=config.contribution)
            estimated = first.statistics.release(accountant, costs=dict(plan.domain_costs),
                                                 delta_per_column=plan.delta_per_category_column,
                                                 contribution=config.contribution)
        codec = _table_codec(config, estimated)
    # `warnings` are functions of DP output and public config, so they may go into the manifest;
    # `internal_warnings` quote exact figures of the data and stay in the internal report and logs.
    warnings = [f"column '{e.column}': {e.warning}" for e in estimated if e.warning]
    if plan.warning:
        warnings.append(plan.warning)
    for warning in warnings:
        log.warning(warning)
    internal_warnings: list[str] = []
    clamped: dict[str, int] = {}
    with clock("encode"):
        codes = _encode_training(config, codec, key, progress, clamped, units)
    inputs.check_unchanged()  # both passes must have read the same table
    if len(codes) != first.n_train:  # a database table (no file to stat) that changed between the reads
        raise InputError(f"{config.source_path}: the input changed while the run was reading it (the two reads "
                         "found different rows); run again on a stable table or snapshot")
    for column, n in clamped.items():
        if n > 0.01 * max(len(codes), 1):
            internal_warnings.append(f"column '{column}': {n / len(codes):.0%} of training values fell outside the "
                                     "DP-estimated bounds and were clamped; give public bounds or raise "
                                     "privacy.domain_share")
    if units is not None and units.rows_dropped:
        internal_warnings.append(f"column '{config.unit_column}': {units.rows_dropped} training row(s) beyond "
                                 f"privacy.max_rows_per_unit={units.max_rows_per_unit} per individual were left out "
                                 "(contribution bounding)")
    for warning in internal_warnings:
        log.warning(warning)

    with clock("fit"):
        model = make_model(config.model.kind, correlation_share=config.model.correlation_share,
                           groups=config.model.groups, selection=config.model.selection,
                           ordered=[c.name for c in codec.codecs if isinstance(c, NumericCodec)],
                           null_codes={c.name: c.null_code for c in codec.codecs if c.null_code is not None})
        model.fit(PrivateTable(codes, codec.domain, accountant, contribution=config.contribution), plan.model_cost)
    spent = accountant.spent()
    event(log, "model fitted", stage="fit", seconds=timings["fit"], epsilon_spent=round(spent.epsilon, 6))

    n_rows = _output_rows(config, model.n_estimate)
    if config.output.rows == "estimate" and n_rows == config.output.max_rows:
        warnings.append(f"the DP row count reached output.max_rows={config.output.max_rows:,}: the synthetic table "
                        "was cut there; at this budget the count is mostly noise, give output.rows instead")
        log.warning(warnings[-1])
    staging = Staging(out)
    try:
        with clock("sample"):
            rng = np.random.default_rng(seed)
            package = staging.folder("package")
            contract = ContractValidator(_output_specs(config, codec))
            output_counts: dict[tuple[str, str], int] = {}
            fabricated = FabricatedColumns(fake_specs(config.columns), seed=seed, n_rows=n_rows)
            sampled = write_synthetic(
                fabricated.add(_validated(iter_synthetic(model, codec, n_rows, rng, config.output.chunk_rows), codec,
                                          contract, output_counts)),
                fabricated.schema(codec.arrow_schema), package / "synthetic.parquet",
                csv_path=package / "synthetic.csv" if (config.output.csv if csv is None else csv) else None,
                release_id=release_id, head_rows=config.utility.sample_rows,
                progress=(lambda n: progress("sample", n)) if progress else None,
            )
            output_failures = contract_failures(output_counts)
        if output_failures:
            raise ContractError("the synthetic output", output_failures)

        with clock("check"):
            checked = run_checks(CheckInputs(
                config=config, codec=codec, train_codes=codes, synth_codes=sampled.codes,
                train_sample=first.train_sample, holdout_sample=first.holdout_sample,
                synth_sample=codec.canonical(sampled.head), seed=seed, n_holdout=first.n_holdout,
                clamped=clamped), accountant=accountant, costs=plan.gate_costs)
        details = checked.details
        details["clamped_to_dp_bounds"] = clamped
        if units is not None:
            details["contribution_bounding"] = units.summary(str(config.unit_column))
        decision = gate(checked.figures, config.gate)  # DP figures decide; non-DP only when opted in
        if decision.outside_guarantee:
            warnings.append("the release decision used non-DP checks (gate.non_dp_checks): the decision is "
                            "outside the DP guarantee")

        with clock("publish"):
            folder = "release" if decision.released else "held"
            lifetime = ledger.status_after(config.dataset, release_id, BatchAmounts.from_charges(accountant.charges))
            result_paths = _publish(staging, folder, config, codec, model, accountant, plan, decision, checked,
                                    estimated, warnings, internal_warnings, lifetime, first, n_rows, seed,
                                    release_id, timings, sampled.paths)
            ledger.complete(release_id, charges=accountant.charges, epsilon=accountant.spent().epsilon,
                            decision=decision.decision,
                            manifest_hash=sha256_file(Path(result_paths[folder]) / "manifest.json"),
                            measurements_hash=result_paths.pop("measurements_sha256"))
    except OSError as exc:  # disk full, file too large, permissions: nothing partial is left behind
        staging.abort()
        raise OutputError(f"{write_error(out, exc)}. The budget this run spent stays recorded in the ledger") from None
    except BaseException:
        staging.abort()
        raise
    event(log, "run finished", stage="publish", decision=decision.decision, release_id=release_id)
    # stdout and --json: the DP figures only (exact ones quote the real data: internal report and log)
    public_figures = {name: figure.to_json() for name, figure in checked.figures.items() if figure.dp}
    return ReleaseResult(decision.decision, decision.reasons, public_figures, result_paths, release_id, seed,
                         {**accountant.spent().to_json(), "dataset": lifetime}, timings, warnings)




def validate_input(config: ReleaseConfig) -> tuple[int, int]:
    """Check config and input against the contract without spending budget; (training, holdout) rows
    of one secret split. Each run draws its own split, so a run's sizes differ a little."""
    key = SplitKey.fresh()
    first = _first_pass(config, key, None, bound_contributions(config, key))
    return first.n_train, first.n_holdout


def _first_pass(config: ReleaseConfig, key: SplitKey, progress: Progress | None, units: UnitRows | None) -> _Pass1:
    """Read everything once: contract, parse failures, DP-domain statistics, samples for the checks."""
    columns = config.attributes
    contract = ContractValidator(columns)
    statistics = DomainStatistics({c.name: ("categorical" if c.type == "categorical" else str(c.type))
                                   for c in columns if c.is_estimated})
    train_sample = RowSample(config.utility.sample_rows)
    holdout_sample = RowSample(config.utility.sample_rows)
    n_train = n_holdout = 0
    files: dict[Path, tuple[ParseFailures, dict[tuple[str, str], int]]] = {}
    for path, failures, part in _split_source(config, key, units):
        _, counts = files.setdefault(path, (failures, {}))
        files[path] = (failures, merge_counts(counts, contract.validate(part.batch.frame)))
        statistics.update(part.train)
        train_sample.add(part.train, part.train_priority)
        holdout_sample.add(part.holdout, part.holdout_priority)
        n_train += len(part.train)
        n_holdout += len(part.holdout)
        if progress:
            progress("load", n_train + n_holdout)
    for path, (failures, counts) in files.items():
        problems = failures.lines() + contract_failures(_without_parse_failures(counts, failures))
        if problems:
            raise ContractError(f"{path}", problems)
    if n_train < 1:
        raise InputError(f"{config.source_path}: no rows to train on (the input has no data rows)")
    if n_holdout < 1:
        raise InputError(f"{config.holdout_path or config.source_path}: the holdout is empty; the risk checks need "
                         "unseen rows (use a larger input or a holdout file)")
    return _Pass1(n_train, n_holdout, train_sample.frame(), holdout_sample.frame(), statistics)


def _without_parse_failures(counts: dict[tuple[str, str], int], failures: ParseFailures) -> dict[tuple[str, str], int]:
    """A cell that does not parse becomes a null; report it once, as a parse failure, not again as a null."""
    adjusted = dict(counts)
    for column, n in failures.counts.items():
        key = (column, "expect_column_values_to_not_be_null")
        if key in adjusted:
            adjusted[key] -= n
            if adjusted[key] <= 0:
                del adjusted[key]
    return adjusted


def _split_source(config: ReleaseConfig, key: SplitKey, units: UnitRows | None
                  ) -> Iterator[tuple[Path, ParseFailures, SplitBatch]]:
    """(file, its parse failures, the split batch) per batch, for the source and any holdout file.
    Rows dropped by contribution bounding are in the whole batch only."""
    columns = config.attributes
    failures = ParseFailures()
    batches = iter_batches(config.source_path, config.source_format, columns,
                           identifiers=config.identifiers, failures=failures)
    holdout_path = config.holdout_path
    fraction = None if holdout_path else config.holdout.fraction
    for part in iter_split_batches(batches, row_keys=RowKeys(key, fraction), units=units):
        yield config.source_path, failures, part
    if holdout_path is None:
        return
    holdout_failures = ParseFailures()
    fmt = config.source.format or format_from_suffix(holdout_path)
    holdout_keys = RowKeys(key, None)
    for batch in iter_batches(holdout_path, fmt, columns, identifiers=config.identifiers, failures=holdout_failures):
        _, priority = holdout_keys.of(batch.frame)
        yield holdout_path, holdout_failures, SplitBatch(batch, batch.frame.iloc[:0], batch.frame, priority[:0], priority)


def _encode_training(config: ReleaseConfig, codec: TableCodec, key: SplitKey, progress: Progress | None,
                     clamped: dict[str, int], units: UnitRows | None) -> np.ndarray:
    """Training rows as codes. Counts, per column with DP-estimated bounds, the values clamped to
    them (for the internal report: nothing is lost without a word)."""
    estimated = [c for c, spec in zip(codec.codecs, config.attributes)
                 if spec.bounds == "estimate" and isinstance(c, NumericCodec)]
    parts = []
    rows = 0
    batches: Iterator[Batch] = iter_batches(config.source_path, config.source_format, config.attributes,
                                            identifiers=config.identifiers)
    split = iter_split(batches, row_keys=RowKeys(key, None if config.holdout_path else config.holdout.fraction),
                       units=units)
    for train, _ in split:
        parts.append(codec.encode(train))
        for column_codec in estimated:
            clamped[column_codec.name] = clamped.get(column_codec.name, 0) + \
                column_codec.count_outside(train[column_codec.name])
        rows += len(train)
        if progress:
            progress("encode", rows)
    return np.concatenate(parts) if parts else np.zeros((0, len(codec.codecs)), np.int32)


def _table_codec(config: ReleaseConfig, estimated: list[EstimatedDomain]) -> TableCodec:
    by_column = {e.column: e.as_codec_input() for e in estimated}
    return TableCodec([codec_from_spec(c, bins=config.model.bins, estimated=by_column.get(c.name))
                       for c in config.attributes])


def _output_specs(config: ReleaseConfig, codec: TableCodec) -> list[Any]:
    """The output contract: public domains as configured; estimated ones as released (no 'other' check)."""
    specs = []
    for spec, column_codec in zip(config.attributes, codec.codecs):
        update: dict[str, Any] = {"nulls": column_codec.nulls}
        if spec.bounds == "estimate":
            low, high = column_codec.describe()["bounds"]
            update["bounds"] = (pd.Timestamp(low).to_pydatetime(), pd.Timestamp(high).to_pydatetime()) \
                if spec.type == "datetime" else (low, high)
        specs.append(spec.model_copy(update=update))
    return specs


def _validated(chunks: Iterator[Any], codec: TableCodec, contract: ContractValidator,
               totals: dict[tuple[str, str], int]) -> Iterator[Any]:
    """Check each synthetic chunk against the output contract as it streams past."""
    for codes, batch in chunks:
        counts = merge_counts(totals, contract.validate(codec.canonical(batch)))
        totals.clear()
        totals.update(counts)
        yield codes, batch


def _output_rows(config: ReleaseConfig, n_estimate: float | None) -> int:
    if config.output.rows != "estimate":
        return int(config.output.rows)
    if n_estimate is None:
        raise InputError("output.rows is 'estimate' but the model measured nothing to estimate it from")
    return int(min(max(1, round(n_estimate)), config.output.max_rows))


def _publish(staging: Staging, folder: str, config: ReleaseConfig, codec: TableCodec, model: Any,
             accountant: Accountant, plan: BudgetPlan, decision: Decision, checked: Checked,
             estimated: list[EstimatedDomain], warnings: list[str],
             internal_warnings: list[str], lifetime: dict[str, Any], first: _Pass1, n_rows: int, seed: int, release_id: str,
             timings: dict[str, float], files: list[Path]) -> dict[str, str]:
    package = staging.root / "package"
    # The measurements first: their hash goes into the manifest and the ledger, so replay and
    # sample can refuse a file that is not the one this spend produced.
    staging.write_json("internal/measurements.json", {
        "release_id": release_id, "seed": seed, "rows": n_rows, "model": model.kind,
        "model_params": {"groups": config.model.groups, "correlation_share": config.model.correlation_share,
                         "selection": config.model.selection},
        "chunk_rows": config.output.chunk_rows, "structure": model.structure(),
        "measurements": [m.to_json() for m in model.measurements_]})
    measurements_hash = sha256_file(staging.root / "internal" / "measurements.json")
    manifest = build_manifest(config=config, codec=codec, model=model, accountant=accountant, decision=decision,
                              n_rows=n_rows, seed=seed, release_id=release_id, files=files, lifetime=lifetime,
                              measurements_hash=measurements_hash, warnings=warnings)
    manifest["files"].update(write_datasheet(package, manifest=manifest, checks=decision.published_checks(),
                                             config=config))  # DATASHEET.md, datasheet.json: DP figures only
    staging.write_json("package/manifest.json", manifest)
    report = build_report(config=config, codec=codec, model=model, accountant=accountant, plan=plan,
                          decision=decision, checked=checked, estimated=estimated,
                          n_train=first.n_train, n_holdout=first.n_holdout, n_rows=n_rows, seed=seed,
                          release_id=release_id, timings=timings, package=folder,
                          warnings=warnings + internal_warnings, lifetime=lifetime)
    from synthgate.quality.report.html import render_html

    staging.write_json("internal/report.json", report)
    staging.write_text("internal/report.html", render_html(report))
    # Internal reports, and held packages (not cleared for release), are readable by the owner only.
    private = [staging.root / "internal", *([package] if folder == "held" else [])]
    for directory in private:
        directory.chmod(0o700)
        for path in directory.iterdir():
            path.chmod(0o600)
    package.rename(staging.root / folder)
    final = staging.commit()
    return {"run": str(final), folder: str(final / folder), "report_html": str(final / "internal" / "report.html"),
            "report_json": str(final / "internal" / "report.json"), "measurements_sha256": measurements_hash}


@dataclass(frozen=True)
class InputSnapshot:
    """Size and modification time of each input file when the run started.

    The two passes read the input twice; a table that changes in between (a job still writing
    it, a sync) would make the validated rows and the measured rows differ. Checked after each
    pass; a change stops the run (exit 2)."""

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
    def __init__(self, timings: dict[str, float]) -> None:
        self._timings = timings

    def __call__(self, stage: str) -> _Clock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._timings[self._stage] = round(time.perf_counter() - self._start, 4)
