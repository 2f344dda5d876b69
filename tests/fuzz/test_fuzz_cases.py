"""Fixed cases beside the fuzzer: what it found (regressions), the edges it must always cover (zero
rows, one row, thousands of columns), and real subprocess runs showing no traceback reaches stderr.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fuzz_harness import SENTINEL, Case, check_run, check_validate, invoke, invoke_subprocess
from fuzz_strategies import ColumnPlan, TablePlan, write_case
from services.configs import GATE_OFF
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_RELEASED

N = 200



def _base(n: int = N) -> list[ColumnPlan]:
    return [ColumnPlan("age", "integer", {"type": "integer", "bounds": [0, 120]}, [str(18 + i % 70) for i in range(n)]),
            ColumnPlan("colour", "categorical", {"type": "categorical", "categories": "estimate"},
                       [SENTINEL if i == 7 else ("red", "green", "blue")[i % 3] for i in range(n)])]


def _case(tmp_path: Path, extra: list[ColumnPlan] | None = None, *, n: int = N, fmt: str = "csv",
          faults: list[tuple[str, int, int]] | None = None, model: str = "independent") -> Case:
    plan = TablePlan([*_base(n), *(extra or [])], n, fmt, faults=list(faults or []),
                     sections={"model": {"kind": model}, "gate": GATE_OFF})  # a run that finishes is released
    return write_case(tmp_path, plan)


def _stopped(case: Case, *phrases: str) -> str:
    """Validate and run both stop with exit 2 and the property holds; the message holds `phrases`."""
    validated = invoke(case, "validate")
    check_validate(case, validated)
    ran = invoke(case, "run")
    check_run(case, ran)
    assert validated.code == ran.code == EXIT_BAD_INPUT, ran.err
    for phrase in phrases:
        assert phrase in ran.err, f"{phrase!r} not in {ran.err!r}"
    return ran.err


# --- regressions: each of these spent budget and then crashed with exit 1, or broke the message ----


@pytest.mark.parametrize(("kind", "bounds", "phrase"), [
    ("datetime", ["0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"], "between 1677-09-22 and 2262-04-11"),
    ("integer", [0, 10**30], "-2^53..2^53"),
    ("integer", [-10**20, 10**20], "-2^53..2^53"),
    ("numeric", [-1e308, 1e308], "too far apart"),
], ids=["datetime-year-1-to-9999", "integer-1e30", "integer-pm-1e20", "numeric-width-overflows"])
def test_bounds_the_encoders_cannot_hold_are_a_config_error(tmp_path: Path, kind: str, bounds: list[object],
                                                            phrase: str) -> None:
    """Once OverflowError/ValueError (exit 1) while sampling, or a synthetic column of nulls, after the spend."""
    cells = ["2000-01-01" if kind == "datetime" else "5" for _ in range(N)]
    case = _case(tmp_path, [ColumnPlan("wide", kind, {"type": kind, "bounds": bounds}, cells)])
    _stopped(case, str(case.config), "columns.wide", phrase)
    assert not case.ledger.exists(), "a config error must stop the run before the ledger is opened"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_header_name_with_a_line_break_stays_on_one_line(tmp_path: Path, fmt: str) -> None:
    """A header column the config does not list is named in the error; a newline in its name once
    split the message over two lines."""
    plan = TablePlan(_base(), N, fmt, sections={"model": {"kind": "independent"}})
    write_case(tmp_path / "ok", plan)
    plan.columns[1].name = "col\nour\x1b[2J"
    case = write_case(tmp_path / "bad", plan)
    ok = yaml.safe_load((tmp_path / "ok" / "release.yaml").read_text(encoding="utf-8"))
    ok["source"] = yaml.safe_load(case.config.read_text(encoding="utf-8"))["source"]  # the bad table
    case.config.write_text(yaml.safe_dump(ok, sort_keys=False), encoding="utf-8")
    err = _stopped(case, "'col\\nour\\x1b[2J'")
    assert "\x1b" not in err


def test_config_column_name_with_a_control_character(tmp_path: Path) -> None:
    plan = TablePlan(_base(), N, "csv", sections={"model": {"kind": "independent"}})
    plan.columns[1].name = "col\rour"
    case = write_case(tmp_path, plan)
    _stopped(case, str(case.config), "columns.col\\rour", "control character")


@pytest.mark.parametrize("kind", ["numeric", "categorical"])
def test_parquet_binary_column_that_is_not_utf8(tmp_path: Path, kind: str) -> None:
    """Found by the slow fuzzer: a Parquet binary column holding invalid UTF-8 raised ArrowInvalid
    from the cast to text (exit 1). Now the file and column are named, exit 2."""
    spec = {"type": kind, "bounds": "estimate"} if kind == "numeric" else {"type": kind, "categories": "estimate"}
    cells = ["@@BADUTF8@@" if i == 3 else "1" for i in range(N)]
    case = _case(tmp_path, [ColumnPlan("blob", kind, spec, cells)], fmt="parquet")
    _stopped(case, str(case.inputs[0]), "column 'blob'", "binary", "UTF-8")


# --- edges the issue names: zero rows, one row, thousands of columns -----------------------------------


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
@pytest.mark.parametrize("n", [0, 1], ids=["zero-rows", "one-row"])
def test_zero_and_one_row(tmp_path: Path, fmt: str, n: int) -> None:
    """No rows, or one row that cannot be both trained on and held out: a clear stop, nothing written."""
    case = _case(tmp_path, n=n, fmt=fmt)
    _stopped(case, str(case.inputs[0]))


def test_two_rows_run_or_stop_cleanly(tmp_path: Path) -> None:
    case = _case(tmp_path, n=2, model="graphical")
    check_validate(case, invoke(case, "validate"))
    check_run(case, invoke(case, "run"))


def _wide(n: int, width: int = 2000) -> list[ColumnPlan]:
    return [ColumnPlan(f"c{j}", "integer", {"type": "integer", "bounds": [0, 9]},
                       [str((i + j) % 10) for i in range(n)]) for j in range(width)]


@pytest.mark.parametrize("fault", ["duplicate_name", "raw_bytes"])
def test_thousands_of_columns_bad_input_stops_clearly(tmp_path: Path, fault: str) -> None:
    """2,000 columns with a duplicated header name, or one non-UTF-8 cell: one clear line, in seconds."""
    wide = _wide(40)
    if fault == "raw_bytes":
        wide[3].cells[7] = "@@LATIN1@@"
    case = _case(tmp_path, wide, n=40, faults=[(fault, 5, 0)] if fault == "duplicate_name" else [])
    ran = invoke(case, "run")
    check_run(case, ran)
    assert ran.code == EXIT_BAD_INPUT and ("column twice: 'c4'" in ran.err or "column 'c3'" in ran.err), ran.err


@pytest.mark.slow
def test_thousands_of_columns_run(tmp_path: Path) -> None:
    """2,000 columns: a valid wide table runs to a release or a hold, and one ragged row is a clear stop.
    Took hours before build_suite stopped using GX's quadratic add_expectation; minutes now (GX
    validates each column separately)."""
    valid = _case(tmp_path / "valid", _wide(40), n=40)
    ran = invoke(valid, "run")
    check_run(valid, ran)
    assert ran.code == EXIT_RELEASED, ran.err[-500:]
    ragged = _case(tmp_path / "ragged", _wide(40), n=40, faults=[("ragged_long", 0, 20)])
    _stopped(ragged, str(ragged.inputs[0]), "different number of fields")


# --- the real entry point: no traceback on stderr -------------------------------------------------------


@pytest.mark.parametrize(("faults", "expect"), [
    ([], (EXIT_RELEASED,)),
    ([("ragged_short", 0, 30)], (EXIT_BAD_INPUT,)),
    ([("raw_bytes", 1, 12)], (EXIT_BAD_INPUT,)),
    ([("odd_bounds", 0, 0)], (EXIT_BAD_INPUT,)),
], ids=["valid", "ragged-row", "latin-1-cell", "datetime-bounds-year-1"])
def test_subprocess_stderr_has_no_traceback(tmp_path: Path, faults: list[tuple[str, int, int]],
                                            expect: tuple[int, ...]) -> None:
    base = _base()
    if faults and faults[0][0] == "raw_bytes":
        base[1].cells[12] = "@@LATIN1@@"
    if faults and faults[0][0] == "odd_bounds":
        base.append(ColumnPlan("seen", "datetime", {"type": "datetime", "bounds": ["0001-01-01T00:00:00Z",
                                                                                  "9999-12-31T00:00:00Z"]},
                               ["2000-01-01"] * N))
    plan = TablePlan(base, N, "csv", faults=[f for f in faults if f[0] == "ragged_short"],
                     sections={"model": {"kind": "independent"}, "gate": GATE_OFF})
    case = write_case(tmp_path, plan)
    ran = invoke_subprocess(case, "run")
    check_run(case, ran)
    assert ran.code in expect, ran.err[-1000:]
