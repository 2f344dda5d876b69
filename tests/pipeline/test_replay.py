"""Replay: the same bytes from the stored DP measurements and seed, with the input gone and no spend."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from synthgate.pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / "../shared/datasets/health_insurance.csv").resolve()


def _config(tmp_path: Path, model: str) -> Path:
    """`graphical`: the tree alone (selection: mst); `graphical-aim`: with AIM's adaptive rounds."""
    source = tmp_path / "hi.csv"
    shutil.copy(DATA, source)
    text = (ROOT / "configs" / "health_insurance.yaml").read_text(encoding="utf-8")
    text = text.replace("path: ../../shared/datasets/health_insurance.csv", f"path: {source}")
    kind = {"graphical-aim": "graphical\n  selection: aim", "graphical": "graphical\n  selection: mst"}.get(model, model)
    text = text.replace("kind: graphical", f"kind: {kind}").replace("utility:", "utility:\n  sample_rows: 500")
    path = tmp_path / "hi.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("model", ["independent", "copula", "graphical", "graphical-aim"])
def test_replay_gives_the_same_bytes_without_the_data(model: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, model)
    run = tmp_path / "run"
    assert main(["run", str(config), "--out", str(run), "--seed", "11"]) in (0, 3)
    assert main(["budget", "show", "health_insurance", "--json"]) == 0
    capsys.readouterr()
    (tmp_path / "hi.csv").unlink()  # replay must not need the sensitive input
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 0
    assert capsys.readouterr().out.startswith("identical")
    assert json.loads((tmp_path / "again" / "replay.json").read_text())["identical"] is True
    assert main(["budget", "show", "health_insurance", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["batches"]) == 1  # replay spent nothing


def test_tampered_measurements_do_not_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            private_ledger: Path) -> None:
    """The manifest and the ledger carry the SHA-256 of the stored measurements; replay refuses any
    other file with one line, before it writes anything."""
    config = _config(tmp_path, "independent")
    run = tmp_path / "run"
    assert main(["run", str(config), "--out", str(run), "--seed", "3"]) in (0, 3)
    capsys.readouterr()
    stored_path = run / "internal" / "measurements.json"
    manifest = json.loads(next(run.glob("*/manifest.json")).read_text())
    assert manifest["measurements_sha256"] == hashlib.sha256(stored_path.read_bytes()).hexdigest()
    with sqlite3.connect(private_ledger) as db:
        (recorded,) = db.execute("SELECT measurements_hash FROM batches").fetchone()
    assert recorded == manifest["measurements_sha256"]
    stored = json.loads(stored_path.read_text())
    stored["measurements"][0]["noisy_counts"][0] += 500.0
    stored_path.write_text(json.dumps(stored))
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "SHA-256 differs" in err and str(stored_path) in err
    assert not (tmp_path / "again").exists()


def test_replay_of_something_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path), "--out", str(tmp_path / "x")]) == 2
    assert "no release/ or held/ package" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_a_failed_replay_write_is_one_line_and_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from synthgate.pipeline import replay as replay_module

    config = _config(tmp_path, "independent")
    run = tmp_path / "run"
    assert main(["run", str(config), "--out", str(run), "--seed", "3"]) in (0, 3)
    capsys.readouterr()

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(replay_module, "write_synthetic", no_space)
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot write the output (ENOSPC)" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hi.csv", "hi.yaml", "run"]  # no staging folder left
