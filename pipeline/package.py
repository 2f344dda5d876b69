"""Stage 8, publish: write the run directory from the run's outcome, all inside the staging folder,
and move it into place in one rename.

    internal/measurements.json  the DP measurements (hashed into manifest and ledger, for replay)
    release/ or held/           synthetic.parquet (+ .csv), manifest.json, DATASHEET.md, datasheet.json
    internal/report.json|html   the internal report (exact figures: owner-only, never released)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .datasheet import write_datasheet
from .manifest import build_manifest, build_report
from .outcome import Outcome
from .publish import Staging, sha256_file

__all__ = ["Published", "write_package"]

Published = dict[str, str]  # "run", "release" or "held", "report_html", "report_json" -> path


def write_package(staging: Staging, outcome: Outcome, *, lifetime: dict[str, Any]) -> tuple[Published, str]:
    """Write and commit the run directory; (its paths, the SHA-256 of its measurements)."""
    run, folder = outcome.run, outcome.folder
    package = staging.root / "package"
    # The measurements first: their hash goes into the manifest and the ledger, so replay and
    # sample can refuse a file that is not the one this spend produced.
    staging.write_json("internal/measurements.json", _measurements(outcome))
    measurements_hash = sha256_file(staging.root / "internal" / "measurements.json")
    manifest = build_manifest(outcome, lifetime=lifetime, measurements_hash=measurements_hash)
    manifest["files"].update(write_datasheet(package, manifest=manifest, checks=outcome.decision.published_checks(),
                                             config=run.config))  # DATASHEET.md, datasheet.json: DP figures only
    staging.write_json("package/manifest.json", manifest)
    report = build_report(outcome, lifetime=lifetime)
    from synthgate.quality.report.html import render_html

    staging.write_json("internal/report.json", report)
    staging.write_text("internal/report.html", render_html(report))
    _restrict(staging.root / "internal", *([package] if folder == "held" else []))
    package.rename(staging.root / folder)
    final = staging.commit()
    paths = {"run": str(final), folder: str(final / folder), "report_html": str(final / "internal" / "report.html"),
             "report_json": str(final / "internal" / "report.json")}
    return paths, measurements_hash


def _measurements(outcome: Outcome) -> dict[str, Any]:
    """What replay needs besides the manifest: the model's DP measurements and its parameters."""
    config, model = outcome.run.config, outcome.measured.model
    return {"release_id": outcome.run.release_id, "seed": outcome.run.seed, "rows": outcome.measured.n_rows,
            "model": model.kind,
            "model_params": {"groups": config.model.groups, "correlation_share": config.model.correlation_share,
                             "selection": config.model.selection},
            "chunk_rows": config.output.chunk_rows, "structure": model.structure(),
            # how the rows were drawn, when not from one generator (Spark: a seeded generator a chunk)
            **({"sampling": outcome.sampled.sampling} if outcome.sampled.sampling else {}),
            "measurements": [m.to_json() for m in model.measurements_]}


def _restrict(*directories: Path) -> None:
    """Internal reports, and held packages (not cleared for release), are readable by the owner only."""
    for directory in directories:
        directory.chmod(0o700)
        for path in directory.iterdir():
            path.chmod(0o600)
