"""The privacy test: a value planted in the input must never come out.

A unique sentinel string is planted in the roles a value can take: a category held by one row in a
`categories: estimate` column (the thresholded histogram must not release it), a direct identifier
(dropped at load, never parsed), a cell that does not parse in an integer column, a category outside
a public list, a malformed row (Arrow's own error message quotes the row). A sentinel number is
planted as an outlier in a column whose bounds are estimated under DP.

After each run, every file under the run's folder (parquet, CSV, JSON, HTML, read as bytes and, for
Parquet, also decoded), stdout, stderr, every log record (with --debug and --log-json too) and every
warning are searched for it.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import struct
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

import synthgate.pipeline.cli as cli_module
from services.configs import GATE_PASSES
from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_RELEASED
from synthgate.privacy.estimate import numeric_edges

SENTINEL = "ZQX_SENTINEL_7731"
SENTINEL_NUMBER = 987654.321
_SENTINEL_DIGITS = re.compile(rb"(?<![0-9.])987654")
N_ROWS = 800

COLUMNS: dict[str, dict[str, Any]] = {
    "record_id": {"role": "identifier"},
    "segment": {"type": "categorical", "categories": "estimate"},
    "age": {"type": "integer", "bounds": [0, 120]},
    "amount": {"type": "numeric", "bounds": "estimate"},
    "colour": {"type": "categorical", "categories": ["red", "green", "blue"]},
    "flag": {"type": "boolean"},
}


def make_table(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "record_id": [f"R{i:05d}" for i in range(N_ROWS)],
        "segment": rng.choice(["alpha", "beta", "gamma", "delta"], N_ROWS),
        "age": rng.integers(18, 90, N_ROWS).astype(object),
        "amount": rng.normal(50, 10, N_ROWS).clip(1, None).round(3),
        "colour": rng.choice(["red", "green", "blue"], N_ROWS).astype(object),
        "flag": rng.choice(["true", "false"], N_ROWS),
    })
    frame.loc[17, "record_id"] = SENTINEL        # a direct identifier
    frame.loc[33, "segment"] = SENTINEL          # a category held by one row, domain estimated under DP
    frame.loc[51, "amount"] = SENTINEL_NUMBER    # an outlier in a column with estimated bounds
    return frame


class LogRecorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[str]:
        formatter = logging.Formatter()
        for record in self.records:
            yield record.getMessage()
            yield repr(record.__dict__)
            if record.exc_info:
                yield formatter.formatException(record.exc_info)


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> LogRecorder:
    """Every record from synthgate's loggers (which do not propagate) and from the root logger."""
    recorder = LogRecorder()
    original = cli_module.configure_logging

    def configure_and_record(**kwargs: Any) -> None:
        original(**kwargs)
        logging.getLogger("synthgate").addHandler(recorder)

    monkeypatch.setattr(cli_module, "configure_logging", configure_and_record)
    caplog.set_level(logging.DEBUG)
    logging.getLogger().addHandler(recorder)
    yield recorder
    logging.getLogger().removeHandler(recorder)
    logging.getLogger("synthgate").removeHandler(recorder)


class Scene:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.input = root / "input"
        self.input.mkdir()
        self.runs = root / "runs"
        self.runs.mkdir()
        self.out = self.runs / "run"

    def config(self, frame: pd.DataFrame | None, *, data: bytes | None = None, model: str = "independent",
               columns: dict[str, dict[str, Any]] | None = None) -> Path:
        source = self.input / "people.csv"
        if data is None:
            assert frame is not None
            data = frame.to_csv(index=False, lineterminator="\n").encode()
        source.write_bytes(data)
        raw = {
            "dataset": "people",
            "source": {"path": str(source)},
            "columns": copy.deepcopy(columns or COLUMNS),
            "privacy": {"epsilon": 1.0, "delta": 1e-6, "lifetime_epsilon": 100.0, "lifetime_delta": 1e-4},
            "model": {"kind": model},
            "utility": {"target": "colour", "sample_rows": 500},
            "gate": GATE_PASSES,  # every DP check measured (so its figures are searched too) and passed: exit 0
        }
        path = self.root / "people.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        assert SENTINEL not in path.read_text(encoding="utf-8")
        return path

    def invoke(self, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, list[str]]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(args)
        captured = capsys.readouterr()
        return code, captured.out, captured.err, [str(w.message) for w in caught]

    def files(self) -> list[Path]:
        return sorted(p for p in self.runs.rglob("*") if p.is_file())

    @staticmethod
    def ledger_files() -> list[Path]:
        """The budget ledger (tests/conftest.py points SYNTHGATE_LEDGER at a fresh file per test)."""
        ledger = Path(os.environ["SYNTHGATE_LEDGER"])
        return sorted(p for p in ledger.parent.glob(ledger.name + "*") if p.is_file())


def assert_not_in_text(needle: str, *texts: str) -> None:
    for text in texts:
        assert needle not in text, f"{needle} leaked into: {text[:300]!r}"


