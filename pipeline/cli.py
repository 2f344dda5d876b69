"""The `synthgate` command line. Exit codes: 0 released, 1 internal error, 2 bad config or input,
3 held by the gate, 4 budget exhausted. Errors are one line on stderr; --debug adds the traceback."""

from __future__ import annotations

import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"  # before anything imports great_expectations

import json
import logging
import sys
import time
import traceback
from pathlib import Path
import click

from .errors import EXIT_HELD, EXIT_INTERNAL, EXIT_RELEASED, SynthgateError
from .logs import configure_logging

__all__ = ["main", "cli"]

log = logging.getLogger("synthgate.cli")


class _Progress:
    """Rows done per stage, logged at most every few seconds so unattended logs stay short."""

    def __init__(self, every: float = 2.0) -> None:
        self._every, self._last = every, 0.0

    def __call__(self, stage: str, rows: int) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            log.info(f"{stage}: {rows:,} rows", extra={"stage": stage, "rows": rows})


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option("--log-json", is_flag=True, help="Log JSON lines to stderr (for schedulers).")
@click.version_option(package_name="synthgate")
@click.pass_context
def cli(ctx: click.Context, debug: bool, log_json: bool) -> None:
    """synthgate: differentially private synthetic data, released only through a gate."""
    ctx.obj = {"debug": debug}
    configure_logging(json_lines=log_json, verbose=debug)


@cli.command()
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Where to write the config.")
@click.option("--epsilon", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True)
@click.option("--target", default=None, help="Column to predict in the train-on-synthetic check.")
@click.option("--model", type=click.Choice(["independent", "copula", "schema"]), default="independent",
              show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
def init(data: Path, out: Path, epsilon: float, target: str | None, model: str, force: bool) -> None:
    """Draft a runnable config for DATA from its column names and types (no values are read into it)."""
    from .init_config import draft_config

    draft_config(data, out, epsilon=epsilon, target=target, model=model, force=force)
    click.echo(f"wrote {out}: review its domains before a real release")


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
def validate(config: Path) -> None:
    """Check CONFIG and its input against the data contract, spending no budget."""
    from .config import load_config
    from .run import validate_input

    n_train, n_holdout = validate_input(load_config(config))
    click.echo(f"ok: {config} is valid and its input passes the contract "
               f"({n_train + n_holdout:,} rows: {n_train:,} training, {n_holdout:,} holdout)")


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Run directory to create.")
@click.option("--seed", type=int, default=None, help="Seed for sampling and the holdout split (never the DP noise).")
@click.option("--csv/--no-csv", "csv", default=None, help="Also write synthetic.csv (default: from config).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the outcome on stdout.")
@click.pass_context
def run(ctx: click.Context, config: Path, out: Path, seed: int | None, csv: bool | None, as_json: bool) -> None:
    """Run a release of CONFIG into the new directory OUT."""
    from .config import load_config
    from .run import run_release

    result = run_release(load_config(config), out=out, seed=seed, csv=csv, progress=_Progress())
    if as_json:
        click.echo(json.dumps(result.to_json(), default=str))
    else:
        click.echo(f"{result.decision}: {result.release_id}")
        for reason in result.reasons:
            click.echo(f"  - {reason}")
        click.echo(f"spent epsilon={result.spent['epsilon']:.4g} (delta={result.spent['delta']:g}, "
                   f"{result.spent['accounting']})")
        for name, path in result.paths.items():
            click.echo(f"  {name}: {path}")
    ctx.exit(EXIT_RELEASED if result.released else EXIT_HELD)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps our errors to exit codes and one-line messages."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="synthgate", standalone_mode=False)
    except SynthgateError as exc:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - last resort: never show a message that may quote data
        if debug:
            traceback.print_exc()
        click.echo(f"internal error ({type(exc).__name__}); rerun with --debug for details", err=True)
        return EXIT_INTERNAL
    return int(code) if isinstance(code, int) else EXIT_RELEASED


if __name__ == "__main__":
    sys.exit(main())
