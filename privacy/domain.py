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
    """Column -> number of codes. Built from public config or from DP measurements only."""

    columns: tuple[str, ...]
    sizes: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(set(self.columns)) != len(self.columns) or len(self.columns) != len(self.sizes):
            raise DomainError("columns must be unique and have one size each")
        if min(self.sizes, default=1) < 1:
            raise DomainError("every column needs at least one code")

    def size(self, column: str) -> int:
        return self.sizes[self.index(column)]

    def index(self, column: str) -> int:
        try:
            return self.columns.index(column)
        except ValueError:
            raise DomainError(f"unknown column '{column}'") from None

    def project(self, columns: Sequence[str]) -> Domain:
        return Domain(tuple(columns), tuple(self.size(c) for c in columns))

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
