"""Model parameters as data (sklearn's `_parameter_constraints`): one check, one kind of message.

`__init__` stores parameters as given; `fit` and `restore` check them with these, so a model built from
a bad config fails with the parameter's name, its owner and the accepted form, before any spend.
Parameters are public config, never data, so their values may appear in the message.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real

__all__ = ["Constraint", "Interval", "Fractions", "param_problems"]


class Constraint:
    """Accepts or refuses one parameter value; `str()` says the accepted form."""

    def accepts(self, value: object) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(Constraint):
    """A number (an integer if `integer`) in [low, high], or (low, high) when `open`."""

    low: float
    high: float = math.inf
    integer: bool = False
    open: bool = False
    optional: bool = False  # None is accepted too (e.g. "rounds: one per column")

    def accepts(self, value: object) -> bool:
        if value is None:
            return self.optional
        kind = Integral if self.integer else Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return False
        number = float(value)
        if self.open:
            return self.low < number < self.high
        return self.low <= number <= self.high

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a number"
        left, right = ("(", ")") if self.open else ("[", "]")
        high = "inf)" if math.isinf(self.high) else f"{self.high:g}{right}"
        return f"{kind} in {left}{self.low:g}, {high}" + (" or None" if self.optional else "")


@dataclass(frozen=True)
class Fractions(Constraint):
    """`count` positive fractions that add up to 1 (a budget split)."""

    count: int

    def accepts(self, value: object) -> bool:
        if not isinstance(value, tuple) or len(value) != self.count:
            return False
        if not all(isinstance(v, Real) and not isinstance(v, bool) for v in value):
            return False
        fractions = [float(v) for v in value]
        return min(fractions) > 0 and math.isclose(math.fsum(fractions), 1.0, rel_tol=1e-9)

    def __str__(self) -> str:
        return f"a tuple of {self.count} positive fractions that add up to 1"


def param_problems(values: Mapping[str, object], constraints: Mapping[str, Constraint]) -> list[str]:
    """One line per parameter that breaks its constraint (all found in one pass)."""
    return [f"{name} must be {rule}, got {values[name]!r}"
            for name, rule in constraints.items() if not rule.accepts(values[name])]
