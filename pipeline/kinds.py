"""The config's closed vocabularies, each defined once as a `Literal`; the tuples are derived from
them. No pydantic here, so the CLI can offer the choices without loading the schema."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ColumnType", "ModelKind", "Selection", "Role", "FakeKind", "NonDpCheck", "SourceFormat", "TimeResolution",
           "COLUMN_TYPES", "MODEL_KINDS", "SELECTIONS"]

ColumnType = Literal["categorical", "numeric", "integer", "datetime", "boolean"]
ModelKind = Literal["schema", "independent", "copula", "graphical"]  # least to most fidelity
Selection = Literal["mst", "aim"]  # graphical: the tree alone, or AIM's adaptive rounds from it
Role = Literal["attribute", "identifier", "unit"]
FakeKind = Literal["name", "email", "phone", "ssn", "uuid", "address", "pattern"]
NonDpCheck = Literal["train_closer_share", "correlation_error", "tstr_ratio"]
SourceFormat = Literal["csv", "parquet"]
# datetime columns: the unit a value is written to (public; `init` drafts it from the values' format)
TimeResolution = Literal["second", "minute", "hour", "day"]

COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)
SELECTIONS: tuple[str, ...] = get_args(Selection)