def assert_no_sentinel_digits(*texts: str) -> None:
    """The number's digits at the start of a printed number, as in the files: inside a longer fraction
    (a DP figure k/81 = 0.2668209876543...) they are noise, not the sentinel (found by a full-suite run)."""
    for text in texts:
        assert not _SENTINEL_DIGITS.search(text.encode("utf-8")), f"987654 leaked into: {text[:300]!r}"


def assert_no_leak_in_files(files: list[Path], *, number: bool = False) -> None:
    needles = [SENTINEL.encode()]
    if number:
        needles += [struct.pack("<d", SENTINEL_NUMBER), struct.pack(">d", SENTINEL_NUMBER)]
    for path in files:
        blob = path.read_bytes()
        for needle in needles:
            assert needle not in blob, f"{needle!r} leaked into {path}"
        # The number's digits at the start of a printed number (987654, 987654.3, 9.87654e+05 is caught
        # by the float check below): inside a longer fraction (a DP figure k/81 = 0.2668209876543...) they
        # are a coincidence, not a leak.
        if number:
            assert not _SENTINEL_DIGITS.search(blob), f"987654 leaked into {path}"
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            assert SENTINEL.encode() not in repr(table.schema.metadata).encode()
            frame = table.to_pandas()
            for column in frame.columns:
                values = frame[column].dropna()
                assert not values.astype(str).str.contains(SENTINEL).any(), f"{SENTINEL} in {path}:{column}"
                if number and pd.api.types.is_float_dtype(values):
                    assert not np.isclose(values.to_numpy(float), SENTINEL_NUMBER).any()


def _on_public_grid(value: float, cells: int = 1024) -> bool:
    """On the estimator's fixed grid: a signed power-of-two bin edge, or one of `cells` equal steps
    inside such a bin (README: bounds from noisy histograms on fixed power-of-two bins, then zoomed)."""
    edges = numeric_edges()
    if value in set(edges.tolist()):
        return True
    i = int(np.searchsorted(edges, value, side="right"))
    if not 0 < i < len(edges):
        return False
    a, b = edges[i - 1], edges[i]
    steps = (value - a) / ((b - a) / cells)
    return bool(abs(steps - round(steps)) < 1e-6)


FLAG_SETS = [[], ["--debug"], ["--log-json"], ["--debug", "--log-json"]]


