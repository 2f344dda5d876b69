"""`synthgate init`: draft a runnable release config from a table's schema alone.

Only column names and types are read (Arrow's type inference on the first block of a CSV, or
a Parquet file's schema). No value from the data is written: every domain is `estimate`, to be
measured under DP, or replaced by the steward with public bounds and category lists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from .config import ColumnSpec, ReleaseConfig, config_from_mapping
from .kinds import ColumnType
from .errors import ConfigError, InputError, OutputError
from .formats import format_from_suffix
from .load import ParseFailures, arrow_reason, check_readable, iter_raw, parse_column, with_null_tokens

__all__ = ["draft_config", "draft_resolutions", "infer_types"]

_IDENTIFIER_NAME = re.compile(r"(^id$|^id[_-]|[_-]id$|idnum|(^|[_-])(uuid|guid)($|[_-])|^ssn$|^e-?mail|^phone|^name$)",
                              re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")  # userId, patientID (case-sensitive, so 'paid' is not one)
_SNIFF_BYTES = 1 << 20


def infer_types(path: Path) -> list[tuple[str, str]]:
    """(column, synthgate type) pairs; no values are kept.

    A Parquet file's schema is authoritative. For a CSV, Arrow proposes types from the first
    block, then one streaming pass parses every cell with the loader's own rules and widens a
    type that some later cell does not fit (integer -> numeric -> categorical), so the draft is
    one that `synthgate run` can load.
    """
    check_readable(path)
    try:
        fmt = format_from_suffix(path)
    except ConfigError:
        raise InputError(f"{path}: init reads .csv, .csv.gz or .parquet files; rename the file to say which it is") \
            from None
    try:
        if fmt == "parquet":
            schema = pq.ParquetFile(path).schema_arrow
        else:
            reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=_SNIFF_BYTES))
            schema = reader.schema
            reader.close()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the table's schema ({arrow_reason(exc)})") from None
    names = list(schema.names)
    if len(set(names)) != len(names):
        raise InputError(f"{path}: the header names a column twice; rename the columns first")
    if any(not n.strip() for n in names):
        raise InputError(f"{path}: the header has an empty column name; name every column first")
    if fmt == "parquet":
        return [(field.name, _synthgate_type(field.type)) for field in schema]
    return _widened_by_full_scan(path, schema)


def _widened_by_full_scan(path: Path, schema: pa.Schema) -> list[tuple[str, str]]:
    names = list(schema.names)
    candidates = {f.name: _candidates(f.type) for f in schema}
    unseen = {f.name for f in schema if pa.types.is_null(f.type)}  # no value in the first block
    for batch in iter_raw(path, "csv", names, names):
        for name in names:
            kinds = candidates[name]
            array = with_null_tokens(batch.column(name), ColumnSpec.model_construct(name=name, categories=None))
            if name in unseen and array.null_count < len(array):
                unseen.discard(name)
            if len(kinds) > 1:
                kinds[:] = [k for k in kinds if k == "categorical" or _parses_as(array, name, k)]
        if not unseen and all(len(k) == 1 for k in candidates.values()):
            break  # every type is settled: the rest of the file cannot change it
    return [(name, "categorical" if name in unseen else candidates[name][0]) for name in names]


_UNITS_COARSEST_FIRST: tuple[tuple[str, int], ...] = (("day", 86_400), ("hour", 3_600), ("minute", 60),
                                                      ("second", 1))


def draft_resolutions(path: Path, columns: list[tuple[str, str]]) -> dict[str, str]:
    """The coarsest unit every value of each datetime column is written to (a date: day; times all on
    the hour: hour), so the release writes whole units too. Like the type, it is read off the data's
    format (no value is kept) and ships as public config for the steward to confirm. A column with
    sub-second values gets none (values decode to whole seconds)."""
    names = [name for name, kind in columns if kind == "datetime"]
    if not names:
        return {}
    fmt = format_from_suffix(path)
    if fmt == "parquet":  # the schema says it: a date type is days; a timestamp is not scanned
        schema = pq.ParquetFile(path).schema_arrow
        return {n: "day" for n in names if pa.types.is_date(schema.field(n).type)}
    fitting = {name: list(_UNITS_COARSEST_FIRST) for name in names}
    for batch in iter_raw(path, fmt, names, [n for n, _ in columns]):
        for name in names:
            spec = ColumnSpec.model_construct(name=name, type="datetime", categories=None)
            parsed = parse_column(with_null_tokens(batch.column(name), spec), spec, ParseFailures())
            nanos = parsed.dropna().astype("datetime64[ns, UTC]").astype("int64").to_numpy()
            fitting[name] = [(unit, s) for unit, s in fitting[name] if not np.any(nanos % (s * 10**9))]
        if all(not units or units[0][0] == "second" for units in fitting.values()):
            break  # nothing coarser can come back
    return {name: units[0][0] for name, units in fitting.items() if units}


def _candidates(arrow_type: pa.DataType) -> list[str]:
    """Types to try, narrowest first; categorical (any text) always fits."""
    if pa.types.is_null(arrow_type):
        return ["integer", "numeric", "boolean", "datetime", "categorical"]
    kind = _synthgate_type(arrow_type)
    # A float column whose every value is a whole number ("40.0", "517.0") is drafted as integer: the
    # loader parses it exactly, and the release then holds whole numbers, not 1520.97.
    return {"integer": ["integer", "numeric", "categorical"], "numeric": ["integer", "numeric", "categorical"],
            "boolean": ["boolean", "categorical"], "datetime": ["datetime", "categorical"]}.get(kind, ["categorical"])


def _parses_as(array: pa.Array, name: str, kind: str) -> bool:
    """Does every non-null cell parse as `kind`, by the loader's rules? (booleans: true/false only)"""
    if kind == "boolean":
        text = pd.Series(array.to_numpy(zero_copy_only=False), dtype=object).dropna()
        return bool(text.str.strip().str.lower().isin(["true", "false"]).all())
    failures = ParseFailures()
    parse_column(array, ColumnSpec.model_construct(name=name, type=cast(ColumnType, kind)), failures)
    return not failures.counts


