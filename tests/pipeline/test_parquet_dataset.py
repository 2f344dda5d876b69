"""A Parquet dataset (a folder of Parquet files, hive-partitioned) as the source of a release."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.configs import shipped_config
from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_RELEASED

def _config(tmp_path: Path, source: str) -> Path:
    return shipped_config("health_insurance", tmp_path, source={"path": source})


def test_a_hive_partitioned_parquet_folder_runs_end_to_end(tmp_path: Path, health_insurance: pd.DataFrame,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    frame = health_insurance
    pq.write_to_dataset(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "lake",
                        partition_cols=["region"])  # region=south/part-0.parquet, ...
    assert main(["run", str(_config(tmp_path, "lake")), "--out", str(tmp_path / "run")]) == EXIT_RELEASED, \
        capsys.readouterr().err
    report = pd.read_json(tmp_path / "run" / "internal" / "report.json", typ="series")
    assert report["rows"]["training"] + report["rows"]["holdout"] == len(frame)  # every file, every row
    synthetic = pd.read_parquet(tmp_path / "run" / "release" / "synthetic.parquet")
    assert set(synthetic["region"].dropna()) <= {"northeast", "midwest", "south", "west"}
    assert list(synthetic.columns) == list(frame.columns)


def test_a_folder_without_parquet_files_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "notes.txt").write_text("nothing here", encoding="utf-8")
    assert main(["run", str(_config(tmp_path, "lake")), "--out", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "holds no Parquet file" in err
