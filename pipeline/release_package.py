"""A finished run's release package, opened for post-processing (`replay`, `sample`, the library API).

`Release.open(RUN)` finds the package (release/ or held/), reads its manifest, checks the stored
measurements against the SHA-256 the manifest (and the ledger) recorded, and rebuilds the model
from them. No data is read and nothing is spent: fitting is post-processing of DP measurements.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from synthgate.privacy.domain import Measurement
from synthgate.privacy.models import Model, ModelSpec, build_model

from .encode import TableCodec, codec_from_description
from .errors import InputError
from .publish import sha256_file

__all__ = ["Release", "read_json"]

# A stored release without a recorded selection predates AIM: its graphical model was the tree (MST).
_SELECTION_BEFORE_AIM = "mst"


@dataclass(frozen=True)
class Release:
    """A run's package and the model rebuilt from its checked measurements."""

    run: Path
    package: Path          # RUN/release or RUN/held
    manifest: dict[str, Any]
    stored: dict[str, Any]  # internal/measurements.json
    codec: TableCodec
    model: Model

    @classmethod
    def open(cls, run: Path | str) -> Release:
        """Open RUN; InputError (exit 2) if it is not a complete run or its measurements changed."""
        run = Path(run)
        package = _package(run)
        manifest = read_json(package / "manifest.json")
        stored = read_json(_checked_measurements(run, package, manifest))
        codec = TableCodec([codec_from_description(name, d) for name, d in manifest["schema"].items()])
        model = build_model(_stored_spec(stored))
        model.restore(codec.domain, [Measurement.from_json(m) for m in stored["measurements"]],
                      stored.get("structure") or {})
        return cls(run, package, manifest, stored, codec, model)

    @property
    def held(self) -> bool:
        return self.package.name == "held"

    @property
    def release_id(self) -> str:
        return str(self.manifest["release_id"])

    @property
    def chunk_rows(self) -> int:
        return int(self.stored["chunk_rows"])

    def sample(self, n: int, *, where: Mapping[str, Any] | None = None, balance: str | None = None,
               seed: int | None = None, allow_held: bool = False) -> pa.Table:
        """n synthetic rows, optionally conditioned on `where` (column -> value, list of values, or
        (low, high) range) and balanced over `balance`'s levels: post-processing, no data, no spend.
        Fabricated identifier columns are not added here (`synthgate sample` adds them)."""
        from .conditional_sample import SampleRequest, iter_request

        request = SampleRequest.build(self, n, where=where, balance=balance, seed=seed, allow_held=allow_held)
        batches = [batch for _, batch in iter_request(self, request)]
        return pa.Table.from_batches(batches, schema=self.codec.arrow_schema)

    def iter_codes(self, n: int, rng: np.random.Generator) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
        """Unconditional (codes, decoded batch) chunks drawn from `rng`, in the run's chunk size."""
        from synthgate.privacy.sample import iter_synthetic

        return iter_synthetic(self.model, self.codec, n, rng, self.chunk_rows)

    def iter_released_codes(self) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
        """The released rows again, drawn as the run drew them: from the recorded seed, one generator for
        the whole table, or one a chunk when the run sampled chunk-seeded (on Spark)."""
        from synthgate.privacy.sample import CHUNK_SEEDED, iter_chunk_seeded

        n, seed = int(self.manifest["rows"]["count"]), int(self.manifest["seed"])
        sampling = self.stored.get("sampling")
        if sampling not in (None, CHUNK_SEEDED):
            raise InputError(f"{self.run}: the release was sampled as '{sampling}', which this version of "
                             "synthgate does not know; replay it with the version that made it")
        if sampling == CHUNK_SEEDED:
            return iter_chunk_seeded(self.model, self.codec, n, seed, self.chunk_rows)
        return self.iter_codes(n, np.random.default_rng(seed))

    def fabricated(self) -> Sequence[dict[str, Any]]:
        fabricated: Sequence[dict[str, Any]] = self.manifest.get("fabricated", [])
        return fabricated


def _stored_spec(stored: dict[str, Any]) -> ModelSpec:
    """The model spec a release recorded; parameters it did not record take the defaults it was made with."""
    params = stored.get("model_params", {})
    defaults = ModelSpec()
    return ModelSpec(kind=stored["model"], selection=params.get("selection", _SELECTION_BEFORE_AIM),
                     correlation_share=params.get("correlation_share", defaults.correlation_share),
                     groups=params.get("groups", defaults.groups))


def _checked_measurements(run: Path, package: Path, manifest: dict[str, Any]) -> Path:
    """The stored measurements, if their SHA-256 is the one the manifest (and the ledger) recorded."""
    path = run / "internal" / "measurements.json"
    expected = manifest.get("measurements_sha256")
    if not isinstance(expected, str):
        raise InputError(f"{package / 'manifest.json'}: no measurements_sha256; the release predates "
                         "measurement hashes and cannot be rebuilt safely")
    if not path.is_file():
        raise InputError(f"{path}: not found; replay and sample need a complete run directory")
    if sha256_file(path) != expected:
        raise InputError(f"{path}: its SHA-256 differs from the one in the manifest; the measurements were "
                         "changed after the run and cannot be used")
    return path


def _package(run: Path) -> Path:
    for name in ("release", "held"):
        if (run / name / "manifest.json").is_file():
            return run / name
    raise InputError(f"{run}: no release/ or held/ package with a manifest.json; give a run directory")


def read_json(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    except FileNotFoundError:
        raise InputError(f"{path}: not found; replay and sample need a complete run directory") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({type(exc).__name__})") from None
