"""The release manifest (public) and the internal report (never released).

The manifest holds only public config, DP-derived facts and file hashes: config hash, seed,
versions, model, budget and spend, the published schema (public or DP-estimated domains), the
synthetic row count (public config or a DP estimate) and the decision. The report adds the
non-DP figures about the real data for reviewers, and is marked internal.
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from synthgate.privacy.accountant import Accountant

from .config import ReleaseConfig
from .fake_ids import fake_specs
from .gate import Decision
from .outcome import Outcome
from .publish import sha256_file

__all__ = ["build_manifest", "build_report", "versions"]

_PACKAGES = ("synthgate", "numpy", "pandas", "pyarrow", "scikit-learn", "diffprivlib", "opendp", "great-expectations",
             "scipy")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


def _privacy(config: ReleaseConfig, accountant: Accountant, lifetime: dict[str, Any]) -> dict[str, Any]:
    spent = accountant.spent()
    return {
        "accounting": spent.accounting,
        "neighbouring": (f"add or remove one individual (column '{config.unit_column}', at most "
                         f"{config.contribution} row(s) each)" if config.unit_column else "add or remove one row"),
        "max_rows_per_individual": config.contribution,
        "budget": {"epsilon": config.privacy.epsilon, "delta": config.privacy.delta},
        "spent": spent.to_json(),
        "charges": [c.to_json() for c in accountant.charges],
        "dataset": lifetime,
    }


def _gate(config: ReleaseConfig, decision: Decision) -> dict[str, Any]:
    """The decision's grounds, as far as they may be published: DP figures with their noise."""
    if decision.outside_guarantee:
        statement = ("OUTSIDE THE GUARANTEE: this decision used exact, non-DP figures of the real data "
                     f"(gate.non_dp_checks: {', '.join(config.gate.non_dp_checks)}), so the decision itself "
                     "can reveal something about individuals; the synthetic rows are still DP.")
    else:
        statement = ("The decision was made on DP figures only (noisy counts charged under gate:* labels), "
                     "so it is covered by the same guarantee as the synthetic rows.")
    return {"share": config.gate.share, "hold_margin": config.gate.hold_margin,
            "outside_guarantee": decision.outside_guarantee, "statement": statement,
            "reasons": decision.reasons, "checks": decision.published_checks()}


def build_manifest(outcome: Outcome, *, lifetime: dict[str, Any], measurements_hash: str) -> dict[str, Any]:
    config, model = outcome.run.config, outcome.measured.model
    return {
        "synthetic": True,
        "release_id": outcome.run.release_id,
        "dataset": config.dataset,
        "config_hash": config.config_hash,
        "seed": outcome.run.seed,
        "versions": versions(),
        # A kind with no structure (schema, independent, copula) has no "structure" key, as before.
        "model": {"kind": model.kind, "bins": config.model.bins,
                  **({"structure": structure} if (structure := model.describe()) else {})},
        "privacy": _privacy(config, outcome.accountant, lifetime),
        "rows": {"count": outcome.measured.n_rows,
                 "source": "config" if config.output.rows != "estimate" else "dp-estimate"},
        "schema": outcome.domains.codec.describe(),
        # identifier/unit columns carried as fabricated stand-ins: made from the seed, never from data
        "fabricated": [spec.to_json() for spec in fake_specs(config.columns)],
        "decision": outcome.decision.decision,
        "gate": _gate(config, outcome.decision),
        "warnings": outcome.warnings,
        "files": {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in outcome.sampled.paths},
        # SHA-256 of internal/measurements.json: the DP measurements this spend produced (kept
        # internal, with the report); replay refuses any other file.
        "measurements_sha256": measurements_hash,
    }


def build_report(outcome: Outcome, *, lifetime: dict[str, Any]) -> dict[str, Any]:
    run, config, model = outcome.run, outcome.run.config, outcome.measured.model
    checked, decision, validated = outcome.checked, outcome.decision, outcome.validated
    details = dict(checked.details)
    if validated.units is not None:
        details["contribution_bounding"] = validated.units.summary(str(config.unit_column))
    estimated_by_column = {e.column: e.to_json() for e in outcome.domains.estimated}
    columns = []
    for spec, column in zip(config.attributes, details.get("columns", [])):
        columns.append({**column, "type": spec.type,
                        "domain_source": "dp-estimate" if spec.is_estimated else "config",
                        "estimate": estimated_by_column.get(spec.name),
                        "clamped_rows": outcome.encoded.clamped.get(spec.name)})
    return {
        "internal": True,
        "notice": "INTERNAL: contains non-DP figures computed on the real data. Never part of a release.",
        "release_id": run.release_id,
        "dataset": config.dataset,
        "config": {"path": str(config.path) if config.path else None, "hash": config.config_hash,
                   "model": config.model.kind, "target": config.utility.target},
        "decision": decision.decision,
        "package": outcome.folder,
        "reasons": decision.reasons,
        "checks": [{**c.to_json(), "exact_value": checked.exact.get(c.name)} for c in decision.checks],
        "gate": _gate(config, decision),
        "figures": {name: figure.to_json() for name, figure in checked.figures.items()},
        "exact_figures": checked.exact,
        "gate_queries": checked.queries,
        "details": {k: v for k, v in details.items() if k != "columns"},
        "notes": ["datetimes are read and written in UTC (naive times are taken as UTC)",
                  "values outside DP-estimated bounds are clamped to them; each column says how many",
                  "categories outside a DP-estimated list are merged into one '__other__' code"],
        "privacy": {**_privacy(config, outcome.accountant, lifetime), "plan": outcome.domains.plan.to_json()},
        "warnings": outcome.warnings + outcome.internal_warnings,
        "model_structure": model.describe() or None,
        "rows": {"training": validated.n_train, "holdout": validated.n_holdout, "synthetic": outcome.measured.n_rows,
                 "synthetic_source": "config" if config.output.rows != "estimate" else "dp-estimate"},
        "dropped_identifiers": list(config.identifiers),
        "columns": columns,
        "seed": run.seed,
        "versions": versions(),
        "timings_seconds": dict(outcome.timings),
    }
