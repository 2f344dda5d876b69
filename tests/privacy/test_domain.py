"""Domain: sizes plus public facts about each column's codes (ordered, null code), checked when built."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgate.privacy.domain import Domain, DomainError


def test_facts_default_to_unordered_and_no_null_code() -> None:
    domain = Domain(("a", "b"), (3, 4))
    assert domain.ordered == (False, False) and domain.null_codes == (None, None)
    assert not domain.is_ordered("a") and domain.null_code("b") is None


def test_facts_are_per_column_and_follow_a_projection() -> None:
    domain = Domain(("age", "sex", "income"), (10, 3, 20), ordered=(True, False, True), null_codes=(None, 2, 19))
    assert domain.is_ordered("age") and not domain.is_ordered("sex") and domain.null_code("sex") == 2
    projected = domain.project(["income", "sex"])
    assert projected == Domain(("income", "sex"), (20, 3), ordered=(True, False), null_codes=(19, 2))
    assert Domain(("a",), (2,)) == Domain(("a",), (2,), ordered=(False,), null_codes=(None,))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ordered": (True,)}, "one entry per column"),
    ({"null_codes": (None, None, None)}, "one entry per column"),
    ({"null_codes": (3, None)}, "column 'a': null code 3 lies outside its codes"),
    ({"null_codes": (None, -1)}, "column 'b': null code -1"),
    ({"point_codes": (None,)}, "one entry per column"),
    ({"point_codes": (None, 4)}, "column 'b': point code 4 lies outside its codes"),
    ({"round_codes": ((),)}, "one entry per column"),
    ({"round_codes": ((), (1, 4))}, "column 'b': a round code lies outside its codes"),
])
def test_inconsistent_facts_are_refused(kwargs: dict[str, tuple[object, ...]], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        Domain(("a", "b"), (3, 4), **kwargs)  # type: ignore[arg-type]


def test_unknown_column_is_refused() -> None:
    with pytest.raises(DomainError, match="unknown column 'z'"):
        Domain(("a",), (2,)).is_ordered("z")


def test_point_codes_come_from_the_zero_code_and_survive_projection() -> None:
    from synthgate.pipeline.encode import CategoricalCodec, NumericCodec, TableCodec

    domain = TableCodec([NumericCodec("income", (0.0, 1000.0), bins=8, integer=False, nulls=True, zero=True),
                         CategoricalCodec("c", ("x", "y"), other=False, nulls=False),
                         NumericCodec("age", (0.0, 7.0), bins=8, integer=True, nulls=False, zero=True)]).domain
    assert domain.point_codes == (0, None, None)  # one code per integer already keeps 0 exact
    assert domain.project(["c", "income"]).point_codes == (None, 0)
    assert Domain(("a",), (2,)).point_code("a") is None


def test_round_codes_are_single_multiples_of_five_of_integer_columns() -> None:
    from synthgate.pipeline.encode import CategoricalCodec, DatetimeCodec, NumericCodec, TableCodec

    minutes = NumericCodec("minutes", (-3.0, 40.0), bins=64, integer=True, nulls=True, zero=True)
    wide = NumericCodec("age", (0.0, 127.0), bins=64, integer=True, nulls=True, zero=True)   # bins of 2 years
    real = NumericCodec("x", (0.0, 40.0), bins=40, integer=False, nulls=False, zero=True)
    domain = TableCodec([minutes, CategoricalCodec("c", ("x", "y"), other=False, nulls=False), wide, real]).domain
    # codes 0..43 stand for -3..40: 5 is code 8, ..., 40 is code 43; 0 (code 3) is the zero value, not a heap
    assert domain.round_codes == ((8, 13, 18, 23, 28, 33, 38, 43), (), (), ())
    assert domain.round_code_mask("minutes").sum() == 8 and domain.round_code_mask("minutes")[13]
    assert domain.project(["c", "minutes"]).round_codes == ((), (8, 13, 18, 23, 28, 33, 38, 43))
    assert Domain(("a",), (2,)).round_codes == ((),)
    seconds = DatetimeCodec("t", pd.Timestamp("2020-01-01 00:00:00"), pd.Timestamp("2020-01-01 00:00:40"), bins=64,
                            nulls=False, resolution="second")   # one code per second: epoch seconds are no answers
    assert np.diff(seconds.edges).max() == 1 and seconds.round_codes() == ()
