"""`role: unit`: an individual with many rows counts once (up to `max_rows_per_unit`), never more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from services.configs import GATE_OFF
from synthgate.pipeline.cli import main
from synthgate.pipeline.config import load_config
from synthgate.pipeline.errors import EXIT_RELEASED, ConfigError
from synthgate.pipeline.split import SplitKey
from synthgate.pipeline.units import bound_contributions

SENTINEL = "PID-SENTINEL-7Q3"
HEAVY_ROWS = 300


def _table(seed: int = 0) -> pd.DataFrame:
    """400 people: most with one row, 50 with 2-4 rows, and one with 300 rows all in the rare dept 'Z'."""
    rng = np.random.default_rng(seed)
    people = [f"{SENTINEL}-{i:04d}" for i in range(400)]
    rows_each = np.ones(400, int)
    rows_each[:50] = rng.integers(2, 5, 50)
    pid = np.repeat(people, rows_each)
    frame = pd.DataFrame({"pid": pid, "age": rng.integers(18, 91, pid.size),
                          "dept": rng.choice(["a", "b", "c"], pid.size)})
    heavy = pd.DataFrame({"pid": f"{SENTINEL}-heavy", "age": 44, "dept": ["Z"] * HEAVY_ROWS})
    return pd.concat([frame, heavy], ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _config(tmp_path: Path, table: pd.DataFrame, *, pid_role: str = "unit", **privacy: Any) -> Path:
    source = tmp_path / "people.csv"
    table.to_csv(source, index=False)
    raw = {
        "dataset": "people",
        "source": {"path": str(source)},
        "columns": {"pid": {"role": pid_role},
                    "age": {"type": "integer", "bounds": [18, 90]},
                    "dept": {"type": "categorical", "categories": ["a", "b", "c", "Z"]}},
        "privacy": {"epsilon": 10.0, "delta": 1e-6, "lifetime_epsilon": 1000.0, "lifetime_delta": 1e-3, **privacy},
        "model": {"kind": "independent"},
        "gate": GATE_OFF,  # every DP gate check off: a finished run is released, exit 0
        "utility": {"sample_rows": 500},
    }
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _measured_dept(run: Path) -> tuple[float, float]:
    """(noisy count of dept 'Z', its noise's standard deviation) from the run's stored measurements."""
    stored = json.loads((run / "internal" / "measurements.json").read_text())
    (dept,) = [m for m in stored["measurements"] if m["columns"] == ["dept"]]
    return dept["noisy_counts"][3], dept["stddev"]


def test_each_individual_keeps_at_most_k_training_rows_and_sits_on_one_side(tmp_path: Path) -> None:
    table = _table()
    config = load_config(_config(tmp_path, table, max_rows_per_unit=2))
    key = SplitKey.fresh()
    rows = bound_contributions(config, key)
    assert rows is not None
    frame = pd.DataFrame({"pid": table["pid"], "held": rows.held, "dropped": rows.dropped})
    per_person = frame.groupby("pid").agg(held=("held", "mean"), rows=("held", "size"),
                                          dropped=("dropped", "sum"))
    assert set(per_person["held"].unique()) <= {0.0, 1.0}, "an individual was split across training and holdout"
    kept = per_person["rows"] - per_person["dropped"]
    # both sides are capped: the DP gate counts holdout rows too, with the same sensitivity k
    assert (kept == np.minimum(per_person["rows"], 2)).all()
    training = per_person[per_person["held"] == 0]
    assert rows.training_units == len(training)
    assert 0.1 < per_person["held"].mean() < 0.3     # about the configured 20% of individuals
    # Both passes of a run share its key, so they agree on who is held out; which rows a person
    # keeps comes from a fresh secure draw (the same split, with a different choice of rows).
    again = bound_contributions(config, key)
    assert again is not None and np.array_equal(again.held, rows.held)
    assert not np.array_equal(again.dropped, rows.dropped)
    # Another run's key: another split, whatever --seed says (the seed is published).
    other = bound_contributions(config, SplitKey.fresh())
    assert other is not None and not np.array_equal(other.held, rows.held)


def test_unit_ids_are_keyed_per_run_so_no_published_key_makes_two_ids_collide(tmp_path: Path) -> None:
    """pandas' fixed key let anyone build two ids that hash alike and so merge two people into one
    unit; with a per-run secret key pair (128 bits) distinct ids map to distinct keys."""
    ids = np.array([f"id-{i}" for i in range(50_000)], dtype=object)
    key = SplitKey.fresh()
    table = _table()
    config = load_config(_config(tmp_path, table))
    from synthgate.pipeline.units import _unit_keys

    keys = _unit_keys(config, "pid", key)
    pids = table["pid"].astype(str).to_numpy()
    distinct_ids = len(set(pids))
    assert len({tuple(k) for k in keys.tolist()}) == distinct_ids
    # the same id maps to the same key within a run, to a different one under another run's key
    other = _unit_keys(config, "pid", SplitKey.fresh())
    assert not np.array_equal(keys, other)
    import pandas.util as pu

    public = pu.hash_array(ids)  # the old, fixed key: anyone can compute it
    keyed = pu.hash_array(ids, hash_key=key.hash_key)
    assert not np.array_equal(public, keyed)


def test_a_duplicated_individual_gets_one_share_not_three_hundred(tmp_path: Path, capsys) -> None:
    bounded, unbounded = tmp_path / "bounded", tmp_path / "unbounded"
    bounded.mkdir()
    unbounded.mkdir()
    table = _table()
    code = main(["run", str(_config(bounded, table)), "--out", str(bounded / "run"), "--seed", "3"])
    out, err = capsys.readouterr()
    assert code == EXIT_RELEASED, err
    count, stddev = _measured_dept(bounded / "run")
    assert stddev < 3
    # The heavy individual is either held out (count 0) or in training with one row (count 1).
    assert count <= 1 + 6 * stddev
    report = json.loads((bounded / "run" / "internal" / "report.json").read_text())
    summary = json.dumps(report)
    assert '"max_rows_per_unit": 1' in summary and "training_rows_dropped" in summary
    manifest = json.loads(next((bounded / "run").glob("*/manifest.json")).read_text())
    assert manifest["privacy"]["max_rows_per_individual"] == 1
    assert "one individual" in manifest["privacy"]["neighbouring"]
    # How many rows the bound left out is an exact figure of the data: internal report only.
    assert any("contribution bounding" in w for w in report["warnings"])
    assert "contribution bounding" not in json.dumps(manifest)
    # The unit ids are dropped like identifiers: in no output file and no console line.
    for path in (bounded / "run").rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path.name
    assert SENTINEL not in out + err

    # The same table with the id only dropped (no unit): the person counts 300 times (less the holdout).
    code = main(["run", str(_config(unbounded, table, pid_role="identifier")), "--out", str(unbounded / "run"),
                 "--seed", "3"])
    capsys.readouterr()
    assert code == EXIT_RELEASED
    count_unbounded, _ = _measured_dept(unbounded / "run")
    assert count_unbounded > 100


def test_noise_grows_with_the_rows_each_individual_may_keep(tmp_path: Path, capsys) -> None:
    stddevs = []
    for k in (1, 4):
        folder = tmp_path / f"k{k}"
        folder.mkdir()
        code = main(["run", str(_config(folder, _table(), max_rows_per_unit=k)), "--out", str(folder / "run"),
                     "--seed", "3"])
        capsys.readouterr()
        assert code == EXIT_RELEASED
        stddevs.append(_measured_dept(folder / "run")[1])
    assert stddevs[1] == pytest.approx(4 * stddevs[0], rel=1e-3)  # discrete: not exactly sigma at small sigma


def test_a_row_without_its_individual_is_refused_without_quoting_anyone(tmp_path: Path, capsys) -> None:
    table = _table()
    table.loc[[3, 9], "pid"] = ""
    config = _config(tmp_path, table)
    code = main(["run", str(config), "--out", str(tmp_path / "run"), "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "column 'pid'" in err and "2 row(s)" in err and SENTINEL not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("columns", "privacy", "phrase"), [
    ({"p": {"role": "unit"}, "q": {"role": "unit"}}, {}, "only one column can have role: unit"),
    ({"p": {"role": "identifier"}}, {"max_rows_per_unit": 3}, "needs a column with role: unit"),
    ({"p": {"role": "unit", "bounds": [0, 9]}}, {}, "a unit column is dropped at load"),
    ({"p": {"role": "unit"}}, {"max_rows_per_unit": 0}, "max_rows_per_unit"),
])
def test_unit_config_mistakes_are_named(tmp_path: Path, columns: dict[str, dict[str, Any]], privacy: dict[str, Any],
                                        phrase: str) -> None:
    raw = {"dataset": "people", "source": {"path": "people.csv"},
           "columns": {**columns, "age": {"type": "integer", "bounds": [18, 90]}},
           "privacy": {"epsilon": 1.0, "delta": 1e-6, **privacy}}
    path = tmp_path / "release.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(ConfigError, match=phrase):
        load_config(path)


def test_unit_ids_that_are_not_text_are_refused_with_one_line(tmp_path: Path, capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = _table().head(200)
    source = tmp_path / "people.parquet"
    ids = [b"\xff\xfe" + str(i).encode() for i in range(len(table))]   # binary, not UTF-8
    pq.write_table(pa.table({"pid": pa.array(ids, pa.binary()), "age": table["age"], "dept": table["dept"]}), source)
    config = _config(tmp_path, table)
    raw = yaml.safe_load(config.read_text())
    raw["source"]["path"] = str(source)
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    code = main(["run", str(config), "--out", str(tmp_path / "run"), "--seed", "3"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "column 'pid'" in err and "role: unit" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
