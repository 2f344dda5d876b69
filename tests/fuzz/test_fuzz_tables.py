"""Fuzzed tables and configs through `synthgate validate` and `synthgate run` (issue 5, point 4).

Every generated case ends in exit 0/3 with a complete run directory, or exit 2 with one message
naming the file, column or key; never exit 1, never a traceback, never the planted sentinel in any
output, never a leftover folder. The default run draws a modest number of examples; the slow
variant (`pytest -m slow tests/fuzz`) draws many more.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fuzz_harness import check_run, check_validate, invoke
from fuzz_strategies import TablePlan, tables, write_case
from synthgate.pipeline.errors import EXIT_BAD_INPUT

# validate splits with seed 0 and run with --seed 3: on a tiny table one may find an empty side.
_SPLIT_DEPENDENT = re.compile(r"the holdout is empty|no rows to train on")
FLAGS = st.sampled_from([[], [], [], ["--log-json"], ["--debug"]])
DEFAULT_EXAMPLES = 100
SLOW_EXAMPLES = 2000



def check_case(plan: TablePlan, flags: list[str]) -> None:
    """Validate, then run, one generated case in a fresh folder; check both outcomes."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        case = write_case(Path(tmp), plan, flags=flags)
        validated = invoke(case, "validate")
        check_validate(case, validated)
        ran = invoke(case, "run")
        check_run(case, ran)
        event(f"validate exit {validated.code}, run exit {ran.code}")  # --hypothesis-show-statistics
        if validated.code == EXIT_BAD_INPUT and not _SPLIT_DEPENDENT.search(validated.err):
            assert ran.code == EXIT_BAD_INPUT, "validate refused the input but run went ahead"


_FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                 print_blob=True)


@settings(_FUZZ, max_examples=DEFAULT_EXAMPLES)
@given(plan=tables(), flags=FLAGS)
def test_fuzzed_table_and_config(plan: TablePlan, flags: list[str]) -> None:
    check_case(plan, flags)


@pytest.mark.slow
@settings(_FUZZ, max_examples=SLOW_EXAMPLES)
@given(plan=tables(max_columns=8), flags=FLAGS)
def test_fuzzed_table_and_config_many(plan: TablePlan, flags: list[str]) -> None:
    check_case(plan, flags)