def _synthgate_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "datetime"
    return "categorical"


def draft_config(data: Path, out: Path, *, epsilon: float, target: str | None, model: str, force: bool) -> str:
    """Write a draft config for `data` to `out`; returns the text written."""
    if model == "schema":
        raise ConfigError("--model schema needs public domains for every column; "
                          "init drafts 'estimate' domains, so start with independent, copula or graphical")
    if out.is_dir():
        raise OutputError(f"{out}: is a directory; give the path of the config file to write")
    if out.exists() and not force:
        raise OutputError(f"{out}: config already exists; pass --force to overwrite it")
    if out.exists() and data.exists() and out.resolve() == data.resolve():
        raise OutputError(f"{out}: is the input table itself; write the config somewhere else")
    columns = infer_types(data)
    whole = _written_as_decimals(data, columns)
    resolutions = draft_resolutions(data, columns)
    if target is not None and target not in [name for name, _ in columns]:
        raise ConfigError(f"--target '{target}' is not a column of {data}")
    spec: dict[str, dict[str, object]] = {}
    for name, kind in columns:
        if (_IDENTIFIER_NAME.search(name) or _CAMEL_ID.search(name)) and name != target:
            spec[name] = {"role": "identifier"}
        elif kind == "categorical":
            spec[name] = {"type": kind, "categories": "estimate", "nulls": True}
        elif kind == "boolean":
            spec[name] = {"type": kind, "nulls": True}
        else:
            spec[name] = {"type": kind, "bounds": "estimate", "nulls": True}
            if name in resolutions:
                spec[name]["resolution"] = resolutions[name]
    if all(s.get("role") == "identifier" for s in spec.values()):
        raise InputError(f"{data}: every column looks like a direct identifier; nothing to synthesise")
    try:
        source = Path(_relative(data.resolve(), out.resolve().parent))
    except ValueError:
        source = data.resolve()
    document = {
        "dataset": _dataset_name(data),
        "source": {"path": str(source)},
        "holdout": {"fraction": 0.2},
        "columns": spec,
        "privacy": {"epsilon": float(epsilon), "delta": 1e-6, "domain_share": 0.1,
                    "lifetime_epsilon": float(min(10 * epsilon, 1000.0)), "lifetime_delta": 1e-5},
        "model": {"kind": model},
        "utility": {"target": target},
        "output": {"rows": "estimate"},
    }
    header = (
        f"# Draft release config for {data.name}, written by `synthgate init` from column names and types only.\n"
        "# Review before a real release:\n"
        "# - 'estimate' domains are measured under DP with privacy.domain_share of the budget. Where public\n"
        "#   bounds (e.g. age: [0, 120]) or category lists are known from documentation, write them in: it\n"
        "#   saves budget and keeps rare categories. Never copy them from the data.\n"
        "# - Column types were read off the data, not under DP: one row can turn an integer column\n"
        "#   categorical, and the type ships in the release manifest's schema. Confirm each from the\n"
        "#   table's documentation.\n"
        "# - Columns whose names look like direct identifiers are marked role: identifier (dropped at load).\n"
        "# - nulls: true everywhere; set nulls: false where the documentation says a column is never empty.\n"
        "# - privacy.lifetime_epsilon (drafted as 10 runs' worth) is the dataset's budget over every release;\n"
        "#   it is written to the ledger on the first run, and only `synthgate budget set --force` raises it.\n"
        "# - Types come from the data (the type only, never a value): 'integer' wherever every parsed value is a\n"
        "#   whole number; change it where the documentation says otherwise.\n"
        + (f"#   Written with decimals in the file but whole numbers: {', '.join(whole)}.\n" if whole else "")
        + ("# - A datetime column's 'resolution' is the coarsest unit every value in the file is written to (read\n"
           "#   off the data's format like the type, never a value); the release writes whole units of it.\n"
           if resolutions else "")
        + _domain_rows_comment(config := _as_config(document, out))
        + _too_fine_comment(config)
    )
    text = header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)
    return text


