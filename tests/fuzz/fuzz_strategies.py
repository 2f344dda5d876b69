"""Hypothesis strategies for tables and release configs, sound or broken in the ways real inputs are.

A `TablePlan` is columns (name, config spec, text cells) plus a list of named faults. `write_case`
turns it into real files: CSV (optionally gzipped) or Parquet, and a YAML config. Faults cover the
families of issue 5 point 4: wrong types, NaN/inf, empty strings, huge numbers, duplicate or empty
column names, BOMs, mixed encodings, ragged rows, zero or one row, and configs that do not match
their table. The sentinel string and number are each planted in at most one cell.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from hypothesis import strategies as st

from fuzz_harness import SENTINEL, SENTINEL_NUMBER_TEXT, Case

__all__ = ["ColumnPlan", "TablePlan", "tables", "write_case", "CELL_FAULTS", "BYTE_FAULTS", "CONFIG_FAULTS"]

KINDS = ("categorical", "numeric", "integer", "datetime", "boolean", "identifier")
POOL = ("red", "green", "blue", "NA", "é", "a,b", 'say "hi"', " pad ")
# Placeholders swapped for raw bytes after the text is encoded (bytes no text encoding produces).
_RAW = {"@@LATIN1@@": b"caf\xe9 " + SENTINEL.encode(), "@@CP1252@@": b"\x93quoted\x94", "@@NUL@@": b"a\x00b",
        "@@BADUTF8@@": b"\xc3\x28\xa0\xa1"}

CELL_FAULTS = ("wrong_type", "nan_inf", "empty_string", "huge_number", "bom_in_cell", "raw_bytes", "newline_in_cell")
BYTE_FAULTS = ("bom_start", "utf16", "latin1_file", "ragged_long", "ragged_short", "unclosed_quote", "crlf",
               "blank_lines", "duplicate_name", "empty_name", "space_name", "truncate_gzip")
HEADER_FAULTS = ("duplicate_name", "empty_name", "space_name")
CONFIG_FAULTS = ("retype_column", "odd_bounds", "odd_categories", "drop_config_column", "extra_config_column",
                 "odd_model", "odd_privacy", "odd_output", "odd_holdout", "target")


@dataclass
class ColumnPlan:
    name: str
    kind: str
    spec: dict[str, Any]
    cells: list[str | None]


@dataclass
class TablePlan:
    columns: list[ColumnPlan]
    n_rows: int
    fmt: str  # csv, csv.gz, parquet
    faults: list[tuple[str, int, int]] = field(default_factory=list)  # (fault, column index, row index)
    sections: dict[str, Any] = field(default_factory=dict)  # extra config sections (model, privacy, ...)
    parquet_typed: bool = False


_PLAIN_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
NAMES = st.one_of(
    _PLAIN_NAMES, _PLAIN_NAMES, _PLAIN_NAMES,
    st.text(min_size=1, max_size=6),
    st.sampled_from(["null", "true", "1", "1.5", "~", "yes", "a b", " lead", "trail ", "é", "名前", "a,b", 'q"t',
                     "NA", "__other__", "#", "-", "[x]", "{y}", "a: b"]),
)


def _valid_cell(kind: str, spec: dict[str, Any], draw: Any, row: int) -> str | None:
    if spec.get("nulls") and draw(st.integers(0, 9)) == 0:
        return None
    if kind == "categorical":
        categories = spec["categories"]
        return draw(st.sampled_from(POOL[:3] if categories == "estimate" else categories))
    if kind == "numeric":
        return repr(draw(st.floats(0, 100, allow_nan=False)))
    if kind == "integer":
        return str(draw(st.integers(0, 120)))
    if kind == "datetime":
        return f"2020-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}" + draw(
            st.sampled_from(["", "T12:30:00", "T00:00:00Z", " 08:15:00+02:00"]))
    if kind == "boolean":
        return draw(st.sampled_from(["true", "false", "True", "0", "1", "yes", "n"]))
    return f"id-{row}"


def _spec(kind: str, draw: Any) -> dict[str, Any]:
    nulls = draw(st.booleans())
    if kind == "identifier":
        return {"role": "identifier"}
    if kind == "categorical":
        public = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True))
        return {"type": kind, "categories": draw(st.sampled_from(["estimate", public])), "nulls": nulls}
    if kind == "boolean":
        return {"type": kind, "nulls": nulls}
    if kind == "datetime":
        bounds: Any = ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]
    else:
        bounds = [0, 120] if kind == "integer" else [0.0, 100.0]
    return {"type": kind, "bounds": draw(st.sampled_from(["estimate", bounds])), "nulls": nulls}


@st.composite
def tables(draw: Any, *, max_columns: int = 5, faults: bool = True) -> TablePlan:
    """A table and its config, with 0-3 faults drawn from every family."""
    n_rows = draw(st.sampled_from([0, 1, 2, 3, 5, 12, 60, 250]))
    names = draw(st.lists(NAMES, min_size=1, max_size=max_columns, unique=True))
    columns = []
    for name in names:
        kind = draw(st.sampled_from(KINDS))
        spec = _spec(kind, draw)
        columns.append(ColumnPlan(name, kind, spec, [_valid_cell(kind, spec, draw, r) for r in range(n_rows)]))
    fmt = draw(st.sampled_from(["csv", "csv", "csv.gz", "parquet"]))
    plan = TablePlan(columns, n_rows, fmt, parquet_typed=draw(st.booleans()))
    plan.sections = {"model": {"kind": draw(st.sampled_from(["independent", "graphical", "copula", "schema"]))},
                     "privacy": {"epsilon": draw(st.sampled_from([0.3, 1.0, 3.0])), "delta": 1e-6}}
    if plan.sections["model"]["kind"] == "schema":
        plan.sections["output"] = {"rows": draw(st.sampled_from([1, 50, 300]))}
    if faults:
        families = CELL_FAULTS + CONFIG_FAULTS + (BYTE_FAULTS if fmt != "parquet" else HEADER_FAULTS)
        n_faults = draw(st.sampled_from([0, 0, 1, 1, 2, 3]))
        for fault in draw(st.lists(st.sampled_from(families), min_size=n_faults, max_size=n_faults)):
            plan.faults.append((fault, draw(st.integers(0, len(columns) - 1)), draw(st.integers(0, max(n_rows - 1, 0)))))
    _plant_sentinels(plan, draw)
    for fault, col, row in plan.faults:
        if fault in CELL_FAULTS:
            _cell_fault(plan, fault, col, row, draw)
        elif fault in CONFIG_FAULTS:
            _config_fault(plan, fault, col, draw)
    return plan


def _plant_sentinels(plan: TablePlan, draw: Any) -> None:
    if plan.n_rows == 0:
        return
    # Mostly where a valid run still happens (a dropped identifier, a DP-estimated category list),
    # sometimes anywhere (then it is a bad cell, and the error must not quote it).
    hidden = [c for c in plan.columns if c.kind == "identifier" or c.spec.get("categories") == "estimate"]
    column = draw(st.sampled_from(hidden)) if hidden and draw(st.integers(0, 3)) else \
        plan.columns[draw(st.integers(0, len(plan.columns) - 1))]
    column.cells[draw(st.integers(0, plan.n_rows - 1))] = SENTINEL
    numeric = [c for c in plan.columns if c.kind == "numeric" and c.spec.get("bounds") == "estimate"
               and c is not column]
    if numeric and draw(st.booleans()):
        draw(st.sampled_from(numeric)).cells[draw(st.integers(0, plan.n_rows - 1))] = SENTINEL_NUMBER_TEXT


def _cell_fault(plan: TablePlan, fault: str, col: int, row: int, draw: Any) -> None:
    if plan.n_rows == 0:
        return
    cells = plan.columns[col].cells
    if cells[row] in (SENTINEL, SENTINEL_NUMBER_TEXT):
        return  # keep each sentinel to one cell
    value: str | None
    if fault == "wrong_type":
        value = draw(st.text(max_size=6) | st.sampled_from(["forty", "1.5", "1,5", "0x10", "2020-02-30", "maybe"]))
    elif fault == "nan_inf":
        value = draw(st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", "1e999", "NAN"]))
    elif fault == "empty_string":
        value = draw(st.sampled_from(["", " ", "\t", '""']))
    elif fault == "huge_number":
        value = draw(st.sampled_from(["1e308", "-1.7976931348623157e308", "9" * 400, "18446744073709551616",
                                      "-9223372036854775809", "1e-320", "123456789012345678901234567890"]))
    elif fault == "bom_in_cell":
        value = "\ufeff" + (cells[row] or "")
    elif fault == "raw_bytes":
        value = draw(st.sampled_from(sorted(_RAW)))
    else:  # newline_in_cell
        value = (cells[row] or "") + draw(st.sampled_from(["\n", "\r\n", "\r"])) + "x"
    cells[row] = value


def _config_fault(plan: TablePlan, fault: str, col: int, draw: Any) -> None:
    column = plan.columns[col]
    if fault == "retype_column":
        kind = draw(st.sampled_from(KINDS))
        column.kind, column.spec = kind, _spec(kind, draw)
    elif fault == "odd_bounds":
        column.spec["bounds"] = draw(st.sampled_from([
            [-1e308, 1e308], [0, 1e300], [1e15, 1e15 + 1], [-1, 0], [0, 1e-300], [5e-324, 1e-323],
            ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"], ["1677-09-21", "2262-04-11"], [0, 10**30]]))
    elif fault == "odd_categories":
        column.spec["categories"] = draw(st.sampled_from([
            [""], ["", "red"], [" "], ["__other__"], [f"c{i}" for i in range(3000)], ["1", "1.0"], ["True", "true"]]))
    elif fault == "drop_config_column":
        column.spec = {"drop": True}
    elif fault == "extra_config_column":
        plan.sections.setdefault("extra_columns", {})["extra_" + column.name] = {"type": "integer",
                                                                                 "bounds": [0, 1]}
    elif fault == "odd_model":
        plan.sections["model"] = draw(st.sampled_from([
            {"kind": "graphical", "bins": 2, "groups": 2}, {"kind": "copula", "bins": 4096},
            {"kind": "graphical", "groups": 256}, {"kind": "independent", "bins": 2}]))
    elif fault == "odd_privacy":
        plan.sections["privacy"] = draw(st.sampled_from([
            {"epsilon": 1e-3, "delta": 1e-6}, {"epsilon": 1.0, "delta": 0.0}, {"epsilon": 1.0, "delta": 1e-3},
            {"epsilon": 1.0, "delta": 1e-6, "domain_share": 0.999}, {"epsilon": 1.0, "delta": 1e-6, "domain_share": 1e-9}]))
    elif fault == "odd_output":
        plan.sections["output"] = draw(st.sampled_from([{"rows": 1}, {"rows": 2}, {"rows": 1000, "chunk_rows": 1000},
                                                         {"rows": "estimate", "csv": True}]))
    elif fault == "odd_holdout":
        plan.sections["holdout"] = {"fraction": draw(st.sampled_from([1e-9, 0.01, 0.5]))}
    else:  # target
        plan.sections["utility"] = {"target": column.name, "sample_rows": 100}


# --- writing the files -------------------------------------------------------------------------------


def write_case(root: Path, plan: TablePlan, *, flags: list[str] | None = None) -> Case:
    """The plan as files under `root` (a fresh folder per example)."""
    (root / "input").mkdir(parents=True)
    (root / "runs").mkdir()
    source = root / "input" / f"table.{plan.fmt}"
    if plan.fmt == "parquet":
        _write_parquet(source, plan)
    else:
        data = _csv_bytes(plan)
        source.write_bytes(gzip.compress(data, mtime=0) if plan.fmt == "csv.gz" else data)
        if plan.fmt == "csv.gz" and any(f == "truncate_gzip" for f, _, _ in plan.faults):
            source.write_bytes(source.read_bytes()[: max(1, source.stat().st_size // 2)])
    config = root / "release.yaml"
    config.write_text(yaml.safe_dump(_config(plan, source), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return Case(root, config, [source], flags=list(flags or []))


def _config(plan: TablePlan, source: Path) -> dict[str, Any]:
    columns = {c.name: dict(c.spec) for c in plan.columns if not c.spec.get("drop")}
    columns.update(plan.sections.get("extra_columns", {}))
    raw: dict[str, Any] = {"dataset": "fuzz", "source": {"path": str(source)}, "columns": columns}
    for key, value in plan.sections.items():
        if key != "extra_columns":
            raw[key] = dict(value)
    raw["privacy"] = {"epsilon": 1.0, "delta": 1e-6, **raw.get("privacy", {}), "lifetime_epsilon": 1000.0, "lifetime_delta": 1e-3}
    raw.setdefault("utility", {"sample_rows": 100})
    return raw


def _header(plan: TablePlan) -> list[str]:
    header = [c.name for c in plan.columns]
    for fault, col, _ in plan.faults:
        if fault == "duplicate_name" and len(header) > 1:
            header[col] = header[(col + 1) % len(header)]
        elif fault == "empty_name":
            header[col] = ""
        elif fault == "space_name":
            header[col] = " " + header[col]
    return header


def _csv_bytes(plan: TablePlan) -> bytes:
    faults = {f for f, _, _ in plan.faults}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if "crlf" in faults else "\n")
    writer.writerow(_header(plan))
    lines = [buffer.getvalue()]
    for r in range(plan.n_rows):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(["" if c.cells[r] is None else c.cells[r] for c in plan.columns])
        lines.append(buffer.getvalue())
    for fault, _, row in plan.faults:
        line = 1 + row if plan.n_rows else 0
        if fault == "ragged_long":
            lines[line] = lines[line].rstrip("\r\n") + ",surplus\n"
        elif fault == "ragged_short":
            lines[line] = lines[line].rstrip("\r\n").rpartition(",")[0] + "\n"
        elif fault == "unclosed_quote":
            lines[line] = '"' + lines[line]
        elif fault == "blank_lines":
            lines.insert(line + 1, "\n\n")
    text = "".join(lines)
    if "bom_start" in faults:
        text = "\ufeff" + text
    if "utf16" in faults:
        data = text.encode("utf-16")
    elif "latin1_file" in faults:
        data = text.encode("latin-1", errors="replace")
    else:
        data = text.encode("utf-8")
    for placeholder, raw in _RAW.items():
        data = data.replace(placeholder.encode(), raw)
    return data


def _typed(column: ColumnPlan) -> pa.Array:
    """A typed Arrow column when every cell converts, else text (Parquet carries its own types)."""
    cells = column.cells
    try:
        if column.kind == "numeric":
            return pa.array([None if c is None else float(c) for c in cells], pa.float64())
        if column.kind == "integer":
            return pa.array([None if c is None else int(c) for c in cells], pa.int64())
        if column.kind == "boolean":
            return pa.array([None if c is None else c.lower() in ("true", "1", "yes") for c in cells], pa.bool_())
    except (ValueError, OverflowError, pa.ArrowException):
        pass
    return pa.array(cells, pa.string())


def _write_parquet(path: Path, plan: TablePlan) -> None:
    arrays = [_typed(c) if plan.parquet_typed else pa.array(c.cells, pa.string()) for c in plan.columns]
    for placeholder, raw in _RAW.items():  # raw bytes go in as an invalid-UTF-8 binary column
        for i, column in enumerate(plan.columns):
            if placeholder in column.cells:
                arrays[i] = pa.array([raw if c == placeholder else None if c is None else c.encode()
                                      for c in column.cells], pa.binary())
    pq.write_table(pa.Table.from_arrays(arrays, names=_header(plan)), path)