@pytest.mark.parametrize("flags", FLAG_SETS, ids=["plain", "debug", "log-json", "debug-log-json"])
@pytest.mark.parametrize("model", ["independent", "copula"])
def test_released_run_never_carries_the_sentinel(tmp_path: Path, capsys: pytest.CaptureFixture[str], logs: LogRecorder,
                                                 flags: list[str], model: str) -> None:
    scene = Scene(tmp_path)
    config = scene.config(make_table(), model=model)
    code, out, err, caught = scene.invoke(
        [*flags, "run", str(config), "--out", str(scene.out), "--seed", "5", "--csv", "--json"], capsys)
    assert code == EXIT_RELEASED, err

    files = scene.files()
    names = {p.relative_to(scene.out).as_posix() for p in files}
    package = "release" if code == EXIT_RELEASED else "held"
    assert {f"{package}/synthetic.parquet", f"{package}/synthetic.csv", f"{package}/manifest.json",
            f"{package}/DATASHEET.md", f"{package}/datasheet.json", "internal/report.json",
            "internal/report.html"} <= names
    assert_no_leak_in_files(files, number=True)
    assert Scene.ledger_files(), "the run wrote no ledger"
    assert_no_leak_in_files(Scene.ledger_files(), number=True)
    assert any(r.getMessage() == "run finished" for r in logs.records), "the log recorder saw nothing"
    assert_not_in_text(SENTINEL, out, err, *caught, *logs.texts())
    assert_no_sentinel_digits(out, err, *caught, *logs.texts())
    if "--log-json" in flags:
        assert err.strip() and all(json.loads(line) for line in err.strip().splitlines())

    # The report's plots (column labels, pair heatmaps, distance histograms) were drawn, so the search
    # above covered them; re-rendering the page from report.json (`synthgate report`) adds nothing either.
    html = (scene.out / "internal" / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= len(COLUMNS) - 1 and "segment" in html
    code, out, err, caught = scene.invoke([*flags, "report", str(scene.out)], capsys)
    assert code == 0, err
    assert_no_leak_in_files(scene.files(), number=True)
    assert_not_in_text(SENTINEL, out, err, *caught, *logs.texts())

    # The one-row category was merged into "other", not released; the common ones were released.
    manifest = json.loads((scene.out / package / "manifest.json").read_text(encoding="utf-8"))
    segment = manifest["schema"]["segment"]
    assert segment["other"] is True and SENTINEL not in segment["categories"]
    assert set(segment["categories"]) <= {"alpha", "beta", "gamma", "delta"}
    # Estimated bounds come from a fixed, data-independent grid, never from the data: and the bin of an
    # outlier held by one row is not released (its noisy count would have to clear a line that an empty
    # bin's noise crosses with probability ~1e-3 / number of bins).
    low, high = manifest["schema"]["amount"]["bounds"]
    assert _on_public_grid(low) and _on_public_grid(high), (low, high)
    assert SENTINEL_NUMBER not in (low, high)
    assert high < SENTINEL_NUMBER / 2
    identifiers = json.loads((scene.out / "internal" / "report.json").read_text(encoding="utf-8"))
    assert identifiers["dropped_identifiers"] == ["record_id"]
    assert "record_id" not in manifest["schema"]
    assert "record_id" not in pq.read_schema(scene.out / package / "synthetic.parquet").names


@pytest.mark.parametrize("command", ["validate", "init"])
@pytest.mark.parametrize("flags", [[], ["--debug", "--log-json"]], ids=["plain", "debug-log-json"])
def test_validate_and_init_never_carry_the_sentinel(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    logs: LogRecorder, command: str, flags: list[str]) -> None:
    scene = Scene(tmp_path)
    config = scene.config(make_table())
    if command == "validate":
        args = [*flags, "validate", str(config)]
    else:
        args = [*flags, "init", str(scene.input / "people.csv"), "--out", str(scene.runs / "draft.yaml")]
    code, out, err, caught = scene.invoke(args, capsys)
    assert code == 0, err
    assert_no_leak_in_files(scene.files(), number=True)
    assert_not_in_text(SENTINEL, out, err, *caught, *logs.texts())
    assert_no_sentinel_digits(out, err, *caught, *logs.texts())
    if command == "init":
        draft = (scene.runs / "draft.yaml").read_text(encoding="utf-8")
        for value in ("alpha", "gamma", "R00001"):
            assert value not in draft


def _bad_cell(column: str) -> pd.DataFrame:
    frame = make_table()
    frame.loc[200, column] = SENTINEL
    return frame


def _with_line(index: int, make_line: Any) -> bytes:
    lines = make_table().to_csv(index=False, lineterminator="\n").encode().splitlines(keepends=True)
    lines[index] = make_line(lines[index])
    return b"".join(lines)


STOPS: list[tuple[str, Any]] = [
    ("unparseable-integer", lambda: (_bad_cell("age"), None)),
    ("category-outside-public-list", lambda: (_bad_cell("colour"), None)),
    # Arrow's parse errors quote the whole row ("Expected 6 columns, got 7: ...").
    ("long-malformed-row", lambda: (None, _with_line(300, lambda line: line.rstrip(b"\n") + b"," + SENTINEL.encode()
                                                      + b"\n"))),
    ("short-malformed-row", lambda: (None, _with_line(300, lambda line: SENTINEL.encode() + b",x\n"))),
    ("bad-utf8-next-to-it", lambda: (None, _with_line(300, lambda line: line.replace(
        b",", b"," + SENTINEL.encode() + b"\xff", 1)))),
]


@pytest.mark.parametrize("flags", FLAG_SETS, ids=["plain", "debug", "log-json", "debug-log-json"])
@pytest.mark.parametrize("case", [s[1] for s in STOPS], ids=[s[0] for s in STOPS])
@pytest.mark.parametrize("command", ["run", "validate"])
def test_a_stop_never_quotes_the_sentinel(tmp_path: Path, capsys: pytest.CaptureFixture[str], logs: LogRecorder,
                                          case: Any, flags: list[str], command: str) -> None:
    scene = Scene(tmp_path)
    frame, data = case()
    config = scene.config(frame, data=data)
    planted = (scene.input / "people.csv").read_bytes()
    assert SENTINEL.encode() in planted
    args = [*flags, command, str(config)] + (["--out", str(scene.out)] if command == "run" else [])
    code, out, err, caught = scene.invoke(args, capsys)
    assert code == EXIT_BAD_INPUT, err
    if "--log-json" in flags:
        records = [json.loads(line) for line in err.strip().splitlines() if line.startswith("{")]
        assert records[-1]["level"] == "error" and records[-1]["exit_code"] == EXIT_BAD_INPUT
        if "--debug" not in flags:
            assert len(records) == len(err.strip().splitlines()), "a non-JSON line on stderr with --log-json"
    else:
        assert any(line.startswith("error: ") for line in err.splitlines())
    assert ("Traceback" in err) == ("--debug" in flags)
    assert_not_in_text(SENTINEL, out, err, *caught, *logs.texts())
    assert scene.files() == [] and list(scene.runs.iterdir()) == []
    assert_no_leak_in_files(Scene.ledger_files())


def test_the_planted_table_really_holds_the_sentinel(tmp_path: Path) -> None:
    """Guards the test itself: the searches above would pass vacuously if the plant failed."""
    scene = Scene(tmp_path)
    scene.config(make_table())
    blob = (scene.input / "people.csv").read_bytes()
    assert blob.count(SENTINEL.encode()) == 2 and b"987654.321" in blob


def test_arrow_quotes_the_row_so_the_loader_must_not_pass_its_message_on(tmp_path: Path) -> None:
    """Guards the malformed-row cases: they only mean something because Arrow's message has the row."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    path = tmp_path / "ragged.csv"
    path.write_bytes(_with_line(300, lambda line: line.rstrip(b"\n") + b"," + SENTINEL.encode() + b"\n"))
    with pytest.raises(pa.ArrowInvalid) as info:
        pacsv.read_csv(path)
    assert SENTINEL in str(info.value)
