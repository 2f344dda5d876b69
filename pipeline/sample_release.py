"""`synthgate sample`: a new package of rows drawn from an old release's model, spending nothing.

Opens RUN (`Release.open`: measurements checked against the manifest's SHA-256, model rebuilt),
draws the request's rows (`conditional_sample`), and writes OUT atomically (publish.Staging):
synthetic.parquet (labelled synthetic), manifest.json naming the parent release and the request,
and a datasheet saying the rows are conditional or rebalanced. The ledger gets a history line with
zero spend. Reads no data: the input table may be gone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from synthgate.privacy.sample import NO_ROWS, write_synthetic

from .conditional_sample import SampleRequest, iter_request, strata_for
from .fake_ids import FabricatedColumns, FakeSpec
from .manifest import versions
from .publish import Staging, prepare_output_dir, sha256_file, write_error
from .release_package import Release
from .sample_datasheet import write_sample_datasheet

__all__ = ["SampleOptions", "SampleResult", "sample_release"]


class EventLedger(Protocol):
    def record_event(self, dataset: str, kind: str, detail: dict[str, object]) -> None: ...


@dataclass(frozen=True)
class SampleOptions:
    rows: int | None = None            # default: the parent release's row count
    where: dict[str, list[str]] = field(default_factory=dict)
    balance: str | None = None
    seed: int | None = None            # default: a fresh one, recorded
    allow_held: bool = False


@dataclass(frozen=True)
class SampleResult:
    path: Path
    sample_id: str
    manifest: dict[str, Any]


def sample_release(run: Path, *, out: Path, options: SampleOptions, ledger: EventLedger | None = None) -> SampleResult:
    """Write OUT from RUN's model; refuses (exit 2, one line) before writing anything."""
    release = Release.open(run)
    request = SampleRequest.build(release, options.rows, where=options.where, balance=options.balance,
                                  seed=options.seed, allow_held=options.allow_held)
    strata = strata_for(release, request)
    out = prepare_output_dir(Path(out))
    sample_id = f"{release.release_id}-sample-{secrets.token_hex(4)}"
    fabricated = FabricatedColumns([FakeSpec.from_json(f) for f in release.fabricated()], seed=request.seed,
                                   n_rows=request.n_rows)
    staging = Staging(out)
    try:
        written = write_synthetic(fabricated.add(iter_request(release, request, strata)),
                                  fabricated.schema(release.codec.arrow_schema), staging.root / "synthetic.parquet",
                                  csv_path=None, release_id=sample_id, head_rows=0, code_rows=NO_ROWS)
        manifest = _manifest(release, request, sample_id, [s.to_json() for s in strata])
        manifest["files"] = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size} for p in written.paths}
        manifest["files"].update(write_sample_datasheet(staging.root, manifest))
        staging.write_json("manifest.json", manifest)
        if ledger is not None:  # before the commit: no package without its history line
            ledger.record_event(release.manifest["dataset"], "sample",
                                {"sample_id": sample_id, "parent_release": release.release_id,
                                 "request": request.to_json(), "rows": request.n_rows, "spent_epsilon": 0.0})
        final = staging.commit()
    except OSError as exc:
        staging.abort()
        raise write_error(out, exc) from None
    except BaseException:
        staging.abort()
        raise
    return SampleResult(final, sample_id, manifest)


def _manifest(release: Release, request: SampleRequest, sample_id: str,
              strata: list[dict[str, Any]]) -> dict[str, Any]:
    """Public facts only: the parent's public manifest fields, the request, the conditioning method."""
    parent = release.manifest
    return {
        "synthetic": True,
        "kind": "sample",
        "release_id": sample_id,
        "dataset": parent["dataset"],
        "parent": {"release_id": release.release_id, "decision": parent.get("decision"), "held": release.held,
                   "manifest_sha256": sha256_file(release.package / "manifest.json"),
                   "measurements_sha256": parent["measurements_sha256"]},
        "request": request.to_json(),
        "conditioning": {"strata": strata,
                         "note": "post-processing of the parent's DP measurements: no data read, nothing spent"},
        "privacy": {"spent": {"epsilon": 0.0, "delta": 0.0},
                    "statement": "Drawn from the parent release's DP model; covered by the parent's guarantee."},
        "model": parent["model"],
        "rows": {"count": request.n_rows, "source": "request"},
        "schema": parent["schema"],
        "fabricated": list(release.fabricated()),
        "versions": versions(),
    }
