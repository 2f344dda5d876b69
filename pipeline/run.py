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
from synthgate.privacy.models import make_model
from synthgate.privacy.sample import iter_synthetic, write_synthetic
from synthgate.privacy.table import PrivateTable
from synthgate.quality.contract import ContractValidator, failures as contract_failures, merge_counts

from .check import CheckInputs, run_checks
from .config import ReleaseConfig
from .encode import TableCodec, codec_from_spec
from .errors import ContractError, InputError
from .gate import Decision, gate
from .load import Batch, ParseFailures, iter_batches, iter_split
from .logs import event
from .manifest import build_manifest, build_report
from .plan import BudgetPlan, plan_budget
from .publish import Staging, check_output_dir
from .samples import RowSample

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

    @property
    def released(self) -> bool:
        return self.decision == "RELEASE"

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "reasons": self.reasons, "figures": self.figures, "paths": self.paths,
                "release_id": self.release_id, "seed": self.seed, "spent": self.spent, "timings": self.timings}


@dataclass
class _Pass1:
    n_train: int
    n_holdout: int
    train_sample: pd.DataFrame
    holdout_sample: pd.DataFrame
    statistics: DomainStatistics


def run_release(config: ReleaseConfig, *, out: Path, seed: int | None = None, csv: bool | None = None,
                progress: Progress | None = None) -> ReleaseResult:
    """Run one release batch. Raises InputError/ContractError (exit 2) before spending anything."""
    out = check_output_dir(Path(out))
    seed = secrets.randbits(32) if seed is None else int(seed)
    release_id = f"{config.dataset}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{config.config_hash[:8]}"
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    accountant = Accountant(Budget(config.privacy.epsilon, config.privacy.delta))
    plan = plan_budget(config, accountant)

    with clock("load_validate"):
        first = _first_pass(config, seed, progress)
    event(log, "input passed its contract", stage="validate", rows=first.n_train + first.n_holdout,
          seconds=timings["load_validate"])

    with clock("domains"):
        estimated = first.statistics.release(accountant, cost=plan.domain_cost_per_column,
                                             delta_per_column=plan.delta_per_category_column) \
            if first.statistics.columns else []
        codec = _table_codec(config, estimated)

    with clock("encode"):
        codes = _encode_training(config, codec, seed, progress)

    with clock("fit"):
        model = make_model(config.model.kind, correlation_share=config.model.correlation_share)
        model.fit(PrivateTable(codes, codec.domain, accountant), plan.model_cost)
    spent = accountant.spent()
    event(log, "model fitted", stage="fit", seconds=timings["fit"], epsilon_spent=round(spent.epsilon, 6))

    n_rows = _output_rows(config, model.n_estimate)
    staging = Staging(out)
    try:
        with clock("sample"):
            rng = np.random.default_rng(seed)
            package = staging.folder("package")
            contract = ContractValidator(_output_specs(config, codec))
            output_counts: dict[tuple[str, str], int] = {}
            sampled = write_synthetic(
                _validated(iter_synthetic(model, codec, n_rows, rng, config.output.chunk_rows), codec, contract,
                           output_counts),
                codec.arrow_schema, package / "synthetic.parquet",
                csv_path=package / "synthetic.csv" if (config.output.csv if csv is None else csv) else None,
                release_id=release_id, head_rows=config.utility.sample_rows,
                progress=(lambda n: progress("sample", n)) if progress else None,
            )
            output_failures = contract_failures(output_counts)
        if output_failures:
            raise ContractError("the synthetic output", output_failures)

        with clock("check"):
            figures, details = run_checks(CheckInputs(
                config=config, codec=codec, train_codes=codes, synth_codes=sampled.codes,
                train_sample=first.train_sample, holdout_sample=first.holdout_sample,
                synth_sample=codec.canonical(sampled.head), seed=seed))
        decision = gate(figures, config.gate)

        with clock("publish"):
            folder = "release" if decision.released else "held"
            result_paths = _publish(staging, out, folder, config, codec, model, accountant, plan, decision, figures,
                                    details, estimated, first, n_rows, seed, release_id, timings, sampled.paths)
    except BaseException:
        staging.abort()
        raise
    event(log, "run finished", stage="publish", decision=decision.decision, release_id=release_id)
    return ReleaseResult(decision.decision, decision.reasons, figures, result_paths, release_id, seed,
                         accountant.spent().to_json(), timings)


def validate_input(config: ReleaseConfig, *, seed: int = 0) -> tuple[int, int]:
    """Check config and input against the contract without spending budget; (training, holdout) rows."""
    first = _first_pass(config, seed, None)
    return first.n_train, first.n_holdout


