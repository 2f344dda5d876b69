"""Bad input tables through `synthgate run`: a clear stop, or a run, never a half-written output.

A broken table exits 2 with one line on stderr that names the file (and the column, where there is
one), no traceback, and leaves neither the run directory nor a hidden staging folder behind. A table
that is odd but valid (a BOM, one value in a column, an all-null nullable column) runs.
"""

from __future__ import annotations

import copy
import gzip
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

import synthgate.pipeline.load as load_module
from services.configs import GATE_OFF
from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_RELEASED

N_ROWS = 600
COLUMNS: dict[str, dict[str, Any]] = {
    "age": {"type": "integer", "bounds": [0, 120]},
    "score": {"type": "numeric", "bounds": [0, 100]},
    "colour": {"type": "categorical", "categories": ["red", "green", "blue"]},
    "city": {"type": "categorical", "categories": "estimate", "nulls": True},
    "flag": {"type": "boolean"},
}


def make_table(n: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "score": rng.normal(50, 10, n).clip(0, 100).round(3),
        "colour": rng.choice(["red", "green", "blue"], n),
        "city": rng.choice(["alpha", "beta", "gamma"], n),
        "flag": rng.choice(["true", "false"], n),
    })


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def with_cell(frame: pd.DataFrame, row: int, column: str, value: Any) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column].astype(object)
    out.loc[row, column] = value
    return out


