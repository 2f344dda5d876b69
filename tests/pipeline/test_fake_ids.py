"""Fabricated identifiers (`fake:`): realistic stand-ins made from the sampling seed alone, never from
the real column; unique where the kind implies it; the same on replay; said so in the datasheet."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from services.configs import HEALTH_INSURANCE, edit_config, shipped_config
from synthgate.pipeline.cli import main
from synthgate.pipeline.config import config_from_mapping
from synthgate.pipeline.errors import EXIT_RELEASED, ConfigError
from synthgate.pipeline.fake_ids import FabricatedColumns, FakeSpec, fake_specs

SENTINEL = "Quillfeather-Zebedee-880031"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fake")
    frame = pd.read_csv(HEALTH_INSURANCE).iloc[:2500]
    frame.insert(0, "patient", [f"Real Person {i:05d}" for i in range(len(frame))])
    frame.loc[17, "patient"] = SENTINEL  # a real-looking name that must never come out
    frame.insert(1, "mrn", [f"MRN-{i:07d}" for i in range(len(frame))])  # real ids in the fake's own format
    frame["visit"] = [f"visit-{i}" for i in range(len(frame))]
    frame.to_csv(root / "hi.csv", index=False)
    config = shipped_config("health_insurance", root, source={"path": "hi.csv"}, columns_first={
        "patient": {"role": "identifier", "fake": "name", "locale": "en_GB"},
        "mrn": {"role": "identifier", "fake": "pattern", "pattern": "MRN-#######"}})
    edit_config(config, columns={"visit": {"role": "identifier", "fake": "uuid"}})  # after the shipped columns
    assert main(["run", str(config), "--out", str(root / "run"), "--seed", "4"]) == EXIT_RELEASED
    return root / "run"


def test_fabricated_columns_sit_where_the_config_puts_them(run: Path) -> None:
    synthetic = pd.read_parquet(run / "release" / "synthetic.parquet")
    assert list(synthetic.columns)[:2] == ["patient", "mrn"] and list(synthetic.columns)[-1] == "visit"
    assert synthetic["mrn"].str.fullmatch(r"MRN-\d{7}").all()
    assert synthetic["visit"].str.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}").all()
    assert synthetic["mrn"].is_unique and synthetic["visit"].is_unique  # kinds that imply uniqueness
    assert synthetic["patient"].str.len().gt(3).all()


def test_no_real_identifier_reaches_any_output(run: Path) -> None:
    """The real columns are never read; the sentinel and every real id are absent from every file."""
    synthetic = pd.read_parquet(run / "release" / "synthetic.parquet")
    assert not synthetic["patient"].str.startswith("Real Person").any()
    for path in run.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SENTINEL.encode() not in data and b"Real Person" not in data and b"visit-1" not in data, path


def test_replay_makes_the_same_fabricated_values(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(run), "--out", str(tmp_path / "again")]) == 0
    assert capsys.readouterr().out.startswith("identical")


def test_the_datasheet_says_the_columns_are_fabricated(run: Path) -> None:
    sheet = (run / "release" / "DATASHEET.md").read_text(encoding="utf-8")
    assert "| patient | name (fabricated) |" in sheet and "never from the real column" in sheet


def test_a_unit_gets_a_fresh_id_per_row_and_the_seed_fixes_the_values() -> None:
    spec = FakeSpec("pid", "ssn", 0, unit=True)
    base = pa.RecordBatch.from_arrays([pa.array(np.arange(3000))], names=["x"])

    def ids(seed: int) -> list[str]:
        columns = FabricatedColumns([spec], seed=seed, n_rows=6000)
        out = [b.column(0).to_pylist() for _, b in columns.add(iter([(np.zeros(0), base), (np.zeros(0), base)]))]
        return out[0] + out[1]

    first = ids(1)
    assert len(set(first)) == 6000  # unique across chunks too
    assert ids(1) == first and ids(2) != first


def test_a_pattern_with_too_few_digits_is_unique_only_when_it_can_be() -> None:
    assert FakeSpec("m", "pattern", 0, pattern="M-####").unique_for(500)
    assert not FakeSpec("m", "pattern", 0, pattern="M-##").unique_for(500)
    assert FakeSpec("m", "uuid", 0).unique_for(10**9)
    assert not FakeSpec("m", "name", 0).unique_for(10)


_BASE: dict[str, Any] = {"dataset": "t", "source": {"path": "t.csv"}, "privacy": {"epsilon": 1.0},
                         "columns": {"id": {"role": "identifier"}, "a": {"type": "integer", "bounds": [0, 9]}}}


@pytest.mark.parametrize(("column", "message"), [
    ({"type": "integer", "bounds": [0, 9], "fake": "name"}, "role: identifier or unit"),
    ({"role": "identifier", "fake": "pattern"}, "fake: pattern needs a pattern"),
    ({"role": "identifier", "fake": "pattern", "pattern": "MRN-XXXX"}, "at least one '#'"),
    ({"role": "identifier", "locale": "de_DE"}, "'locale' goes with 'fake'"),
    ({"role": "identifier", "fake": "passport"}, "fake"),
])
def test_bad_fake_settings_are_config_errors(column: dict[str, Any], message: str) -> None:
    raw = copy.deepcopy(_BASE)
    raw["columns"]["id"] = column
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(raw)


def test_positions_count_only_the_columns_the_table_has() -> None:
    raw = copy.deepcopy(_BASE)
    raw["columns"] = {"drop": {"role": "identifier"}, "a": {"type": "integer", "bounds": [0, 9]},
                      "id": {"role": "identifier", "fake": "uuid"}}
    (spec,) = fake_specs(config_from_mapping(raw).columns)
    assert (spec.name, spec.position) == ("id", 1)


def test_sample_fabricates_afresh_and_never_a_real_identifier(run: Path, tmp_path: Path) -> None:
    """`synthgate sample` adds the fabricated columns from its own seed: no real id or the sentinel
    anywhere in its package, and uuid/pattern/unit-like kinds unique over the sample."""
    out = tmp_path / "sampled"
    assert main(["sample", str(run), "--out", str(out), "--rows", "3000", "--balance", "insurance",
                 "--seed", "12"]) == EXIT_RELEASED
    synthetic = pd.read_parquet(out / "synthetic.parquet")
    assert list(synthetic.columns)[:2] == ["patient", "mrn"] and list(synthetic.columns)[-1] == "visit"
    assert synthetic["mrn"].is_unique and synthetic["visit"].is_unique
    real = pd.read_csv(run.parent / "hi.csv")
    for column in ("patient", "visit"):  # mrn: real ids share the fake's format, so a chance match is possible
        assert not set(synthetic[column]) & set(real[column].astype(str)), column
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SENTINEL.encode() not in data and b"Real Person" not in data and b"visit-1" not in data, path
