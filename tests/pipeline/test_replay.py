"""Replay: the same bytes from the stored DP measurements and seed, with the input gone and no spend."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from services.cli import run_release
from services.configs import shipped_config
from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_RELEASED

# model kind -> the config's model section; `graphical`: the tree alone, `graphical-aim`: with AIM's rounds
MODELS = {"independent": {"kind": "independent"}, "copula": {"kind": "copula"},
          "graphical": {"kind": "graphical", "selection": "mst"},
          "graphical-aim": {"kind": "graphical", "selection": "aim"}}


def _config(tmp_path: Path, hi_csv: Path, model: str) -> Path:
    """The shipped health_insurance config on a private copy of its table, every gate check off."""
    return shipped_config("health_insurance", tmp_path, source={"path": str(hi_csv)}, model=MODELS[model])


@pytest.mark.parametrize("model", list(MODELS))
def test_replay_gives_the_same_bytes_without_the_data(model: str, tmp_path: Path, hi_csv: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, hi_csv, model)
    run = tmp_path / "run"
    assert run_release(config, run, "--seed", "11") == EXIT_RELEASED
    stored = json.loads((run / "internal" / "measurements.json").read_text())
    assert stored["model"] == MODELS[model]["kind"]
    if model.startswith("graphical"):  # the selection the run recorded, and so the one replay rebuilds
        assert stored["model_params"]["selection"] == MODELS[model]["selection"]
    if model == "graphical":  # the tree alone ran: 1- and 2-way marginals only, the 2-way ones a spanning tree
        widths = sorted(len(m["columns"]) for m in stored["measurements"])
        assert set(widths) == {1, 2} and widths.count(2) == widths.count(1) - 1 == len(stored["structure"]["edges"])
    if model == "graphical-aim":
        assert stored["structure"]["selection"] == "aim"
    assert main(["budget", "show", "health_insurance", "--json"]) == 0
    capsys.readouterr()
    hi_csv.unlink()  # replay must not need the sensitive input
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 0
    assert capsys.readouterr().out.startswith("identical")
    assert json.loads((tmp_path / "again" / "replay.json").read_text())["identical"] is True
    assert main(["budget", "show", "health_insurance", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["batches"]) == 1  # replay spent nothing


def test_tampered_measurements_do_not_replay(tmp_path: Path, hi_csv: Path, capsys: pytest.CaptureFixture[str],
                                            private_ledger: Path) -> None:
    """The manifest and the ledger carry the SHA-256 of the stored measurements; replay refuses any
    other file with one line, before it writes anything."""
    config = _config(tmp_path, hi_csv, "independent")
    run = tmp_path / "run"
    assert run_release(config, run, "--seed", "3") == EXIT_RELEASED
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


def test_a_failed_replay_write_is_one_line_and_leaves_nothing(tmp_path: Path, hi_csv: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from synthgate.pipeline import replay as replay_module

    config = _config(tmp_path, hi_csv, "independent")
    run = tmp_path / "run"
    assert run_release(config, run, "--seed", "3") == EXIT_RELEASED
    capsys.readouterr()

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(replay_module, "write_synthetic", no_space)
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot write the output (ENOSPC)" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hi.csv", "release.yaml", "run"]  # no staging folder left
