"""The `synthgate` command line. Exit codes: 0 released, 1 internal error, 2 bad config or input,
3 held by the gate, 4 budget exhausted, 5 mixed outcomes in a batch (docs/cli.md). Errors are one line
on stderr; --debug adds the traceback."""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # before anything imports great_expectations

import json
import logging
import sys
import time
import traceback
from typing import Any
from pathlib import Path
import click

from .kinds import MODEL_KINDS

from .errors import EXIT_HELD, EXIT_INTERNAL, EXIT_RELEASED, SynthgateError
from .logs import configure_logging

__all__ = ["main", "cli"]

log = logging.getLogger("synthgate.cli")

RUN_SCHEMA = "synthgate.run/1"  # `run --json` with one CONFIG; docs/cli.md lists its keys (pinned by a test)


class _Progress:
    """Rows done per stage, logged at most every few seconds so unattended logs stay short."""

    def __init__(self, every: float = 2.0) -> None:
        # The first line comes after `every` seconds, not at once: a short run, or one that stops
        # on bad input, shows only its outcome.
        self._every, self._last = every, time.monotonic()

    def __call__(self, stage: str, rows: int) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            log.info(f"{stage}: {rows:,} rows", extra={"stage": stage, "rows": rows})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Logs on stderr: lines for people, or one JSON object per line (for schedulers).")
@click.option("--log-json", is_flag=True, help="Same as --log-format json.")
@click.option("--ledger", "ledger_path", type=str, default=None,
              help="Budget ledger: a SQLite file, or postgresql://user@host:port/db (password from PGPASSWORD "
                   "or ~/.pgpass). Default: $SYNTHGATE_LEDGER, else the user data folder.")
@click.version_option(package_name="synthgate")
@click.pass_context
def cli(ctx: click.Context, debug: bool, log_format: str, log_json: bool, ledger_path: str | None) -> None:
    """synthgate: differentially private synthetic data, released only through a gate.

    Exit codes: 0 released (or: fits), 1 internal error, 2 bad config or input, 3 held by the gate,
    4 budget exhausted, 5 mixed outcomes in a batch of several configs. Never prompts."""
    ctx.obj = {"debug": debug, "ledger": ledger_path}
    configure_logging(json_lines=log_json or log_format == "json", verbose=debug)


def _ledger(ctx: click.Context) -> Any:
    from synthgate.privacy.ledger import Ledger, default_ledger_path

    return Ledger(ctx.obj.get("ledger") or default_ledger_path())


