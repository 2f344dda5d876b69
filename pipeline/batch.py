"""Many release configs in one call: `synthgate run A.yaml B.yaml ... --out RUNS/`.

Each config runs in turn into its own folder under RUNS/ (named after the config file), one
failure does not stop the others, and the batch ends with one exit code:

    0  every config was released
    c  every config ended with the same code c (3 all held, 2 all bad config or input, ...)
    5  mixed outcomes: the summary (or --json) says which config ended how

Each run is a full, separate release with its own ledger batch; a batch id given with --batch-id
becomes `<batch-id>-<config name>` per config, so a retried batch never spends twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EXIT_HELD, EXIT_INTERNAL, EXIT_MIXED, EXIT_RELEASED, SynthgateError
from .logs import event

__all__ = ["BatchItem", "BatchResult", "EXIT_MIXED", "run_batch", "batch_exit_code", "folder_names"]

log = logging.getLogger("synthgate.batch")


@dataclass
class BatchItem:
    config: str
    out: str
    exit_code: int
    outcome: str  # RELEASE, HOLD or ERROR
    dataset: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"config": self.config, "out": self.out, "dataset": self.dataset, "outcome": self.outcome,
                "exit_code": self.exit_code, "error": self.error, "result": self.result}


@dataclass
class BatchResult:
    items: list[BatchItem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return batch_exit_code([i.exit_code for i in self.items])

    def counts(self) -> dict[str, int]:
        return {name: sum(i.outcome == name for i in self.items) for name in ("RELEASE", "HOLD", "ERROR")}

    def summary_lines(self) -> list[str]:
        """The end-of-batch table: one row per config, then the counts and the exit code."""
        lines = [f"{'config':<32} {'dataset':<20} {'outcome':<8} {'exit':>4} {'epsilon':>8}  folder / error"]
        for i in self.items:
            spent = i.result["spent"]["epsilon"] if i.result else None
            detail = i.out if i.error is None else _one_line(i.error)
            lines.append(f"{Path(i.config).name:<32} {i.dataset or '-':<20} {i.outcome:<8} {i.exit_code:>4} "
                         f"{'-' if spent is None else f'{spent:.4g}':>8}  {detail}")
        counts = self.counts()
        lines.append(f"batch: {len(self.items)} config(s): {counts['RELEASE']} released, {counts['HOLD']} held, "
                     f"{counts['ERROR']} failed; exit {self.exit_code}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {"schema": "synthgate.batch/1", "exit_code": self.exit_code, "counts": self.counts(),
                "runs": [i.to_json() for i in self.items]}


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def batch_exit_code(codes: Sequence[int]) -> int:
    """0 if all released, the shared code if all ended alike, else EXIT_MIXED."""
    distinct = set(codes)
    if not distinct:
        return EXIT_INTERNAL
    return distinct.pop() if len(distinct) == 1 else EXIT_MIXED


def folder_names(configs: Sequence[Path]) -> list[str]:
    """One folder per config, named after its file (stem); a repeated stem gets -2, -3, ..."""
    names: list[str] = []
    for path in configs:
        stem, n = Path(path).stem, 2
        name = stem
        while name in names:
            name, n = f"{stem}-{n}", n + 1
        names.append(name)
    return names


def run_batch(configs: Sequence[Path], *, out: Path, run_one: Callable[[Path, Path, str | None], Any],
              batch_id: str | None = None) -> BatchResult:
    """Run each config through `run_one(config, out_dir, batch_id)` (returns a ReleaseResult) in turn."""
    result = BatchResult()
    for config, name in zip(configs, folder_names(configs)):
        target = Path(out) / name
        item_id = f"{batch_id}-{name}" if batch_id else None
        try:
            release = run_one(Path(config), target, item_id)
        except SynthgateError as exc:  # our errors name file, key, column and rule, never data values
            item = BatchItem(str(config), str(target), exc.exit_code, "ERROR", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - as main(): a message that cannot quote data
            item = BatchItem(str(config), str(target), EXIT_INTERNAL, "ERROR",
                             error=f"internal error ({type(exc).__name__}); rerun this config alone with --debug")
        else:
            code = EXIT_RELEASED if release.released else EXIT_HELD
            item = BatchItem(str(config), str(target), code, release.decision, result=release.to_json(),
                             dataset=release.spent.get("dataset", {}).get("name"))
        fields = {"stage": "batch", "decision": item.outcome, "exit_code": item.exit_code}
        if item.error:
            log.error(f"batch: {name} failed: {_one_line(item.error)}", extra=fields)
        else:
            event(log, f"batch: {name} ended {item.outcome}", **fields)
        result.items.append(item)
    return result
