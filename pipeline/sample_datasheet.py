"""The datasheet of a sample package: says where the rows come from and why their shares are not
the population's. Built from the sample's manifest only (public request, parent's public facts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .publish import sha256_file, to_json_text

__all__ = ["write_sample_datasheet"]


def _caveat(request: dict[str, Any]) -> str:
    parts = []
    if request["where"]:
        parts.append("drawn only where " + " and ".join(
            f"{c} is {' or '.join(vs)}" for c, vs in request["where"].items()))
    if request["balance"]:
        parts.append(f"rebalanced to equal counts per level of {request['balance']}")
    if not parts:
        return "An unconditional sample of the model: its shares are the model's estimate of the population's."
    return ("These rows are " + "; ".join(parts) + ". They do NOT reflect the population's proportions: shares of "
            "the conditioned or balanced columns, and any figure that mixes them, describe the request, not the table. "
            "Within each condition, rows follow the model's conditional distribution.")


def build_sample_datasheet(manifest: dict[str, Any]) -> dict[str, Any]:
    parent, request = manifest["parent"], manifest["request"]
    return {
        "datasheet_version": 1, "synthetic": True, "sample_id": manifest["release_id"], "dataset": manifest["dataset"],
        "what": (f"Synthetic rows drawn from the DP model of release {parent['release_id']} ('{manifest['model']['kind']}' "
                 "model), rebuilt from its stored DP measurements. Post-processing only: no data was read and no "
                 "privacy budget was spent (epsilon 0); the parent release's guarantee covers these rows."),
        "not_the_population": _caveat(request),
        "request": request,
        "conditioning": manifest["conditioning"],
        "parent": parent,
        "rows": manifest["rows"],
        "fabricated_columns": [f["name"] for f in manifest.get("fabricated", [])],
    }


def render_sample_datasheet(sheet: dict[str, Any]) -> str:
    parent = sheet["parent"]
    lines = [f"# Datasheet: conditional sample {sheet['sample_id']} of {sheet['dataset']}", "", sheet["what"], "",
             "## Not the population's proportions", "", sheet["not_the_population"], "",
             "## Request", "", f"- rows: {sheet['request']['rows']:,}",
             f"- where: {sheet['request']['where'] or '(none)'}", f"- balance: {sheet['request']['balance'] or '(none)'}",
             f"- seed: {sheet['request']['seed']} (drives sampling only)", "",
             "## How the rows were drawn", "", "| stratum | model probability | method |", "| --- | --- | --- |"]
    lines += [f"| {s['label']} | {s['probability']:.4g} | {s['method']} |" for s in sheet["conditioning"]["strata"]]
    lines += ["", "## Parent release", "", f"- release: {parent['release_id']} (decision {parent['decision']}"
              + (", HELD by the gate: sampled with --allow-held" if parent["held"] else "") + ")",
              f"- measurements SHA-256: {parent['measurements_sha256']}", ""]
    if sheet["fabricated_columns"]:
        lines += ["Fabricated columns (from the seed alone, never from the real column): "
                  + ", ".join(sheet["fabricated_columns"]), ""]
    return "\n".join(lines)


def write_sample_datasheet(package: Path, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """DATASHEET.md and datasheet.json; their manifest entries (sha256, bytes) by name."""
    sheet = build_sample_datasheet(manifest)
    paths = [package / "DATASHEET.md", package / "datasheet.json"]
    paths[0].write_text(render_sample_datasheet(sheet), encoding="utf-8")
    paths[1].write_text(to_json_text(sheet, indent=2) + "\n", encoding="utf-8")
    return {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in paths}