@cli.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Where to write the config.")
@click.option("--epsilon", type=click.FloatRange(min=0, max=100, min_open=True), default=1.0, show_default=True)
@click.option("--target", default=None, help="Column to predict in the train-on-synthetic check.")
@click.option("--model", type=click.Choice(MODEL_KINDS), default="graphical", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
def init(data: Path, out: Path, epsilon: float, target: str | None, model: str, force: bool) -> None:
    """Draft a runnable config for DATA from its column names and types (no values are read into it)."""
    from .init_config import draft_config

    draft_config(data, out, epsilon=epsilon, target=target, model=model, force=force)
    click.echo(f"wrote {out}: review its domains before a real release")


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
def validate(config: Path) -> None:
    """Check CONFIG and its input against the data contract, spending no budget.

    Internal output: it quotes exact row counts. The holdout split is drawn from a secret, afresh
    by each run, so the sizes shown are one such split and a run's differ a little."""
    from .config import load_config
    from .run import validate_input

    release = load_config(config)
    n_train, n_holdout = validate_input(release)
    split = (f"{n_train:,} training, {n_holdout:,} holdout" if release.holdout_path else
             f"about {n_train:,} training and {n_holdout:,} holdout; each run draws its own secret split")
    click.echo(f"ok: {config} is valid and its input passes the contract "
               f"({n_train + n_holdout:,} rows: {split}) [internal: exact counts]")
    from synthgate.privacy.accountant import Budget

    from .dry_run import domain_rows_lines
    from .plan import plan_budget, rows_needed

    plan = plan_budget(release, Budget(release.privacy.epsilon, release.privacy.delta))
    for line in domain_rows_lines(rows_needed(plan, release.estimated_kinds, release.contribution), n_train):
        logging.getLogger("synthgate.validate").warning(line)  # a JSON line under --log-json


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the plan on stdout.")
@click.pass_context
def plan(ctx: click.Context, config: Path, as_json: bool) -> None:
    """Dry run: what a run of CONFIG would spend, what the ledger has left, and whether it fits.
    Reads no data and spends nothing. Exit 0 if it fits, 4 if it does not, 2 on a bad config."""
    from synthgate.privacy.ledger import default_ledger_path

    from .config import load_config
    from .dry_run import dry_run
    from .errors import EXIT_BUDGET

    result = dry_run(load_config(config), ledger_path=ctx.obj.get("ledger") or default_ledger_path())
    click.echo(json.dumps(result.to_json()) if as_json else "\n".join(result.text_lines()))
    ctx.exit(EXIT_RELEASED if result.fits else EXIT_BUDGET)


@cli.command()
@click.argument("configs", metavar="CONFIG...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Run directory to create; with several CONFIGs, the folder that gets one run directory per config.")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed for sampling (post-processing) only: never the DP noise nor the secret holdout split.")
@click.option("--csv/--no-csv", "csv", default=None, help="Also write synthetic.csv (default: from config).")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object with the outcome on stdout (schema: docs/cli.md).")
@click.option("--batch-id", default=None,
              help="Idempotency key for schedulers: a batch id is spent once in the ledger (default: a new one); "
                   "with several CONFIGs each gets <batch-id>-<config name>.")
@click.pass_context
def run(ctx: click.Context, configs: tuple[Path, ...], out: Path, seed: int | None, csv: bool | None, as_json: bool,
        batch_id: str | None) -> None:
    """Run a release of CONFIG into the new directory OUT, charged to the budget ledger.

    With several CONFIGs (e.g. configs/*.yaml), runs each in turn into OUT/<config name>, carries on past
    a failure, prints a summary and exits 0 if all were released, the shared code if all ended alike,
    else 5 (mixed)."""
    from .config import load_config
    from .publish import to_json_text
    from .run import RunOptions, run_release

    def run_one(config: Path, target: Path, item_batch_id: str | None) -> Any:
        return run_release(load_config(config), out=target, ledger=_ledger(ctx), seed=seed,
                           options=RunOptions(csv=csv, batch_id=item_batch_id, progress=_Progress()))

    if len(configs) > 1:
        from .batch import run_batch

        outcome = run_batch(configs, out=out, run_one=run_one, batch_id=batch_id)
        click.echo(to_json_text(outcome.to_json()) if as_json else "\n".join(outcome.summary_lines()))
        ctx.exit(outcome.exit_code)
    result = run_one(configs[0], out, batch_id)
    code = EXIT_RELEASED if result.released else EXIT_HELD
    if as_json:
        click.echo(to_json_text({"schema": RUN_SCHEMA, "exit_code": code, **result.to_json()}))
    else:
        click.echo(f"{result.decision}: {result.release_id}")
        for reason in result.reasons:
            click.echo(f"  - {reason}")
        for warning in result.warnings:
            click.echo(f"  ! {warning}")
        click.echo(f"spent epsilon={result.spent['epsilon']:.4g} (delta={result.spent['delta']:g}, "
                   f"{result.spent['accounting']})")
        for name, path in result.paths.items():
            click.echo(f"  {name}: {path}")
    ctx.exit(code)


@cli.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Directory to create.")
def replay(run_dir: Path, out: Path) -> None:
    """Re-create RUN's synthetic table from its stored DP measurements and seed (no data, no spend)."""
    from .replay import replay_release

    result = replay_release(run_dir, out=out)
    click.echo(f"{'identical' if result.identical else 'DIFFERENT'}: {result.path} (sha256 {result.sha256[:16]}…, "
               f"manifest {result.expected_sha256[:16]}…)")
    if not result.identical:
        raise click.exceptions.Exit(EXIT_INTERNAL)


@cli.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Directory to create.")
@click.option("--rows", type=click.IntRange(min=1), default=None, help="Rows to draw (default: the release's count).")
@click.option("--where", "where", multiple=True, metavar="COL=VALUE",
              help="Condition: COL=LEVEL, COL=NUMBER or COL=LOW..HIGH (bin edges; an end may be left open). "
                   "Repeat for more columns (AND); the same column twice means either value (OR).")
@click.option("--balance", default=None, metavar="COL", help="Equal counts per level of a categorical column.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed for sampling (default: a fresh one).")
@click.option("--allow-held", is_flag=True, help="Sample from a release the gate held (recorded in the manifest).")
@click.pass_context
def sample(ctx: click.Context, run_dir: Path, out: Path, rows: int | None, where: tuple[str, ...],
           balance: str | None, seed: int | None, allow_held: bool) -> None:
    """Draw new rows from RUN's model into OUT: conditioned (--where), rebalanced (--balance), any number.
    Post-processing of RUN's stored DP measurements: reads no data, spends nothing (a zero-spend
    line goes into the ledger's history)."""
    from .conditions import parse_where
    from .sample_release import SampleOptions, sample_release

    options = SampleOptions(rows=rows, where=parse_where(where), balance=balance, seed=seed, allow_held=allow_held)
    result = sample_release(run_dir, out=out, options=options, ledger=_ledger(ctx))
    click.echo(f"sampled {result.manifest['rows']['count']:,} rows: {result.path / 'synthetic.parquet'} "
               f"(from {result.manifest['parent']['release_id']}, spent epsilon=0)")
    for stratum in result.manifest["conditioning"]["strata"]:
        click.echo(f"  {stratum['label']}: model probability {stratum['probability']:.4g}; {stratum['method']}")


@cli.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default browser afterwards.")
def report(run_dir: Path, open_browser: bool) -> None:
    """Re-render RUN/internal/report.html from RUN/internal/report.json (no data, no spend)."""
    from .rerender import rerender_report

    path = rerender_report(run_dir)
    click.echo(f"wrote {path}")
    if open_browser:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


@cli.group()
def budget() -> None:
    """Lifetime privacy budgets in the ledger (SYNTHGATE_LEDGER, or the user data folder)."""


@budget.command("set")
@click.argument("dataset")
@click.option("--lifetime-epsilon", type=click.FloatRange(min=0, min_open=True), required=True)
@click.option("--lifetime-delta", type=click.FloatRange(min=0, max=1, max_open=True), default=1e-5,
              show_default=True, help="0 for pure accounting.")
@click.option("--force", is_flag=True, help="Allow raising an existing budget (recorded in the ledger).")
@click.pass_context
def budget_set(ctx: click.Context, dataset: str, lifetime_epsilon: float, lifetime_delta: float, force: bool) -> None:
    """Create or change DATASET's lifetime budget. Lowering is always allowed; raising needs --force."""
    ledger = _ledger(ctx)
    ledger.set_lifetime(dataset, epsilon=lifetime_epsilon, delta=lifetime_delta, force=force)
    click.echo(f"{dataset}: lifetime epsilon={lifetime_epsilon:g}, delta={lifetime_delta:g} in {ledger.path}")


@budget.command("show")
@click.argument("dataset", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def budget_show(ctx: click.Context, dataset: str | None, as_json: bool) -> None:
    """Lifetime budget, spend and remaining budget of DATASET (default: every dataset), a row per batch."""
    ledger = _ledger(ctx)
    names = [dataset] if dataset else ledger.datasets()
    statuses = [ledger.show(name) for name in names]
    if as_json:  # one dataset: its object; all: {"ledger", "datasets": [...]}
        payload = statuses[0].to_json() if dataset else {"ledger": str(ledger.path),
                                                         "datasets": [s.to_json() for s in statuses]}
        if dataset:  # zero-spend history lines (`synthgate sample`)
            payload["samples"] = [{"at": at, **json.loads(detail)} for at, kind, detail in ledger.events(dataset)
                                  if kind == "sample"]
        click.echo(json.dumps(payload, default=str))
        return
    if not statuses:
        click.echo(f"no datasets in {ledger.path}")
    for status in statuses:
        click.echo(f"{status.name}: lifetime epsilon={status.lifetime_epsilon:g} (delta={status.lifetime_delta:g}), "
                   f"spent epsilon={status.spent_epsilon:.4g}, remaining epsilon={status.remaining_epsilon:.4g}")
        if status.remaining_rho is not None:
            click.echo(f"  zCDP: spent rho={status.spent_rho:.4g}, remaining rho={status.remaining_rho:.4g} "
                       "(a batch fits if its rho does; an eps=1, delta=1e-6 run costs rho=0.02436)")
        click.echo(f"  {'batch':<52} {'status':<16} {'decision':<8} {'model':<11} {'epsilon':>8} {'rho':>10} "
                   f"{'gate share':>10}")
        for b in status.batches:
            stages = b.by_stage()
            total = sum(stages.values())
            gate_share = f"{stages.get('gate', 0.0) / total:.1%}" if total else "-"
            click.echo(f"  {b.batch_id:<52} {b.status:<16} {b.decision or '-':<8} {b.model:<11} "
                       f"{b.epsilon:>8.4g} {b.rho:>10.4g} {gate_share:>10}")
        counted = [b for b in status.batches if b.status != "released_unspent"]
        click.echo(f"  {'total (zCDP: the rho add up; epsilon is their composition)':<90} "
                   f"{status.spent_epsilon:>8.4g} {sum(b.rho for b in counted):>10.4g}")
        for at, kind, detail in ledger.events(status.name):
            if kind == "sample":  # post-processing of a release: a history line, zero spend
                facts = json.loads(detail)
                click.echo(f"  sample {facts.get('sample_id')} of {facts.get('parent_release')}: "
                           f"{facts.get('rows'):,} rows at {at}, spent epsilon=0")


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps our errors to exit codes and one-line messages."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    log_json = _wants_json_logs(args)
    try:
        code = cli.main(args=args, prog_name="synthgate", standalone_mode=False)
    except SynthgateError as exc:
        if debug:
            traceback.print_exc()
        _report_error(f"error: {exc}", str(exc), exc.exit_code, log_json=log_json)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        _report_error("aborted", "aborted", EXIT_INTERNAL, log_json=log_json)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - last resort: never show a message that may quote data
        if debug:
            traceback.print_exc()
        message = f"internal error ({type(exc).__name__}); rerun with --debug for details"
        _report_error(message, message, EXIT_INTERNAL, log_json=log_json)
        return EXIT_INTERNAL
    return int(code) if isinstance(code, int) else EXIT_RELEASED


def _wants_json_logs(args: list[str]) -> bool:
    """--log-json, --log-format json or --log-format=json before the command (known before click parses)."""
    for i, arg in enumerate(args):
        if arg == "--log-json" or arg == "--log-format=json" or (
                arg == "--log-format" and i + 1 < len(args) and args[i + 1] == "json"):
            return True
    return False


def _report_error(text: str, event: str, exit_code: int, *, log_json: bool) -> None:
    """The outcome on stderr: a line for people, or (--log-json) one JSON object like every other line,
    so a scheduler that parses stderr as JSON lines also gets the error."""
    if log_json:
        click.echo(json.dumps({"time": round(time.time(), 3), "level": "error", "logger": "synthgate.cli",
                               "event": event, "exit_code": exit_code}), err=True)
    else:
        click.echo(text, err=True)


if __name__ == "__main__":
    sys.exit(main())
