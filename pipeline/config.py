"""Release config: YAML validated on load into frozen, typed objects.

Everything a release may publish without spending budget comes from here, so the config is
strict: unknown keys, wrong types and inconsistent column specs are errors naming the file
and the key, collected in one pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError
from .names import has_control, shown

__all__ = [
    "ColumnSpec",
    "SourceSpec",
    "HoldoutSpec",
    "PrivacySpec",
    "ModelSpec",
    "GateSpec",
    "UtilitySpec",
    "OutputSpec",
    "ReleaseConfig",
    "load_config",
    "parse_yaml",
    "config_from_mapping",
    "ESTIMATE",
    "COLUMN_TYPES",
    "MODEL_KINDS",
]

ESTIMATE = "estimate"
COLUMN_TYPES = ("categorical", "numeric", "integer", "datetime", "boolean")
MODEL_KINDS = ("schema", "independent", "copula", "graphical")
Estimate = Literal["estimate"]
Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One column's public description: type, role and domain (or `estimate`)."""

    name: str
    type: Literal["categorical", "numeric", "integer", "datetime", "boolean"] | None = None
    role: Literal["attribute", "identifier", "unit"] = "attribute"
    bounds: tuple[float, float] | tuple[dt.datetime, dt.datetime] | Estimate | None = None
    categories: tuple[str, ...] | Estimate | None = None
    nulls: bool = False
    bins: Annotated[int, Field(ge=1, le=4096)] | None = None
    # identifier and unit columns only: a fabricated stand-in in the synthetic table, made by Faker
    # from the sampling seed alone (the real column is never read)
    fake: Literal["name", "email", "phone", "ssn", "uuid", "address", "pattern"] | None = None
    pattern: Annotated[str, Field(min_length=1, max_length=200)] | None = None  # with fake: pattern; '#' = digit
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] | None = None

    @field_validator("categories", mode="before")
    @classmethod
    def _categories_as_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            if any(v is None for v in value):
                raise ValueError("'categories' lists a null; leave it out and set nulls: true instead")
            return tuple(_category_text(v) for v in value)
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
    format: Literal["csv", "parquet"] | None = None
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


class ModelSpec(_Strict):
    kind: Literal["schema", "independent", "copula", "graphical"] = "graphical"
    bins: Annotated[int, Field(ge=2, le=4096)] = 64
    correlation_share: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    groups: Annotated[int, Field(ge=2, le=256)] = 32  # graphical: coarse groups per column for 2-way tables
    selection: Literal["mst", "aim"] = "aim"  # graphical: AIM's adaptive rounds (from MST's tree), or the tree alone


NonDpCheck = Literal["train_closer_share", "correlation_error", "tstr_ratio"]


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
    path: Path | None = None
    config_hash: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseConfig:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("a column name appears twice")
        problems = _cross_field_problems(self.model_dump(include={"columns", "privacy", "model", "utility", "output",
                                                                  "holdout", "source", "gate"}))
        if problems:
            raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
        return self

    @property
    def attributes(self) -> tuple[ColumnSpec, ...]:
        """Columns that are read and synthesised (identifier and unit columns are dropped at load)."""
        return tuple(c for c in self.columns if c.role == "attribute")

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
            from .sources import SqlSource

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


