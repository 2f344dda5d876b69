"""Config rules that span sections (a unit column and a database source, a target and the columns,
delta and estimated categories, ...), as (key, message) pairs.

They run twice: inside the schema's own validation, and on the raw mapping when field errors stop
pydantic before them, so one pass reports every problem under its own key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .schema import ESTIMATE, GateSpec, ModelSpec, OutputSpec, PrivacySpec, UtilitySpec

__all__ = ["cross_field_problems"]


def cross_field_problems(data: Any) -> list[tuple[str, str]]:
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
