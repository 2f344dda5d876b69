"""Replay: rebuild a release's synthetic table from its stored DP measurements and seed.

No data is read and no budget is spent: the model is refitted from the noisy measurements
(post-processing) and sampled with the recorded seed, which drives sampling only. Matching
bytes prove the release is a function of the DP measurements, the public schema and the seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthgate.privacy.domain import Measurement
from synthgate.privacy.models import ModelSpec, build_model
from synthgate.privacy.sample import iter_synthetic, write_synthetic

from .encode import TableCodec, codec_from_description
from .errors import InputError
from .fake_ids import FabricatedColumns, FakeSpec
from .publish import Staging, prepare_output_dir, sha256_file, write_error

__all__ = ["ReplayResult", "replay_release"]


@dataclass(frozen=True)
class ReplayResult:
    identical: bool
    path: Path
    sha256: str
    expected_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"identical": self.identical, "path": str(self.path), "sha256": self.sha256,
                "expected_sha256": self.expected_sha256}


def replay_release(run: Path, *, out: Path) -> ReplayResult:
    """Re-create `run`'s synthetic.parquet under `out` and compare it, byte for byte, with the manifest."""
    run = Path(run)
    manifest = _read_json(_package(run) / "manifest.json")
    stored = _read_json(_checked_measurements(run, manifest))
    out = prepare_output_dir(Path(out))
    codec = TableCodec([codec_from_description(name, d) for name, d in manifest["schema"].items()])
    model = build_model(_stored_spec(stored))
    measurements = [Measurement.from_json(m) for m in stored["measurements"]]
    model.restore(codec.domain, measurements, stored.get("structure") or {})
    rng = np.random.default_rng(int(manifest["seed"]))
    staging = Staging(out)
    try:
        n_rows = int(manifest["rows"]["count"])
        fabricated = FabricatedColumns([FakeSpec.from_json(f) for f in manifest.get("fabricated", [])],
                                       seed=int(manifest["seed"]), n_rows=n_rows)
        written = write_synthetic(fabricated.add(iter_synthetic(model, codec, n_rows, rng, int(stored["chunk_rows"]))),
                                  fabricated.schema(codec.arrow_schema), staging.root / "synthetic.parquet", csv_path=None,
                                  release_id=str(manifest["release_id"]), head_rows=0)
        digest = sha256_file(written.paths[0])
        expected = manifest["files"]["synthetic.parquet"]["sha256"]
        result = {"identical": digest == expected, "sha256": digest, "expected_sha256": expected,
                  "source_run": str(run), "release_id": manifest["release_id"]}
        staging.write_json("replay.json", result)
        final = staging.commit()
    except OSError as exc:  # disk full, file too large: one clear line, nothing partial left
        staging.abort()
        raise write_error(out, exc) from None
    except BaseException:
        staging.abort()
        raise
    return ReplayResult(digest == expected, final / "synthetic.parquet", digest, expected)


# A stored release without a recorded selection predates AIM: its graphical model was the tree (MST).
_SELECTION_BEFORE_AIM = "mst"


def _stored_spec(stored: dict[str, Any]) -> ModelSpec:
    """The model spec a release recorded; parameters it did not record take the defaults it was made with."""
    params = stored.get("model_params", {})
    defaults = ModelSpec()
    return ModelSpec(kind=stored["model"], selection=params.get("selection", _SELECTION_BEFORE_AIM),
                     correlation_share=params.get("correlation_share", defaults.correlation_share),
                     groups=params.get("groups", defaults.groups))


def _checked_measurements(run: Path, manifest: dict[str, Any]) -> Path:
    """The stored measurements, if their SHA-256 is the one the manifest (and the ledger) recorded."""
    path = run / "internal" / "measurements.json"
    expected = manifest.get("measurements_sha256")
    if not isinstance(expected, str):
        raise InputError(f"{_package(run) / 'manifest.json'}: no measurements_sha256; the release predates "
                         "measurement hashes and cannot be replayed safely")
    if not path.is_file():
        raise InputError(f"{path}: not found; replay needs a complete run directory")
    if sha256_file(path) != expected:
        raise InputError(f"{path}: its SHA-256 differs from the one in the manifest; the measurements were "
                         "changed after the run and cannot be replayed")
    return path


def _package(run: Path) -> Path:
    for name in ("release", "held"):
        if (run / name / "manifest.json").is_file():
            return run / name
    raise InputError(f"{run}: no release/ or held/ package with a manifest.json; give a run directory")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    except FileNotFoundError:
        raise InputError(f"{path}: not found; replay needs a complete run directory") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({type(exc).__name__})") from None
