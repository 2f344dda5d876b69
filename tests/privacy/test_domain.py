"""Domain: sizes plus public facts about each column's codes (ordered, null code), checked when built."""

from __future__ import annotations

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
])
def test_inconsistent_facts_are_refused(kwargs: dict[str, tuple[object, ...]], message: str) -> None:
    with pytest.raises(DomainError, match=message):
        Domain(("a", "b"), (3, 4), **kwargs)  # type: ignore[arg-type]


def test_unknown_column_is_refused() -> None:
    with pytest.raises(DomainError, match="unknown column 'z'"):
        Domain(("a",), (2,)).is_ordered("z")