class Workspace:
    """tmp_path/input/<table> + tmp_path/release.yaml; runs go to tmp_path/runs/run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "input").mkdir()
        self.runs = root / "runs"
        self.runs.mkdir()
        self.out = self.runs / "run"

    def config(self, source: Path, columns: dict[str, dict[str, Any]] | None = None, **sections: Any) -> Path:
        raw: dict[str, Any] = {
            "dataset": "toy",
            "source": {"path": str(source)},
            "columns": copy.deepcopy(COLUMNS if columns is None else columns),
            "privacy": {"epsilon": 1.0, "delta": 1e-6, "lifetime_epsilon": 100.0, "lifetime_delta": 1e-4},
            "utility": {"sample_rows": 500},
            "gate": GATE_OFF,  # every DP gate check off: a table that runs is released, exit 0
        }
        raw.update(sections)
        path = self.root / "release.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        return path

    def table(self, data: bytes, name: str = "t.csv") -> Path:
        path = self.root / "input" / name
        path.write_bytes(data)
        return path

    def run(self, config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
        code = main(["run", str(config), "--out", str(self.out), "--seed", "7", *extra])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    def assert_nothing_written(self) -> None:
        assert not self.out.exists() and not self.out.is_symlink()
        assert list(self.runs.iterdir()) == [], "a staging folder was left behind"


def assert_one_clear_line(code: int, err: str, *phrases: str) -> None:
    assert code == EXIT_BAD_INPUT
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in lines[0], f"{phrase!r} not in {lines[0]!r}"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def test_a_good_table_runs(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """The baseline every case below departs from."""
    code, out, err = ws.run(ws.config(ws.table(csv_bytes(make_table()))), capsys)
    assert code == EXIT_RELEASED, err
    assert (ws.out / "internal" / "report.json").is_file()


# --- broken tables: exit 2, one line, nothing written ------------------------------------------------


def test_missing_file(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.root / "input" / "absent.csv"
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "not found")
    ws.assert_nothing_written()


def test_empty_file(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(b"")
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "empty")
    ws.assert_nothing_written()


def test_blank_line_only(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(b"\n")
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "no header")
    ws.assert_nothing_written()


def test_header_only(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(b"age,score,colour,city,flag\n")
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "no rows")
    ws.assert_nothing_written()


def test_source_is_a_directory(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.root / "input" / "folder.csv"
    source.mkdir()
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "not a regular file")
    ws.assert_nothing_written()


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("age", "forty", "do not parse"),                       # text in an integer column
    ("age", "40.5", "do not parse"),                        # a fraction in an integer column
    ("score", "inf", "do not parse"),                       # not finite
    ("flag", "maybe", "do not parse"),                      # not a boolean
    ("age", 150, "expect_column_values_to_be_between"),     # outside public bounds
    ("colour", "purple", "expect_column_values_to_be_in_set"),  # not in the public list
    ("score", None, "expect_column_values_to_not_be_null"),     # null in a nulls: false column
], ids=["text-in-integer", "fraction-in-integer", "inf-in-numeric", "bad-boolean", "out-of-bounds",
        "category-not-listed", "null-in-not-null"])
def test_bad_cell_names_column_not_value(ws: Workspace, capsys: pytest.CaptureFixture[str], column: str, value: Any,
                                         rule: str) -> None:
    source = ws.table(csv_bytes(with_cell(make_table(), 123, column, value)))
    code, _, err = ws.run(ws.config(source), capsys)
    assert code == EXIT_BAD_INPUT
    first = err.strip().splitlines()[0]
    assert first.startswith("error: ") and str(source) in first
    assert f"column '{column}'" in err and rule in err
    assert "Traceback" not in err
    if value is not None:
        assert str(value) not in err.replace(str(source), "")
    ws.assert_nothing_written()


@pytest.mark.parametrize(("column", "value", "rule"), [
    ("age", 150, "expect_column_values_to_be_between"),
    ("colour", "purple", "expect_column_values_to_be_in_set"),
    ("score", None, "expect_column_values_to_not_be_null"),
], ids=["out-of-bounds", "category-not-listed", "null-in-not-null"])
def test_one_contract_failure_is_one_line(ws: Workspace, capsys: pytest.CaptureFixture[str], column: str, value: Any,
                                          rule: str) -> None:
    source = ws.table(csv_bytes(with_cell(make_table(), 5, column, value)))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), f"column '{column}'", rule, "1 row")


def test_unparseable_cell_is_reported_once(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(csv_bytes(with_cell(make_table(), 5, "age", "forty")))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "column 'age'", "do not parse")


def test_every_bad_column_is_reported_in_one_pass(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    frame = with_cell(with_cell(with_cell(make_table(), 3, "age", 150), 4, "colour", "purple"), 5, "score", None)
    source = ws.table(csv_bytes(frame))
    code, _, err = ws.run(ws.config(source), capsys)
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: ") and "3 failed expectation(s)" in err
    for column in ("age", "colour", "score"):
        assert f"column '{column}'" in err
    ws.assert_nothing_written()


def test_all_null_column_that_may_not_be_null(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_table()
    frame["score"] = None
    source = ws.table(csv_bytes(frame))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "column 'score'", "not_be_null", f"{N_ROWS} row")
    ws.assert_nothing_written()


@pytest.mark.parametrize("where", [10, N_ROWS * 8], ids=["first-block", "past-the-first-block"])
@pytest.mark.parametrize("extra", [",surplus", ""], ids=["long-row", "short-row"])
def test_ragged_row(ws: Workspace, capsys: pytest.CaptureFixture[str], where: int, extra: str) -> None:
    """The bad row is in the block Arrow reads for the header, or far past it (the streaming read)."""
    lines = csv_bytes(make_table(N_ROWS * 10)).decode().splitlines(keepends=True)
    lines[where] = (lines[where].rstrip("\n") + extra + "\n") if extra else "1,2\n"
    source = ws.table("".join(lines).encode())
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "different number of fields")
    ws.assert_nothing_written()


@pytest.mark.parametrize("column", ["colour", "city", "age"])
def test_non_utf8_bytes(ws: Workspace, capsys: pytest.CaptureFixture[str], column: str) -> None:
    frame = with_cell(make_table(), 77, column, "caf\xe9")
    source = ws.table(frame.to_csv(index=False, lineterminator="\n").encode("latin-1"))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "UTF-8", f"column '{column}'")
    ws.assert_nothing_written()


def test_non_utf8_header(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(csv_bytes(make_table()).replace(b"age", b"\xe2ge", 1))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "UTF-8")
    ws.assert_nothing_written()


def test_duplicate_column_names(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    text = csv_bytes(make_table()).decode().splitlines(keepends=True)
    text = [text[0].rstrip("\n") + ",age\n"] + [line.rstrip("\n") + ",30\n" for line in text[1:]]
    source = ws.table("".join(text).encode())
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "column twice: 'age'")
    ws.assert_nothing_written()


def test_column_in_input_but_not_in_config(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(csv_bytes(make_table().assign(income=1000)))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "not in the config", "'income'", "role: identifier")
    ws.assert_nothing_written()


def test_header_name_with_a_stray_space_is_visible(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(csv_bytes(make_table().rename(columns={"score": "score "})))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "not in the input: 'score'", "not in the config", "'score '")
    ws.assert_nothing_written()


def test_column_in_config_but_not_in_input(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(csv_bytes(make_table().drop(columns=["flag"])))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "not in the input", "flag")
    ws.assert_nothing_written()


def test_single_row(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """One row cannot be both a training row and an unseen holdout row, and the risk checks need the
    holdout as their baseline: a clear exit 2 (whichever side the row falls on) is the right answer.
    A release learned from one person at any useful epsilon would describe that person."""
    source = ws.table(csv_bytes(make_table(1)))
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source))
    assert "holdout" in err or "no rows to train on" in err
    ws.assert_nothing_written()


def test_corrupt_parquet(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(b"PAR1 this is not really parquet", name="t.parquet")
    code, _, err = ws.run(ws.config(source), capsys)
    assert_one_clear_line(code, err, str(source), "Parquet")
    ws.assert_nothing_written()


# --- odd but valid tables: they run ---------------------------------------------------------------


def _assert_ran(ws: Workspace, code: int, err: str) -> pd.DataFrame:
    assert code == EXIT_RELEASED, err
    return pq.read_table(ws.out / "release" / "synthetic.parquet").to_pandas()


def test_bom_at_start_is_not_part_of_the_first_name(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    source = ws.table(b"\xef\xbb\xbf" + csv_bytes(make_table()))
    code, _, err = ws.run(ws.config(source), capsys)
    synthetic = _assert_ran(ws, code, err)
    assert list(synthetic.columns) == list(COLUMNS)


def test_windows_line_endings_and_quoted_commas(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_table()
    frame["city"] = frame["city"].map({"alpha": "alpha, north", "beta": "beta", "gamma": 'gamma "g"'})
    source = ws.table(frame.to_csv(index=False, lineterminator="\r\n").encode())
    code, _, err = ws.run(ws.config(source), capsys)
    _assert_ran(ws, code, err)


def test_column_with_one_value(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """A constant column is valid: it is synthesised like any other (and stays inside its domain)."""
    frame = make_table().assign(colour="red", score=42.0, city="alpha")
    columns = copy.deepcopy(COLUMNS)
    columns["score"]["bounds"] = "estimate"
    code, _, err = ws.run(ws.config(ws.table(csv_bytes(frame)), columns), capsys)
    synthetic = _assert_ran(ws, code, err)
    assert set(synthetic["colour"].dropna()) <= {"red", "green", "blue"}


def test_constant_target_column_runs(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_table().assign(colour="red")
    code, _, err = ws.run(ws.config(ws.table(csv_bytes(frame)), utility={"target": "colour", "sample_rows": 500}),
                          capsys)
    _assert_ran(ws, code, err)


def test_a_listed_category_spelled_like_a_null_token(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """'NA' (North America) is a value when the public list names it; elsewhere it still means null."""
    rng = np.random.default_rng(5)
    frame = make_table().assign(continent=rng.choice(["NA", "EU", "AS"], N_ROWS))
    frame["score"] = frame["score"].astype(object)
    frame.loc[:9, "score"] = "NA"
    columns = copy.deepcopy(COLUMNS)
    columns["continent"] = {"type": "categorical", "categories": ["NA", "EU", "AS"]}
    columns["score"]["nulls"] = True
    config = ws.config(ws.table(csv_bytes(frame)), columns)
    assert main(["validate", str(config)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    code, _, err = ws.run(config, capsys)
    synthetic = _assert_ran(ws, code, err)
    assert set(synthetic["continent"].dropna()) <= {"NA", "EU", "AS"}
    assert synthetic["continent"].notna().all()

    columns["score"]["nulls"] = False  # the same 'NA' cells in a numeric column are nulls
    config = ws.config(ws.table(csv_bytes(frame)), columns)
    assert main(["validate", str(config)]) == EXIT_BAD_INPUT
    assert "column 'score': expect_column_values_to_not_be_null failed for 10 row(s)" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["public-bounds", "estimated-bounds", "estimated-categories"])
def test_all_null_column_that_may_be_null(ws: Workspace, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    frame = make_table()
    columns = copy.deepcopy(COLUMNS)
    if kind == "estimated-categories":
        frame["city"] = None
    else:
        frame["score"] = None
        columns["score"] = {"type": "numeric", "bounds": [0, 100] if kind == "public-bounds" else "estimate",
                            "nulls": True}
    code, _, err = ws.run(ws.config(ws.table(csv_bytes(frame)), columns), capsys)
    synthetic = _assert_ran(ws, code, err)
    assert list(synthetic.columns) == list(COLUMNS)


def test_parquet_and_gzip_sources(ws: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = ws.table(b"", name="t.parquet")
    make_table().assign(flag=lambda f: f["flag"] == "true").to_parquet(source)
    code, _, err = ws.run(ws.config(source), capsys)
    _assert_ran(ws, code, err)

    (tmp_path / "gz").mkdir()
    other = Workspace(tmp_path / "gz")
    gz = other.table(gzip.compress(csv_bytes(make_table())), name="t.csv.gz")
    code, _, err = other.run(other.config(gz), capsys)
    _assert_ran(other, code, err)


# --- the output location ---------------------------------------------------------------------------


@pytest.fixture
def reads_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any read of the input table fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the input was read before --out was checked")

    # Import the stage before patching load.py: importing it while load.iter_batches is patched would
    # bind the stand-in into it, and monkeypatch would then "restore" the stand-in after the test.
    # validate.py is the one stage that reads the source (the engine's pass; encoding reads no source).
    import synthgate.pipeline.validate as validate_module

    for name in ("read_header", "iter_batches", "iter_raw"):
        monkeypatch.setattr(load_module, name, refuse)
    monkeypatch.setattr(validate_module, "iter_batches", refuse)


def test_out_not_empty_exits_before_reading_anything(ws: Workspace, capsys: pytest.CaptureFixture[str],
                                                     reads_forbidden: None) -> None:
    ws.out.mkdir()
    (ws.out / "keep.txt").write_text("earlier work")
    config = ws.config(ws.table(csv_bytes(make_table())))
    code, _, err = ws.run(config, capsys)
    assert_one_clear_line(code, err, str(ws.out), "not empty")
    assert sorted(p.name for p in ws.out.iterdir()) == ["keep.txt"]
    assert [p.name for p in ws.runs.iterdir()] == ["run"]


def test_out_is_a_file(ws: Workspace, capsys: pytest.CaptureFixture[str], reads_forbidden: None) -> None:
    ws.out.write_text("not a folder")
    code, _, err = ws.run(ws.config(ws.table(csv_bytes(make_table()))), capsys)
    assert_one_clear_line(code, err, str(ws.out), "not a directory")


def test_out_parent_is_a_file(ws: Workspace, capsys: pytest.CaptureFixture[str], reads_forbidden: None) -> None:
    config = ws.config(ws.table(csv_bytes(make_table())))
    (ws.root / "plain").write_text("not a folder", encoding="utf-8")
    out = ws.root / "plain" / "run"
    code = main(["run", str(config), "--out", str(out)])
    err = capsys.readouterr().err
    assert_one_clear_line(code, err, "is not a folder")
    assert (ws.root / "plain").read_text(encoding="utf-8") == "not a folder"


def test_out_parents_are_created(ws: Workspace) -> None:
    """`--out runs/2026-11/batch` on a fresh checkout: missing parent folders are made."""
    config = ws.config(ws.table(csv_bytes(make_table())))
    out = ws.root / "runs" / "2026-11" / "batch"
    assert main(["run", str(config), "--out", str(out)]) == EXIT_RELEASED
    assert (out / "internal" / "report.json").is_file()


@pytest.mark.parametrize("target", ["empty-dir", "full-dir", "dangling"])
def test_out_through_a_symlink(ws: Workspace, capsys: pytest.CaptureFixture[str], reads_forbidden: None,
                               target: str) -> None:
    """--out that is a symbolic link (to an empty folder, a full one, or nothing) is refused: the run
    directory would land wherever the link points, which the steward did not name."""
    elsewhere = ws.root / "elsewhere"
    if target != "dangling":
        elsewhere.mkdir()
        if target == "full-dir":
            (elsewhere / "keep.txt").write_text("x")
    os.symlink(elsewhere, ws.out)
    code, _, err = ws.run(ws.config(ws.table(csv_bytes(make_table()))), capsys)
    assert_one_clear_line(code, err, str(ws.out), "symbolic link")
    assert ws.out.is_symlink()
    assert not elsewhere.exists() or [p.name for p in elsewhere.iterdir()] == (["keep.txt"] if target == "full-dir"
                                                                                else [])


def test_out_inside_a_symlinked_folder_is_allowed(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    """Only --out itself may not be a link. A linked parent (a mounted data disk, macOS's /tmp) is a
    normal setup, and the staging folder sits beside --out, so the final rename stays atomic."""
    real = ws.root / "disk"
    real.mkdir()
    os.symlink(real, ws.root / "linked")
    out = ws.root / "linked" / "run"
    code = main(["run", str(ws.config(ws.table(csv_bytes(make_table())))), "--out", str(out)])
    assert code == EXIT_RELEASED, capsys.readouterr().err
    assert [p.name for p in real.iterdir()] == ["run"]


def test_bad_cell_in_holdout_file_names_the_holdout_file(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_table()
    train = ws.table(csv_bytes(frame.iloc[:480]), name="train.csv")
    holdout = ws.table(csv_bytes(with_cell(frame.iloc[480:].reset_index(drop=True), 3, "age", 150)), name="hold.csv")
    code, _, err = ws.run(ws.config(train, holdout={"path": str(holdout)}), capsys)
    assert_one_clear_line(code, err, str(holdout), "column 'age'")


def test_holdout_file(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    frame = make_table()
    train = ws.table(csv_bytes(frame.iloc[:480]), name="train.csv")
    holdout = ws.table(csv_bytes(frame.iloc[480:]), name="hold.csv")
    config = ws.config(train, holdout={"path": "input/hold.csv"})  # relative to the config file
    assert main(["validate", str(config)]) == 0
    assert "480 training, 120 holdout" in capsys.readouterr().out
    code, _, err = ws.run(config, capsys)
    _assert_ran(ws, code, err)
    holdout.write_bytes(csv_bytes(frame.iloc[480:].assign(extra=1)))
    shutil.rmtree(ws.out)
    code, _, err = ws.run(config, capsys)
    assert_one_clear_line(code, err, str(holdout), "'extra'")


def test_out_may_be_an_existing_empty_directory(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws.out.mkdir()
    code, _, err = ws.run(ws.config(ws.table(csv_bytes(make_table()))), capsys)
    _assert_ran(ws, code, err)
    assert [p.name for p in ws.runs.iterdir()] == ["run"]
