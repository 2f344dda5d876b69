"""Releases frozen before a refactor replay to the same bytes after it.

`tests/fixtures/replay_releases/` holds the manifest and DP measurements of five releases made on
2026-12-03 (before the stage/accounting/model refactor of issue 10) by
`tests/fixtures/make_replay_releases.py`: the independent, copula, tree and AIM models on acs12,
and AIM with a fabricated identifier on health_insurance. Replay reads only those two files; any
change to how a stored release is refitted, sampled, encoded or written shows here as other bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from synthgate.pipeline.replay import replay_release

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "replay_releases"
CASES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def test_every_frozen_release_is_here() -> None:
    assert CASES == ["acs12-aim", "acs12-copula", "acs12-independent", "acs12-tree", "health_insurance-aim-fake"]


@pytest.mark.parametrize("name", CASES)
def test_a_frozen_release_replays_to_its_bytes(name: str, tmp_path: Path) -> None:
    run = tmp_path / name
    shutil.copytree(FIXTURES / name, run)
    result = replay_release(run, out=tmp_path / "again")
    manifest = json.loads(next(run.glob("*/manifest.json")).read_text(encoding="utf-8"))
    assert result.expected_sha256 == manifest["files"]["synthetic.parquet"]["sha256"]
    assert result.sha256 == result.expected_sha256, f"{name} no longer replays to the bytes it was released with"