def _first_pass(config: ReleaseConfig, seed: int, progress: Progress | None) -> _Pass1:
    """Read everything once: contract, parse failures, DP-domain statistics, samples for the checks."""
    columns = config.attributes
    contract = ContractValidator(columns)
    failures = ParseFailures()
    statistics = DomainStatistics({c.name: ("categorical" if c.type == "categorical" else str(c.type))
                                   for c in columns if c.is_estimated})
    train_sample = RowSample(config.utility.sample_rows, seed=seed, stream=1)
    holdout_sample = RowSample(config.utility.sample_rows, seed=seed, stream=2)
    n_train = n_holdout = 0
    counts: dict[tuple[str, str], int] = {}
    for train, holdout in _split_source(config, seed, failures):
        counts = merge_counts(counts, contract.validate(pd.concat([train, holdout]) if len(holdout) else train))
        statistics.update(train)
        train_sample.add(train)
        holdout_sample.add(holdout)
        n_train += len(train)
        n_holdout += len(holdout)
        if progress:
            progress("load", n_train + n_holdout)
    problems = failures.lines() + contract_failures(counts)
    if problems:
        raise ContractError(f"{config.source_path}", problems)
    if n_train < 1:
        raise InputError(f"{config.source_path}: no rows to train on (the input has no data rows)")
    if n_holdout < 1:
        raise InputError(f"{config.source_path}: the holdout is empty; the risk checks need unseen rows "
                         "(use a larger input or a holdout file)")
    return _Pass1(n_train, n_holdout, train_sample.frame(), holdout_sample.frame(), statistics)


def _split_source(config: ReleaseConfig, seed: int, failures: ParseFailures) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    columns = config.attributes
    batches = iter_batches(config.source_path, config.source_format, columns,
                           identifiers=config.identifiers, failures=failures)
    holdout_path = config.holdout_path
    if holdout_path is None:
        yield from iter_split(batches, seed=seed, fraction=config.holdout.fraction)
        return
    empty = pd.DataFrame({c.name: pd.Series(dtype=object) for c in columns})
    for batch in batches:
        yield batch.frame, empty
    fmt = config.source.format or config.source_format
    for batch in iter_batches(holdout_path, fmt, columns, identifiers=config.identifiers, failures=failures):
        yield batch.frame.iloc[:0], batch.frame


def _encode_training(config: ReleaseConfig, codec: TableCodec, seed: int, progress: Progress | None) -> np.ndarray:
    parts = []
    rows = 0
    batches: Iterator[Batch] = iter_batches(config.source_path, config.source_format, config.attributes,
                                            identifiers=config.identifiers)
    split = iter_split(batches, seed=seed, fraction=None if config.holdout_path else config.holdout.fraction)
    for train, _ in split:
        parts.append(codec.encode(train))
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
    return max(1, int(round(n_estimate)))


def _publish(staging: Staging, out: Path, folder: str, config: ReleaseConfig, codec: TableCodec, model: Any,
             accountant: Accountant, plan: BudgetPlan, decision: Decision, figures: dict[str, Any],
             details: dict[str, Any], estimated: list[EstimatedDomain], first: _Pass1, n_rows: int, seed: int,
             release_id: str, timings: dict[str, float], files: list[Path]) -> dict[str, str]:
    package = staging.root / "package"
    manifest = build_manifest(config=config, codec=codec, model=model, accountant=accountant, decision=decision,
                              n_rows=n_rows, seed=seed, release_id=release_id, files=files)
    staging.write_json("package/manifest.json", manifest)
    report = build_report(config=config, codec=codec, model=model, accountant=accountant, plan=plan,
                          decision=decision, figures=figures, details=details, estimated=estimated,
                          n_train=first.n_train, n_holdout=first.n_holdout, n_rows=n_rows, seed=seed,
                          release_id=release_id, timings=timings, package=folder)
    from synthgate.quality.report.html import render_html

    staging.write_json("internal/report.json", report)
    staging.write_text("internal/report.html", render_html(report))
    staging.write_json("internal/measurements.json",
                       {"release_id": release_id, "measurements": [m.to_json() for m in model.measurements_]})
    for path in (staging.root / "internal").iterdir():
        path.chmod(0o600)
    package.rename(staging.root / folder)
    final = staging.commit()
    return {"run": str(final), folder: str(final / folder), "report_html": str(final / "internal" / "report.html"),
            "report_json": str(final / "internal" / "report.json")}


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
