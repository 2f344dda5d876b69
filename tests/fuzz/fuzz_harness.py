"""Run the CLI on a generated case and check the one property every bad input must keep.

A case is a folder: `input/` (the table, possibly broken), `release.yaml` (its config, possibly
mismatched), a private ledger, and `runs/` where `--out runs/run` goes. After `synthgate validate`
and `synthgate run` the property is: exit 0 or 3 with a complete run directory, or exit 2 with one
error message that names the file, column or key; never exit 1, never a traceback, nothing left in
`runs/` after a stop, and the planted sentinel (a string and a number, each in one cell) never in
stdout, stderr, warnings or any file the run or the ledger wrote.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_HELD, EXIT_RELEASED

__all__ = ["SENTINEL", "SENTINEL_NUMBER", "SENTINEL_NUMBER_TEXT", "Case", "Outcome", "invoke", "invoke_subprocess",
           "check_validate", "check_run"]

SENTINEL = "QZX_FUZZ_SENTINEL_5150"
SENTINEL_NUMBER_TEXT = "918273.64551"
SENTINEL_NUMBER = float(SENTINEL_NUMBER_TEXT)
_LOG_LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] ")  # a progress or event log line (logs.py's text format)
_PACKED = (struct.pack("<d", SENTINEL_NUMBER), struct.pack(">d", SENTINEL_NUMBER))


@dataclass
class Case:
    """The files of one generated example (paths only: no cell values are kept here)."""

    root: Path
    config: Path
    inputs: list[Path]
    flags: list[str] = field(default_factory=list)

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def out(self) -> Path:
        return self.runs / "run"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger" / "ledger.sqlite"

    def args(self, command: str) -> list[str]:
        head = [*self.flags, "--ledger", str(self.ledger), command, str(self.config)]
        return head + (["--out", str(self.out), "--seed", "3"] if command == "run" else [])


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    warnings: tuple[str, ...] = ()


def invoke(case: Case, command: str) -> Outcome:
    """`synthgate COMMAND` in-process, through main() (which maps errors to exit codes)."""
    case.ledger.parent.mkdir(exist_ok=True)
    stdout, stderr = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        warnings.simplefilter("always")
        code = main(case.args(command))
    return Outcome(code, stdout.getvalue(), stderr.getvalue(), tuple(str(w.message) for w in caught))


def invoke_subprocess(case: Case, command: str) -> Outcome:
    """The real console entry point in a fresh interpreter: what a scheduler sees on stderr."""
    case.ledger.parent.mkdir(exist_ok=True)
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False", "PYTHONWARNINGS": "default"}
    done = subprocess.run([sys.executable, "-m", "synthgate.pipeline.cli", *case.args(command)], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    return Outcome(done.returncode, done.stdout, done.stderr)


def _names_a_place(line: str, case: Case) -> bool:
    places = [str(case.config), *map(str, case.inputs), str(case.out)]
    return any(p in line for p in places) or "column '" in line or "columns." in line


def _check_stop(case: Case, outcome: Outcome) -> None:
    """Exit 2: one message (its first line `error: ...`, any further lines indented items of the
    same message), naming the file, column or key; no traceback. Progress log lines may precede it."""
    lines = [line for line in outcome.err.rstrip("\n").split("\n") if not _LOG_LINE.match(line)]
    assert lines and lines[0].startswith("error: "), f"exit 2 without an error line:\n{outcome.err}"
    assert all(line.startswith("  ") for line in lines[1:]), f"more than one message on stderr:\n{outcome.err}"
    assert _names_a_place(outcome.err, case), f"the error names no file, column or key:\n{outcome.err}"
    assert all(_names_a_place(line, case) for line in lines[1:]), f"an item names no place:\n{outcome.err}"


def _check_json_lines(case: Case, outcome: Outcome) -> None:
    """--log-json: every stderr line is one JSON object (schedulers parse it), the error one included."""
    records = [json.loads(line) for line in outcome.err.splitlines() if line.strip()]
    assert all(isinstance(r, dict) for r in records), f"a stderr line is not a JSON object:\n{outcome.err}"
    if outcome.code == EXIT_BAD_INPUT:
        assert records and records[-1].get("exit_code") == EXIT_BAD_INPUT, f"no JSON error record:\n{outcome.err}"
        assert _names_a_place(records[-1]["event"], case), f"the error names no file, column or key:\n{outcome.err}"


def _check_no_leak(case: Case, outcome: Outcome) -> None:
    texts = {"stdout": outcome.out, "stderr": outcome.err, "warnings": "\n".join(outcome.warnings)}
    for where, text in texts.items():
        assert SENTINEL not in text and SENTINEL_NUMBER_TEXT not in text, f"the sentinel leaked into {where}"
    for path in [*case.runs.rglob("*"), *case.ledger.parent.rglob("*")]:
        if not path.is_file():
            continue
        blob = path.read_bytes()
        for needle in (SENTINEL.encode(), SENTINEL_NUMBER_TEXT.encode(), *_PACKED):
            assert needle not in blob, f"the sentinel leaked into {path.relative_to(case.root)}"
        if path.suffix == ".parquet":
            frame = pq.read_table(path).to_pandas()
            for column in frame.columns:
                values = frame[column].dropna()
                assert not values.astype(str).str.contains(SENTINEL, regex=False).any(), f"sentinel in {path}"
                if values.dtype.kind == "f":
                    assert not (values.to_numpy(float) == SENTINEL_NUMBER).any(), f"sentinel number in {path}"


def _check_common(case: Case, outcome: Outcome, *, debug_ok: bool) -> None:
    assert outcome.code != 1, f"internal error (exit 1) on a generated input:\n{outcome.err}"
    assert outcome.code in (EXIT_RELEASED, EXIT_HELD, EXIT_BAD_INPUT), f"exit {outcome.code}:\n{outcome.err}"
    if not debug_ok:
        assert "Traceback" not in outcome.err and 'File "' not in outcome.err, f"traceback on stderr:\n{outcome.err}"
    if "--log-json" in case.flags and not debug_ok:
        _check_json_lines(case, outcome)
    _check_no_leak(case, outcome)


def check_validate(case: Case, outcome: Outcome) -> None:
    """`validate` writes nothing, and either says ok or stops with a clear message."""
    debug = "--debug" in case.flags
    _check_common(case, outcome, debug_ok=debug)
    assert outcome.code in (EXIT_RELEASED, EXIT_BAD_INPUT), f"validate exit {outcome.code}"
    assert list(case.runs.iterdir()) == [], "validate wrote into runs/"
    if outcome.code == EXIT_BAD_INPUT and not debug and "--log-json" not in case.flags:
        _check_stop(case, outcome)


def check_run(case: Case, outcome: Outcome) -> None:
    """`run` ends in a complete run directory (exit 0/3) or leaves nothing (exit 2)."""
    debug = "--debug" in case.flags
    _check_common(case, outcome, debug_ok=debug)
    if outcome.code == EXIT_BAD_INPUT:
        assert not case.out.exists(), "a stopped run left its output directory"
        assert list(case.runs.iterdir()) == [], "a stopped run left a staging folder"
        if not debug and "--log-json" not in case.flags:
            _check_stop(case, outcome)
        return
    folder = "release" if outcome.code == EXIT_RELEASED else "held"
    assert [p.name for p in case.runs.iterdir()] == ["run"], "staging folder left beside the run"
    assert sorted(p.name for p in case.out.iterdir()) == sorted([folder, "internal"])
    assert {"synthetic.parquet", "manifest.json"} <= {p.name for p in (case.out / folder).iterdir()}
    assert {"report.json", "report.html"} <= {p.name for p in (case.out / "internal").iterdir()}
    synthetic = pq.read_table(case.out / folder / "synthetic.parquet")
    assert synthetic.num_rows >= 1 and synthetic.num_columns >= 1