def _domain_rows_comment(config: ReleaseConfig | None) -> str:
    """How many training rows the drafted estimates need at this epsilon (public: config only), so a
    steward with a small table knows before anything is spent which domains to write in."""
    from synthgate.privacy.accountant import Budget

    from .plan import NULLS_NOTE, plan_budget, rows_needed

    if config is None:
        return ""
    plan = plan_budget(config, Budget(config.privacy.epsilon, config.privacy.delta))
    needed = rows_needed(plan, config.estimated_kinds, config.contribution)
    by_kind: dict[str, float | None] = {}
    for column, kind in config.estimated_kinds.items():
        by_kind.setdefault(kind, needed.get(column))
    if not by_kind:
        return ""
    shown = ", ".join(f"{kind} columns ~{n:,.0f}" if n is not None else f"{kind} columns >1,000,000"
                      for kind, n in by_kind.items())
    return ("# - At this epsilon the 'estimate' domains need about this many training rows to keep every category\n"
            f"#   level and bounds bin holding 5% of the rows: {shown}\n"
            f"#   ({NULLS_NOTE}).\n"
            "#   On a smaller table write public domains in (`synthgate validate` names the columns).\n")


def _too_fine_comment(config: ReleaseConfig | None) -> str:
    """Names the estimated categorical columns that would come back mostly '__other__' (fine_columns.py)."""
    from .fine_columns import too_fine_columns

    if config is None:
        return ""
    flagged = too_fine_columns(config)
    if not flagged:
        return ""
    rows = min(flagged.values())
    return (f"# - Too fine for 'categories: estimate' at this epsilon: {', '.join(flagged)}. Most of their rows lie in\n"
            f"#   levels rarer than the ~{rows:,.0f} training rows a level needs to be found, so they would come back\n"
            "#   mostly '__other__': write their category lists in, bucket them into coarser levels, or drop\n"
            "#   them (role: identifier).\n")


def _as_config(document: dict[str, Any], out: Path) -> ReleaseConfig | None:
    try:
        return config_from_mapping(document, path=out.resolve())
    except ConfigError:  # the run will report it, key by key
        return None


def _written_as_decimals(data: Path, columns: list[tuple[str, str]]) -> list[str]:
    """Columns drafted 'integer' that Arrow's own inference read as floats (written '40.0'), for the comment."""
    if format_from_suffix(data) != "csv":
        return []
    reader = pacsv.open_csv(data, read_options=pacsv.ReadOptions(block_size=_SNIFF_BYTES))
    schema = reader.schema
    reader.close()
    return [name for name, kind in columns if kind == "integer" and pa.types.is_floating(schema.field(name).type)]


def _relative(path: Path, start: Path) -> str:
    import os

    return os.path.relpath(path, start)


def _dataset_name(data: Path) -> str:
    """The file's stem, made to fit the config's dataset pattern (starts with a letter or digit, <= 100)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", data.name.split(".")[0]).lstrip("_.-")
    return stem[:100] or "dataset"
