"""Replay: rebuild a release's synthetic table from its stored DP measurements and seed.

No data is read and no budget is spent: the model is refitted from the noisy measurements
(post-processing) and sampled with the recorded seed, which drives sampling only. Matching
bytes prove the release is a function of the DP measurements, the public schema and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


from synthgate.privacy.sample import NO_ROWS, write_synthetic

from .fake_ids import FabricatedColumns, FakeSpec
from .publish import Staging, prepare_output_dir, sha256_file, write_error
from .release_package import Release

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
    release = Release.open(run)
    manifest, codec = release.manifest, release.codec
    out = prepare_output_dir(Path(out))
    staging = Staging(out)
    try:
        n_rows = int(manifest["rows"]["count"])
        fabricated = FabricatedColumns([FakeSpec.from_json(f) for f in release.fabricated()],
                                       seed=int(manifest["seed"]), n_rows=n_rows)
        written = write_synthetic(fabricated.add(release.iter_released_codes()),
                                  fabricated.schema(codec.arrow_schema), staging.root / "synthetic.parquet", csv_path=None,
                                  release_id=release.release_id, head_rows=0, code_rows=NO_ROWS)
        digest = sha256_file(written.paths[0])
        expected = manifest["files"]["synthetic.parquet"]["sha256"]
        result = {"identical": digest == expected, "sha256": digest, "expected_sha256": expected,
                  "source_run": str(run), "release_id": release.release_id}
        staging.write_json("replay.json", result)
        final = staging.commit()
    except OSError as exc:  # disk full, file too large: one clear line, nothing partial left
        staging.abort()
        raise write_error(out, exc) from None
    except BaseException:
        staging.abort()
        raise
    return ReplayResult(digest == expected, final / "synthetic.parquet", digest, expected)
