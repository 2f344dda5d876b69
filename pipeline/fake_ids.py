"""Fabricated identifiers: realistic stand-ins for dropped identifier and unit columns (`fake: KIND`).

Made by Faker from the sampling seed and the column's name alone: the real column is never read
(identifier and unit columns are dropped at load), so no value can carry over, and a replay with
the same seed makes the same values. The model releases rows, not people, so a unit column gets a
fresh id per synthetic row. Kinds whose values are identifiers by nature are unique across the
whole table: uuid, ssn, and a pattern with enough digits (at least 10 times as many combinations
as rows); the unit column always. Cost: Faker takes about 10-50 µs a value, so 10M rows of names
take minutes; uuids and patterns are drawn with numpy in bulk.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from .errors import OutputError

__all__ = ["FabricatedColumns", "FakeSpec", "fake_specs"]

_FAKER_METHODS = {"name": "name", "email": "email", "phone": "phone_number", "ssn": "ssn", "address": "address"}


@dataclass(frozen=True)
class FakeSpec:
    """Public description of one fabricated column (from the config; also kept in the manifest)."""

    name: str
    kind: str
    position: int  # the column's place among the config's columns
    pattern: str | None = None
    locale: str | None = None
    unit: bool = False

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> FakeSpec:
        return cls(str(payload["name"]), str(payload["kind"]), int(payload["position"]), payload.get("pattern"),
                   payload.get("locale"), bool(payload.get("unit", False)))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "position": self.position, "pattern": self.pattern,
                "locale": self.locale, "unit": self.unit}

    def unique_for(self, n_rows: int) -> bool:
        if self.unit or self.kind in ("uuid", "ssn"):
            return True
        if self.kind == "pattern" and self.pattern is not None:
            return bool(10 ** self.pattern.count("#") >= 10 * max(n_rows, 1))
        return False


def fake_specs(columns: Sequence[Any]) -> list[FakeSpec]:
    """The config's `fake:` columns, each at its place among the columns the synthetic table has."""
    specs, position = [], 0
    for column in columns:
        if column.role == "attribute":
            position += 1
        elif column.fake is not None:
            specs.append(FakeSpec(column.name, column.fake, position, column.pattern, column.locale,
                                  unit=column.role == "unit"))
            position += 1
    return specs


class FabricatedColumns:
    """Adds the fabricated columns to each synthetic batch, in the config's column order."""

    def __init__(self, specs: Sequence[FakeSpec], *, seed: int, n_rows: int) -> None:
        self.specs = sorted(specs, key=lambda s: s.position)
        self._n_rows = n_rows
        self._generators = {s.name: _Generator(s, seed=seed, n_rows=n_rows) for s in self.specs}

    def schema(self, base: pa.Schema) -> pa.Schema:
        fields = list(base)
        for spec in self.specs:
            fields.insert(min(spec.position, len(fields)), pa.field(spec.name, pa.string()))
        return pa.schema(fields, metadata=base.metadata)

    def add(self, chunks: Iterator[tuple[np.ndarray, pa.RecordBatch]]) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
        for codes, batch in chunks:
            if not self.specs:
                yield codes, batch
                continue
            names, arrays = list(batch.schema.names), list(batch.columns)
            for spec in self.specs:
                at = min(spec.position, len(names))
                names.insert(at, spec.name)
                arrays.insert(at, pa.array(self._generators[spec.name].take(batch.num_rows), pa.string()))
            yield codes, pa.RecordBatch.from_arrays(arrays, names=names)


class _Generator:
    def __init__(self, spec: FakeSpec, *, seed: int, n_rows: int) -> None:
        self.spec = spec
        self.unique = spec.unique_for(n_rows)
        if spec.kind == "pattern" and spec.unit and not spec.unique_for(n_rows):
            raise OutputError(f"column '{spec.name}': its pattern has too few '#' digits for {n_rows:,} unique "
                              "unit ids; add digits")
        digest = hashlib.sha256(f"{seed}:{spec.name}".encode()).digest()
        self._rng = np.random.default_rng(int.from_bytes(digest[:16], "big"))
        self._faker: Any = None
        if spec.kind in _FAKER_METHODS:
            from faker import Faker

            self._faker = Faker(spec.locale or "en_US")
            self._faker.seed_instance(int.from_bytes(digest[16:24], "big"))
        self._seen: set[str] = set()

    def take(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            batch = self._draw(n - len(out))
            if self.unique:
                fresh = []
                for value in batch:
                    if value not in self._seen:
                        self._seen.add(value)
                        fresh.append(value)
                batch = fresh
            out.extend(batch)
        return out

    def _draw(self, n: int) -> list[str]:
        kind = self.spec.kind
        if kind == "uuid":
            raw = self._rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
            return [str(uuid.UUID(bytes=bytes(row), version=4)) for row in raw]
        if kind == "pattern":
            pattern = str(self.spec.pattern)
            digits = self._rng.integers(0, 10, size=(n, pattern.count("#")))
            return [_fill(pattern, row) for row in digits]
        method = getattr(self._faker, _FAKER_METHODS[kind])
        return [str(method()).replace("\n", ", ") for _ in range(n)]


def _fill(pattern: str, digits: np.ndarray) -> str:
    out, i = [], 0
    for ch in pattern:
        if ch == "#":
            out.append(str(int(digits[i])))
            i += 1
        else:
            out.append(ch)
    return "".join(out)
