"""The release config's schema: frozen, typed sections, each checking its own fields.

Everything a release may publish without spending budget comes from here, so the schema is
strict: unknown keys, wrong types and inconsistent column specs are errors. Rules that span
sections live in `rules.py`; reading YAML and reporting problems by key in `load.py`.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthgate.privacy.models import spec as model_spec

from ..formats import format_from_suffix
from ..kinds import (COLUMN_TYPES, ColumnType, FakeKind, ModelKind, NonDpCheck, Role, Selection, SourceFormat,
                     TimeResolution)

__all__ = ["ColumnSpec", "SourceSpec", "HoldoutSpec", "PrivacySpec", "ModelSpec", "GateSpec", "UtilitySpec",
           "OutputSpec", "SparkSpec", "ReleaseConfig", "ESTIMATE", "category_text"]

ESTIMATE: Final = "estimate"
Estimate = Literal["estimate"]
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One column's public description: type, role and domain (or `estimate`)."""

    name: str
    type: ColumnType | None = None
    role: Role = "attribute"
    bounds: tuple[float, float] | tuple[dt.datetime, dt.datetime] | Estimate | None = None
    categories: tuple[str, ...] | Estimate | None = None
    nulls: bool = False
    bins: Annotated[int, Field(ge=1, le=4096)] | None = None
    # datetime columns only: the unit synthetic values are written to (a date column: day). Without
    # it, values decode to whole seconds anywhere inside their bin.
    resolution: TimeResolution | None = None
    # identifier and unit columns only: a fabricated stand-in in the synthetic table, made by Faker
    # from the sampling seed alone (the real column is never read)
    fake: FakeKind | None = None
    pattern: Annotated[str, Field(min_length=1, max_length=200)] | None = None  # with fake: pattern; '#' = digit
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] | None = None

    @field_validator("categories", mode="before")
    @classmethod
    def _categories_as_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            if any(v is None for v in value):
                raise ValueError("'categories' lists a null; leave it out and set nulls: true instead")
            return tuple(category_text(v) for v in value)
        return value

    @field_validator("bounds", mode="after")
    @classmethod
    def _times_in_utc(cls, value: Any) -> Any:
        if isinstance(value, tuple) and value and isinstance(value[0], dt.datetime):
            return tuple(v.replace(tzinfo=dt.timezone.utc) if v.tzinfo is None else v.astimezone(dt.timezone.utc)
                         for v in value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.role != "attribute":
            if self.bounds is not None or self.categories is not None:
                raise ValueError(f"a {self.role} column is dropped at load: give it no bounds or categories")
            if (self.fake == "pattern") != (self.pattern is not None):
                raise ValueError("'pattern' goes with fake: pattern (and fake: pattern needs a pattern)")
            if self.pattern is not None and "#" not in self.pattern:
                raise ValueError("'pattern' needs at least one '#' (a random digit)")
            if self.locale is not None and self.fake is None:
                raise ValueError("'locale' goes with 'fake'")
            return self
        if self.fake is not None or self.pattern is not None or self.locale is not None:
            raise ValueError("'fake', 'pattern' and 'locale' are for role: identifier or unit columns only")
        if self.type is None:
            raise ValueError("'type' is required (one of " + ", ".join(COLUMN_TYPES) + ")")
        if self.resolution is not None and self.type != "datetime":
            raise ValueError("'resolution' is for datetime columns only")
        if self.type == "categorical":
            if self.categories is None:
                raise ValueError("a categorical column needs 'categories': a list, or 'estimate'")
            if self.bounds is not None:
                raise ValueError("a categorical column takes 'categories', not 'bounds'")
            if isinstance(self.categories, tuple):
                if not self.categories:
                    raise ValueError("'categories' is empty")
                if len(set(self.categories)) != len(self.categories):
                    raise ValueError("'categories' lists a category twice")
        elif self.type == "boolean":
            if self.bounds is not None or self.categories is not None:
                raise ValueError("a boolean column takes neither 'bounds' nor 'categories'")
        else:
            if self.bounds is None:
                raise ValueError(f"a {self.type} column needs 'bounds': [low, high], or 'estimate'")
            if self.categories is not None:
                raise ValueError(f"a {self.type} column takes 'bounds', not 'categories'")
            if isinstance(self.bounds, tuple):
                low, high = self.bounds
                is_time = isinstance(low, dt.datetime)
                if is_time != (self.type == "datetime"):
                    raise ValueError("datetime columns take ISO date bounds; numeric ones take numbers")
                if not is_time and not (math.isfinite(low) and math.isfinite(high)):  # type: ignore[arg-type]
                    raise ValueError("'bounds' must be finite")
                if not low <= high:  # type: ignore[operator]  # low == high: a constant column, one code
                    raise ValueError("'bounds' must be [low, high] with low <= high")
                _check_bounds_range(self.type, low, high)
        return self

    @property
    def is_estimated(self) -> bool:
        return self.bounds == ESTIMATE or self.categories == ESTIMATE


# Bounds the encoders can represent: the run would otherwise spend budget and then fail while
# sampling (found by tests/fuzz). Datetimes are nanoseconds since 1970 in int64; integers are
# drawn as int64 from float64 bin edges, exact up to 2^53; a numeric width must be a finite float.
_TIME_RANGE = (dt.datetime(1677, 9, 22, tzinfo=dt.timezone.utc), dt.datetime(2262, 4, 11, tzinfo=dt.timezone.utc))
_MAX_INTEGER = 2**53


def _check_bounds_range(kind: str, low: Any, high: Any) -> None:
    if kind == "datetime":
        if low < _TIME_RANGE[0] or high > _TIME_RANGE[1]:
            raise ValueError("datetime 'bounds' must lie between 1677-09-22 and 2262-04-11 (UTC)")
    elif kind == "integer" and max(abs(low), abs(high)) > _MAX_INTEGER:
        raise ValueError(f"integer 'bounds' must lie within -2^53..2^53 ({_MAX_INTEGER}); use type: numeric beyond")
    elif not math.isfinite(high - low):
        raise ValueError("'bounds' are too far apart (high - low overflows a float); narrow them")


class SourceSpec(_Strict):
    """A file (`path`: CSV, CSV.gz or Parquet), or a database table or query (`url` + `table` or `query`).

    Database URLs: postgresql://user@host:5432/db (the password comes from the environment
    variable that `password_env` names, never from the config) or sqlite:///relative.db /
    sqlite:////absolute.db. Only the config's non-identifier columns are ever selected."""

    path: Path | None = None
    format: SourceFormat | None = None
    url: str | None = None
    password_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    table: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")] | None = None
    query: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> SourceSpec:
        if (self.path is None) == (self.url is None):
            raise ValueError("give either 'path' (a file) or 'url' (a database), not both or neither")
        if self.path is not None:
            if self.table or self.query or self.password_env:
                raise ValueError("'table', 'query' and 'password_env' go with 'url', not with 'path'")
            return self
        if self.format is not None:
            raise ValueError("'format' is for files; a database source has none")
        if (self.table is None) == (self.query is None):
            raise ValueError("a database source needs either 'table' or 'query', not both or neither")
        scheme = str(self.url).split(":", 1)[0]
        if scheme not in ("postgresql", "postgres", "sqlite"):
            raise ValueError("'url' must start with postgresql://, postgres:// or sqlite:///")
        if scheme == "sqlite" and self.password_env:
            raise ValueError("a SQLite source has no password: remove 'password_env'")
        if scheme != "sqlite" and "@" in str(self.url) and ":" in str(self.url).split("://", 1)[1].split("@", 1)[0]:
            raise ValueError("'url' carries a password: remove it and name an environment variable in "
                             "'password_env' instead")
        return self


class HoldoutSpec(_Strict):
    """Rows kept out of every measurement, used as the baseline of the risk checks."""

    fraction: Annotated[float, Field(gt=0.0, le=0.5)] | None = 0.2
    path: Path | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> HoldoutSpec:
        if self.path is not None and "fraction" in self.model_fields_set:
            raise ValueError("give either 'fraction' or 'path', not both")
        return self


class PrivacySpec(_Strict):
    """The run's budget. δ > 0 selects zCDP accounting; δ = 0 selects pure ε.

    `lifetime_epsilon` / `lifetime_delta` are the dataset's budget over all its runs, written to
    the ledger on the dataset's first run (later changes go through `synthgate budget set`).
    Under pure accounting the lifetime δ defaults to 0; otherwise it must be given.
    """

    epsilon: Annotated[float, Field(gt=0.0, le=100.0)]
    delta: Annotated[float, Field(ge=0.0, le=1e-3)] = 1e-6
    domain_share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.1
    lifetime_epsilon: Annotated[float, Field(gt=0.0, le=1000.0)] | None = None
    lifetime_delta: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    # With a `role: unit` column, the privacy unit is the individual that column names: each keeps
    # at most this many training rows (chosen at random), and every query's sensitivity is this.
    max_rows_per_unit: Annotated[int, Field(ge=1, le=1000)] = 1

    @model_validator(mode="after")
    def _lifetime(self) -> PrivacySpec:
        if self.lifetime_epsilon is None:
            if self.lifetime_delta is not None:
                raise ValueError("'lifetime_delta' is given without 'lifetime_epsilon'")
            return self
        if self.lifetime_delta is None:
            if self.delta > 0:
                raise ValueError("'lifetime_epsilon' needs 'lifetime_delta' too (the dataset's delta over all "
                                 "its runs, at least 'delta')")
            object.__setattr__(self, "lifetime_delta", 0.0)
        if self.lifetime_epsilon < self.epsilon:
            raise ValueError("'lifetime_epsilon' is smaller than this run's 'epsilon': no run could fit")
        if self.lifetime_delta is not None and self.lifetime_delta < self.delta:
            raise ValueError("'lifetime_delta' is smaller than this run's 'delta': no run could fit")
        return self

    @property
    def lifetime(self) -> tuple[float, float] | None:
        """(ε, δ) over all the dataset's runs, when the config gives them (δ is then always set)."""
        if self.lifetime_epsilon is None:
            return None
        return (self.lifetime_epsilon, self.lifetime_delta or 0.0)


class ModelSpec(_Strict):
    kind: ModelKind = "graphical"
    bins: Annotated[int, Field(ge=2, le=4096)] = 64
    correlation_share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    groups: Annotated[int, Field(ge=2, le=256)] = 32  # graphical: coarse groups per column for 2-way tables
    # graphical: AIM's adaptive rounds (from MST's tree), or the tree alone
    selection: Selection = model_spec.DEFAULT_SELECTION

    def to_model_spec(self) -> model_spec.ModelSpec:
        """What the model factory needs from this section (`bins` belongs to the codec)."""
        return model_spec.ModelSpec(kind=self.kind, selection=self.selection,
                                    correlation_share=self.correlation_share, groups=self.groups)


class GateSpec(_Strict):
    """Thresholds; a null disables a check (the report says so).

    The DP checks decide on noisy figures charged to `share` of the run's budget (labels
    `gate:<check>`), so the decision is inside the guarantee. A check fails only when its noisy
    figure passes the threshold by more than `hold_margin` standard deviations of its noise: a
    HOLD means the DP evidence shows the threshold is passed. Non-DP checks (computed on exact
    figures) appear in the internal report and decide only when named in `non_dp_checks`; the
    manifest then says the decision is outside the guarantee.
    """

    share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.05
    hold_margin: Annotated[float, Field(ge=0.0, le=10.0)] = 2.0
    # Gower distance under which a real row has a synthetic near-copy (0: exact copies only):
    # all categorical columns equal and the numeric ones within this share of a column's range in all.
    near_match_distance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01
    max_exact_match_excess: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.05
    max_near_match_excess: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.05
    max_tvd_1way_mean: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.10
    max_tvd_2way_mean: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.20
    max_clamped_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.05
    max_other_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = 0.10
    min_tstr_score: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # non-DP: decide only when named in non_dp_checks
    max_train_closer_share: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    max_correlation_error: Annotated[float, Field(ge=0.0)] | None = None
    min_tstr_ratio: Annotated[float, Field(ge=0.0)] | None = None
    non_dp_checks: tuple[NonDpCheck, ...] = ()
    # The marginal checks (TVD, `__other__` share; DP and exact) count at most this many training
    # rows, drawn with the run's secret key, and as many synthetic rows: their cost stays fixed
    # however long the table (tables up to this size are counted whole).
    sample_rows: Annotated[int, Field(ge=1000, le=100_000_000)] = 250_000

    @model_validator(mode="after")
    def _opted_in_checks_have_thresholds(self) -> GateSpec:
        fields = {"train_closer_share": "max_train_closer_share", "correlation_error": "max_correlation_error",
                  "tstr_ratio": "min_tstr_ratio"}
        missing = [f"'{fields[name]}'" for name in self.non_dp_checks if getattr(self, fields[name]) is None]
        if missing:
            raise ValueError("non_dp_checks names a check without a threshold: set " + ", ".join(missing))
        return self


class UtilitySpec(_Strict):
    target: str | None = None
    sample_rows: Annotated[int, Field(ge=100, le=1_000_000)] = 5000


class OutputSpec(_Strict):
    rows: Annotated[int, Field(ge=1, le=100_000_000)] | Estimate = ESTIMATE
    # With `rows: estimate`, the DP row count is capped here: at a tiny epsilon its noise alone can
    # ask for tens of millions of rows (a run that seems to hang).
    max_rows: Annotated[int, Field(ge=1, le=100_000_000)] = 10_000_000
    csv: bool = False
    chunk_rows: Annotated[int, Field(ge=1000)] = 100_000


class SparkSpec(_Strict):
    """Where `engine: spark` runs: `master` as Spark spells it (local[2], spark://host:7077, yarn, ...)
    and extra Spark settings. Not part of the config hash: the engine decides where rows are counted,
    not what is released."""

    master: Annotated[str, Field(min_length=1, max_length=500)] = "local[*]"
    conf: dict[str, str] = Field(default_factory=dict)


class ReleaseConfig(_Strict):
    """A validated release config. `path` is where it was read from; relative paths resolve there."""

    dataset: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
    source: SourceSpec
    holdout: HoldoutSpec = HoldoutSpec()
    columns: tuple[ColumnSpec, ...]
    privacy: PrivacySpec
    model: ModelSpec = ModelSpec()
    gate: GateSpec = GateSpec()
    utility: UtilitySpec = UtilitySpec()
    output: OutputSpec = OutputSpec()
    # local: one pass over Arrow batches on this machine; spark: the same contract on Apache Spark
    engine: Literal["local", "spark"] = "local"
    spark: SparkSpec = SparkSpec()
    path: Path | None = None
    config_hash: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseConfig:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("a column name appears twice")
        from .rules import cross_field_problems

        problems = cross_field_problems(self.model_dump(include={"columns", "privacy", "model", "utility", "output",
                                                                  "holdout", "source", "gate"}))
        if problems:
            raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
        return self

    @property
    def attributes(self) -> tuple[ColumnSpec, ...]:
        """Columns that are read and synthesised (identifier and unit columns are dropped at load)."""
        return tuple(c for c in self.columns if c.role == "attribute")

    @property
    def estimated_kinds(self) -> dict[str, str]:
        """Columns whose domain is estimated under DP, with the kind of estimate each needs."""
        return {c.name: ("categorical" if c.type == "categorical" else str(c.type))
                for c in self.attributes if c.is_estimated}

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Columns never parsed as data nor released: identifiers, and the unit column."""
        return tuple(c.name for c in self.columns if c.role != "attribute")

    @property
    def fabricated(self) -> tuple[ColumnSpec, ...]:
        """Identifier or unit columns the synthetic table carries as fabricated stand-ins (`fake:`)."""
        return tuple(c for c in self.columns if c.role != "attribute" and c.fake is not None)

    @property
    def unit_column(self) -> str | None:
        """The column naming each row's individual (`role: unit`), if the table has several rows per person."""
        return next((c.name for c in self.columns if c.role == "unit"), None)

    @property
    def contribution(self) -> int:
        """Rows one individual can contribute to the training table: every query's sensitivity."""
        return self.privacy.max_rows_per_unit if self.unit_column else 1

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def resolve(self, path: Path) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        if path.is_absolute() or self.path is None:
            return path
        return (self.path.parent / path).resolve()

    @property
    def source_path(self) -> Any:
        """The input file's path, or (for a database) a `SqlSource` that reads the table or query."""
        if self.source.url is not None:
            from ..sources import SqlSource

            return SqlSource.from_spec(self.source, self.resolve)
        return self.resolve(Path(str(self.source.path)))

    @property
    def source_format(self) -> str:
        if self.source.url is not None:
            return "sql"
        return self.source.format or format_from_suffix(self.source_path)

    @property
    def holdout_path(self) -> Path | None:
        return None if self.holdout.path is None else self.resolve(self.holdout.path)


def category_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
