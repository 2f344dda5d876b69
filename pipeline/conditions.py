"""Conditions of a `sample` request (`--where COL=VALUE`, `COL=LOW..HIGH`) translated into code space.

Through the release's codec (its public schema): a category or boolean is its code; a number
is the code of the bin that holds exactly that value (an integer column with one code per
integer, or the exact-zero code); a range `LOW..HIGH` (either end may be left open; inclusive)
is the set of bins inside it. A range that cuts a bin is refused, naming the bin's edges to use:
keeping a whole bin would give rows outside the range, and clipping decoded values would change
the model's distribution inside the bin. Range ends beyond the public bounds are clipped to them;
a value or range that misses the public domain entirely is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthgate.privacy.models.conditional import Evidence

from .encode import BooleanCodec, CategoricalCodec, ColumnCodec, DatetimeCodec, NumericCodec, TableCodec
from .errors import InputError

__all__ = ["ConditionRequestError", "evidence_for", "level_codes", "level_label", "parse_where"]

_RANGE = ".."


class ConditionRequestError(InputError):
    """A `--where` or `--balance` that the release's public domain cannot serve."""


def parse_where(texts: Sequence[str]) -> dict[str, list[str]]:
    """`COL=VALUE` strings -> column -> values (one column given twice: either value, OR)."""
    where: dict[str, list[str]] = {}
    for text in texts:
        column, sep, value = text.partition("=")
        if not sep or not column.strip():
            raise ConditionRequestError(f"--where {text!r}: expected COL=VALUE or COL=LOW..HIGH")
        where.setdefault(column.strip(), []).append(value.strip())
    return where


def evidence_for(codec: TableCodec, where: Mapping[str, Any]) -> Evidence:
    """Allowed codes per conditioned column. Values: a scalar, a list (any of them), or a
    (low, high) tuple / 'LOW..HIGH' string for a range."""
    by_name = {c.name: c for c in codec.codecs}
    allowed: dict[str, set[int]] = {}
    for column, values in where.items():
        if column not in by_name:
            raise ConditionRequestError(f"--where {column}: no such column in the release; its columns are "
                                        f"{', '.join(by_name)}")
        items = values if isinstance(values, list) else [values]
        codes: set[int] = set()
        for value in items:
            codes |= _codes(by_name[column], value)
        allowed[column] = codes
    return Evidence.from_mapping(allowed)


def level_codes(codec: TableCodec, column: str, evidence: Evidence) -> list[int]:
    """The levels `--balance COL` draws equally: the column's non-null codes (those `--where` allows)."""
    by_name = {c.name: c for c in codec.codecs}
    target = by_name.get(column)
    if not isinstance(target, CategoricalCodec | BooleanCodec):
        raise ConditionRequestError(f"--balance {column}: needs a categorical or boolean column of the release")
    levels = list(range(target.n_values))
    restricted = dict(evidence.allowed).get(column)
    return [c for c in levels if restricted is None or c in restricted]


def level_label(codec: TableCodec, column: str, code: int) -> str:
    by_name = {c.name: c for c in codec.codecs}
    return by_name[column].labels()[code]


def _codes(codec: ColumnCodec, value: Any) -> set[int]:
    where = f"--where {codec.name}"
    if isinstance(codec, CategoricalCodec | BooleanCodec):
        labels = codec.labels()[: codec.n_values]
        text = str(value).lower() if isinstance(codec, BooleanCodec) else str(value)
        if text not in labels:
            raise ConditionRequestError(f"{where}={value}: not a level of the public domain; levels: "
                                        f"{', '.join(labels)}")
        return {labels.index(text)}
    if not isinstance(codec, NumericCodec):
        raise ConditionRequestError(f"{where}: conditions on this column type are not supported")
    low, high = _range(codec, value)
    return _bins_inside(codec, low, high, f"{where}={_show(value)}")


def _range(codec: NumericCodec, value: Any) -> tuple[float, float]:
    """(low, high) in the codec's units; a single value is the range [value, value]."""
    if isinstance(value, tuple | list) and len(value) == 2:
        ends: Iterable[Any] = value
    elif isinstance(value, str) and _RANGE in value:
        ends = value.split(_RANGE, 1)
    else:
        ends = (value, value)
    parsed = [_number(codec, e) for e in ends]
    low = -np.inf if parsed[0] is None else parsed[0]
    high = np.inf if parsed[1] is None else parsed[1]
    if low > high:
        raise ConditionRequestError(f"--where {codec.name}={_show(value)}: the range's low end is above its high end")
    return low, high


def _number(codec: NumericCodec, end: Any) -> float | None:
    if end is None or (isinstance(end, str) and not end.strip()):
        return None
    try:
        if isinstance(codec, DatetimeCodec):
            stamp = pd.Timestamp(end)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            return float(stamp.value / 1e9)
        return float(end)
    except (TypeError, ValueError):
        raise ConditionRequestError(f"--where {codec.name}: '{end}' is not a "
                                    f"{'date/time' if isinstance(codec, DatetimeCodec) else 'number'}") from None


def _bins_inside(codec: NumericCodec, low: float, high: float, where: str) -> set[int]:
    """Codes of the bins inside [low, high] (clipped to the public bounds); a cut bin is refused."""
    if high < codec.low or low > codec.high:
        raise ConditionRequestError(f"{where}: outside the public bounds [{codec.low:g}, {codec.high:g}]")
    if codec.zero and low == high == 0:
        return {codec.zero_index}  # exact zero has a code of its own
    low, high = max(low, codec.low), min(high, codec.high)
    step = 1.0 if codec.integer else 0.0  # an integer bin [a, b) holds a..b-1
    codes: set[int] = set()
    n_bins = len(codec.edges) - 1
    overlapping: list[tuple[float, float, bool]] = []
    for b in range(n_bins):
        left, right = float(codec.edges[b]), float(codec.edges[b + 1]) - step
        if b == n_bins - 1 and not codec.integer:
            right = float(codec.edges[-1])
        if right < low or left > high or (not codec.integer and right == low and b < n_bins - 1) \
                or (not codec.integer and left == high and right > left):
            continue  # disjoint, or touching at one point only (a float bin [a, b) does not hold b)
        inside = low <= left and right <= high
        overlapping.append((left, right, inside))
        if inside:
            codes.add(b + 1 if codec.zero and b >= codec.zero_index else b)
    if any(not inside for _, _, inside in overlapping):
        outer = f"{overlapping[0][0]:g}..{overlapping[-1][1]:g}"
        whole = [(a, b) for a, b, inside in overlapping if inside]
        inner = f" or {whole[0][0]:g}..{whole[-1][1]:g}" if whole else ""
        raise ConditionRequestError(f"{where}: the range cuts a bin of the public domain; use whole bins, "
                                    f"e.g. {outer}{inner}")
    if codec.zero and low <= 0 <= high:
        codes.add(codec.zero_index)
    if not codes:
        raise ConditionRequestError(f"{where}: holds no bin of the public domain")
    return codes


def _show(value: Any) -> str:
    if isinstance(value, tuple | list):
        return _RANGE.join("" if v is None else str(v) for v in value)
    return str(value)