def load_config(path: str | Path) -> ReleaseConfig:
    """Read and validate a release config; every problem is reported at once as a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({type(exc).__name__})") from None
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: malformed YAML{where}: {getattr(exc, 'problem', 'parse error')}") from None
    return config_from_mapping(raw, path=path.resolve(), where=str(path))


def config_from_mapping(raw: Any, *, path: Path | None = None, where: str = "<config>") -> ReleaseConfig:
    """Validate an already-parsed config mapping (YAML's shape)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys at the top level")
    columns = raw.get("columns")
    problems: list[str] = []
    data = dict(raw)
    if isinstance(columns, dict):
        column_list = []
        for name, spec in columns.items():
            if not isinstance(spec, dict):
                problems.append(f"{where}: columns.{name}: expected a mapping (type, bounds or categories, ...)")
                continue
            if "name" in spec:
                problems.append(f"{where}: columns.{name}.name: unknown key (the column's name is its key)")
                continue
            if name is None:
                problems.append(f"{where}: columns: a column's name is empty (null); quote it if it is 'null'")
                continue
            if isinstance(name, str) and has_control(name):
                problems.append(f"{where}: columns.{shown(name)}: a column name may not hold a control character or "
                                "line break; rename the column in the input and the config")
                continue
            # YAML reads `true:` as a boolean key: write it as the header would spell it.
            column_list.append({"name": _category_text(name) if isinstance(name, bool) else str(name), **spec})
        data["columns"] = column_list
    elif columns is not None:
        problems.append(f"{where}: columns: expected a mapping from column name to its spec")
    for key in ("path", "config_hash"):
        if key in data:
            problems.append(f"{where}: {key}: unknown key")
    if not problems:
        try:
            config = ReleaseConfig.model_validate({**data, "path": path, "config_hash": _hash(raw)})
        except ValidationError as exc:
            # Field errors stop pydantic before the cross-field rules (target, delta, schema) run, and
            # those rules report only their first failure at the top level: check them here on the raw
            # mapping instead, each under its own key, so one pass shows every problem.
            errors = [err for err in exc.errors() if err["loc"]]
            cross = [f"{where}: {key}: {message}" for key, message in _cross_field_problems(data)]
            problems += [f"{where}: {_location(err['loc'], data)}: {_message(err)}" for err in errors] + cross
            if not problems:
                problems = [f"{where}: {_location(err['loc'], data)}: {_message(err)}" for err in exc.errors()]
        else:
            return config
    raise ConfigError(f"{len(problems)} problem(s) in config:\n  " + "\n  ".join(problems))


def _cross_field_problems(data: Any) -> list[tuple[str, str]]:
    """Rules that span sections, as (key, message) pairs. Works on a raw mapping of any shape
    (a rule whose inputs are missing or mistyped is skipped: the field check reports those)."""

    def section(name: str) -> dict[str, Any]:
        value = data.get(name) if isinstance(data, dict) else None
        return value if isinstance(value, dict) else {}

    def setting(name: str, key: str, spec: type[BaseModel]) -> Any:
        return section(name).get(key, spec.model_fields[key].default)

    columns = data.get("columns") if isinstance(data, dict) else None
    columns = [c for c in columns if isinstance(c, dict)] if isinstance(columns, list | tuple) else None
    if columns is None:
        return []
    attributes = [c for c in columns if c.get("role", "attribute") == "attribute"]
    problems: list[tuple[str, str]] = []
    if not attributes:
        problems.append(("columns", "no non-identifier column to synthesise"))
    units = [str(c.get("name")) for c in columns if c.get("role") == "unit"]
    if len(units) > 1:
        problems.append(("columns", "only one column can have role: unit (found " + ", ".join(units) + ")"))
    domain_share, gate_share = setting("privacy", "domain_share", PrivacySpec), setting("gate", "share", GateSpec)
    if (isinstance(domain_share, float) and isinstance(gate_share, float) and domain_share + gate_share >= 1
            and any(c.get("bounds") == ESTIMATE or c.get("categories") == ESTIMATE for c in attributes)):
        problems.append(("privacy.domain_share", f"together with gate.share ({gate_share:g}) it leaves nothing "
                         "of the budget for the model: lower one of them"))
    if units and section("source").get("url") is not None:
        problems.append(("source.url", "role: unit is not supported for database sources yet (the unit ids would "
                         "have to be read to bound contributions): export the table to Parquet, or drop the unit"))
    if units and section("holdout").get("path") is not None:
        problems.append(("holdout.path", "a holdout file cannot be used with role: unit (its rows cannot be bounded "
                         "per individual, and the DP gate counts them): give holdout.fraction instead"))
    if not units and section("privacy").get("max_rows_per_unit", 1) != 1:
        problems.append(("privacy.max_rows_per_unit", "needs a column with role: unit naming each row's individual"))
    target = setting("utility", "target", UtilitySpec)
    if target is not None and target not in [c.get("name") for c in attributes]:
        problems.append(("utility.target", f"'{target}' is not a non-identifier column of this config"))
    elif target is not None and len(attributes) < 2:
        problems.append(("utility.target", "train-on-synthetic needs at least one other column to predict from; "
                         "remove the target or add a column"))
    delta = setting("privacy", "delta", PrivacySpec)
    estimated_categories = [str(c.get("name")) for c in attributes if c.get("categories") == ESTIMATE]
    if isinstance(delta, int | float) and not isinstance(delta, bool) and delta == 0 and estimated_categories:
        problems.append(("privacy.delta", "'categories: estimate' (columns " + ", ".join(estimated_categories)
                         + ") needs privacy.delta > 0: a thresholded histogram has a delta"))
    if setting("model", "kind", ModelSpec) == "schema":
        if setting("output", "rows", OutputSpec) == ESTIMATE:
            problems.append(("output.rows", "model 'schema' spends no budget: give output.rows as a number"))
        for c in attributes:
            if c.get("bounds") == ESTIMATE or c.get("categories") == ESTIMATE:
                problems.append((f"columns.{c.get('name')}", "model 'schema' spends no budget: give a public domain, "
                                 "not 'estimate'"))
    return problems


def _location(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    """Turn pydantic's location into the YAML key path (columns are keyed by name there)."""
    parts: list[str] = []
    items = list(loc)
    if len(items) >= 2 and items[0] == "columns" and isinstance(items[1], int):
        columns = data.get("columns") or []
        name = columns[items[1]]["name"] if items[1] < len(columns) else str(items[1])
        parts += ["columns", name]
        items = items[2:]
    for item in items:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif item in ("float", "int", "tuple[float, float]", "tuple[datetime, datetime]", "literal['estimate']",
                      "tuple[str, ...]", "constrained-int", "constrained-float", "function-after[_consistent(), ColumnSpec]"):
            continue
        elif isinstance(item, str) and ("[" in item or "(" in item):
            continue
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


class _Yaml12BoolLoader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans, as in YAML 1.2, and a key twice is an error.

    YAML 1.1 reads yes/no/on/off as booleans, which would turn `categories: [yes, no]` into
    something that no longer matches the data. PyYAML keeps the last of two equal keys without a
    word, so a column written twice would silently lose its first spec.
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"the key '{key}' appears twice in one mapping", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


_Yaml12BoolLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12BoolLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str) -> Any:
    """YAML as synthgate reads configs: safe, YAML 1.2 booleans only, duplicate keys refused."""
    return yaml.load(text, Loader=_Yaml12BoolLoader)  # noqa: S506 - a SafeLoader subclass


def _message(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def _category_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def format_from_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")) or path.is_dir():  # a folder: a Parquet dataset (hive partitions)
        return "parquet"
    raise ConfigError(f"{path}: cannot tell the file format from its name; set source.format to csv or parquet")


def _hash(raw: Any) -> str:
    canonical = json.dumps(_string_keys(raw), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _string_keys(value: Any) -> Any:
    """YAML allows keys of any type (`1:` next to `a:`); JSON's sorted keys must all be strings."""
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_string_keys(v) for v in value]
    return value
