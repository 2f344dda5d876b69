"""Reading a release config: YAML text or an already-parsed mapping, validated against the schema,
every problem reported at once under the YAML key it belongs to."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from ..names import has_control, shown
from .rules import cross_field_problems
from .schema import ReleaseConfig, category_text
from .yaml12 import parse_yaml

__all__ = ["load_config", "config_from_mapping", "config_hash"]


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
            column_list.append({"name": category_text(name) if isinstance(name, bool) else str(name), **spec})
        data["columns"] = column_list
    elif columns is not None:
        problems.append(f"{where}: columns: expected a mapping from column name to its spec")
    for key in ("path", "config_hash"):
        if key in data:
            problems.append(f"{where}: {key}: unknown key")
    if not problems:
        try:
            config = ReleaseConfig.model_validate({**data, "path": path})
        except ValidationError as exc:
            # Field errors stop pydantic before the cross-field rules (target, delta, schema) run, and
            # those rules report only their first failure at the top level: check them here on the raw
            # mapping instead, each under its own key, so one pass shows every problem.
            errors = [err for err in exc.errors() if err["loc"]]
            cross = [f"{where}: {key}: {message}" for key, message in cross_field_problems(data)]
            problems += [f"{where}: {yaml_key(err, data)}: {_message(err)}" for err in errors] + cross
            if not problems:
                problems = [f"{where}: {yaml_key(err, data)}: {_message(err)}" for err in exc.errors()]
        else:
            return config.model_copy(update={"config_hash": config_hash(config)})
    raise ConfigError(f"{len(problems)} problem(s) in config:\n  " + "\n  ".join(problems))


def config_hash(config: ReleaseConfig) -> str:
    """SHA-256 of the validated config (defaults filled in, values normalised), so two files that say
    the same thing in different words hash alike. Where the file lies is not part of it, nor which
    engine counts the rows (both give the same release, statistically)."""
    canonical = config.model_dump_json(exclude={"path", "config_hash", "engine", "spark"})
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def yaml_key(error: Any, data: Any) -> str:
    """Pydantic's error location as the YAML key path (columns keyed by name). Locations also hold
    pydantic's own tags (union members, validators): a step that is not a key of the data is one of
    those, unless it is the last step of a missing key."""
    location = list(error["loc"])
    parts: list[str] = []
    node = data
    for i, step in enumerate(location):
        if isinstance(node, dict) and step in node:
            parts.append(str(step))
            node = node[step]
        elif isinstance(node, list | tuple) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
            if parts == ["columns"] and isinstance(node, dict) and "name" in node:
                parts.append(str(node["name"]))
            else:
                parts[-1:] = [f"{parts[-1]}[{step}]"] if parts else [f"[{step}]"]
        elif i == len(location) - 1 and error.get("type") == "missing" and isinstance(step, str):
            parts.append(step)
    return ".".join(parts) or "(top level)"


def _message(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")
