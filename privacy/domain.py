"""Public shape of the encoded table, and the noisy measurements taken of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Domain", "DomainError", "Measurement"]


class DomainError(ValueError):
    """A domain was built or projected inconsistently (a programming error, not bad input)."""


@dataclass(frozen=True, slots=True)
class Domain:
    """Column -> number of codes, and public facts about each column's codes (as mbi's `Domain`
    carries its attributes): whether they are ordered (numeric or datetime bins), which code, if
    any, means null, and which code, if any, stands for one value among bins of many (a binned
    numeric column's public zero code), and which codes hold one round value each (a non-zero
    multiple of 5 of an integer column: where people's answers heap). Built from public config or
    from DP measurements only.

    `ordered`, `null_codes`, `point_codes` and `round_codes` may be left empty (no column ordered,
    no null, point or round code); otherwise they hold one entry per column."""

    columns: tuple[str, ...]
    sizes: tuple[int, ...]
    ordered: tuple[bool, ...] = ()
    null_codes: tuple[int | None, ...] = ()
    point_codes: tuple[int | None, ...] = ()
    round_codes: tuple[tuple[int, ...], ...] = ()

    def __post_init__(self) -> None:
        if len(set(self.columns)) != len(self.columns) or len(self.columns) != len(self.sizes):
            raise DomainError("columns must be unique and have one size each")
        if min(self.sizes, default=1) < 1:
            raise DomainError("every column needs at least one code")
        # Normalised to one entry per column, so every reader can index them like `sizes`.
        object.__setattr__(self, "ordered", tuple(bool(o) for o in self.ordered) or (False,) * len(self.columns))
        object.__setattr__(self, "null_codes", tuple(self.null_codes) or (None,) * len(self.columns))
        object.__setattr__(self, "point_codes", tuple(self.point_codes) or (None,) * len(self.columns))
        object.__setattr__(self, "round_codes", tuple(tuple(int(c) for c in r) for r in self.round_codes)
                           or ((),) * len(self.columns))
        if {len(self.ordered), len(self.null_codes), len(self.point_codes), len(self.round_codes)} != {
                len(self.columns)}:
            raise DomainError("ordered, null_codes, point_codes and round_codes need one entry per column "
                              "(or none at all)")
        for column, size, null, point in zip(self.columns, self.sizes, self.null_codes, self.point_codes):
            for what, code in (("null", null), ("point", point)):
                if code is not None and not 0 <= code < size:
                    raise DomainError(f"column '{column}': {what} code {code} lies outside its codes [0, {size})")
        for column, size, codes in zip(self.columns, self.sizes, self.round_codes):
            if any(not 0 <= c < size for c in codes):
                raise DomainError(f"column '{column}': a round code lies outside its codes [0, {size})")

    def size(self, column: str) -> int:
        return self.sizes[self.index(column)]

    def is_ordered(self, column: str) -> bool:
        """Whether the column's codes are ordered (bins of a number or a time), not labels."""
        return self.ordered[self.index(column)]

    def null_code(self, column: str) -> int | None:
        """The code that stands for a missing value in `column`, or None if it has none."""
        return self.null_codes[self.index(column)]

    def point_code(self, column: str) -> int | None:
        """The code that stands for a single public value among bins (a binned column's 0), or None."""
        return self.point_codes[self.index(column)]

    def round_code_mask(self, column: str) -> np.ndarray:
        """Per code of `column`: whether it holds one round value (where answers heap)."""
        mask = np.zeros(self.size(column), bool)
        mask[list(self.round_codes[self.index(column)])] = True
        return mask

    def index(self, column: str) -> int:
        try:
            return self.columns.index(column)
        except ValueError:
            raise DomainError(f"unknown column '{column}'") from None

    def project(self, columns: Sequence[str]) -> Domain:
        index = [self.index(c) for c in columns]
        return Domain(tuple(columns), tuple(self.sizes[j] for j in index), tuple(self.ordered[j] for j in index),
                      tuple(self.null_codes[j] for j in index), tuple(self.point_codes[j] for j in index),
                      tuple(self.round_codes[j] for j in index))

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.sizes, dtype=np.int64)) if self.sizes else 1


@dataclass(frozen=True)
class Measurement:
    """Noisy counts over the cells of `columns` (C order), with the noise's standard deviation."""

    columns: tuple[str, ...]
    noisy_counts: np.ndarray
    stddev: float
    label: str = ""
    shape: tuple[int, ...] = field(default=())
    kind: str = "counts"  # "counts" (a histogram) or "moments" (noisy sums of score products)

    def __post_init__(self) -> None:
        self.noisy_counts.setflags(write=False)

    def to_json(self) -> dict[str, object]:
        return {
            "columns": list(self.columns),
            "shape": list(self.shape),
            "stddev": self.stddev,
            "label": self.label,
            "kind": self.kind,
            "noisy_counts": [float(v) for v in self.noisy_counts.ravel()],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Measurement:
        return cls(
            columns=tuple(data["columns"]),  # type: ignore[arg-type]
            noisy_counts=np.asarray(data["noisy_counts"], dtype=float),
            stddev=float(data["stddev"]),  # type: ignore[arg-type]
            label=str(data.get("label", "")),
            shape=tuple(data.get("shape", ())),  # type: ignore[arg-type]
            kind=str(data.get("kind", "counts")),
        )
