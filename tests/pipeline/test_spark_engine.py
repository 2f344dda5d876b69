"""`engine: spark` gives what the local engine gives: the same keyed split and check samples on a
shared table, exact counts equal to numpy's (so the same sampler then adds the same noise), and an
end-to-end release whose measurements agree with the local engine's within noise; no Java is one
clear error line, exit 2. One SparkSession (local[2]) for all of them: the `spark` fixture."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from scipy import stats

from services.cli import invoke
from services.codecs import stand_in_codec
from services.configs import GATE_PASSES, REMOVE, SHARED, edit_config, shipped_config
from synthgate.pipeline.config import ReleaseConfig, load_config
from synthgate.pipeline.encode import TableCodec, codec_from_spec
from synthgate.pipeline.engine import open_engine
from synthgate.pipeline.run import RunOptions, run_release
from synthgate.pipeline.split import SplitKey
from synthgate.privacy.counts import ArrayCounts
from synthgate.privacy.ledger import Ledger

pytestmark = pytest.mark.spark


def _config(tmp_path: Path, engine: str, table: str = "acs12", **sections: dict[str, Any]) -> ReleaseConfig:
    folder = tmp_path / engine
    folder.mkdir()
    source = sections.pop("source", {"path": str(SHARED / f"{table}.csv")})
    path = shipped_config(table, folder, source=source, gate=GATE_PASSES, **sections)
    if engine == "spark":
        raw = yaml.safe_load(edit_config(path, spark={"master": "local[2]"}).read_text(encoding="utf-8"))
        path.write_text(yaml.safe_dump({**raw, "engine": "spark"}, sort_keys=False), encoding="utf-8")
    return load_config(path)


def _with_engine(config: ReleaseConfig, engine: str) -> ReleaseConfig:
    return config.model_copy(update={"engine": engine})


def _sorted_rows(codes: np.ndarray) -> np.ndarray:
    return codes[np.lexsort(codes.T[::-1])]


def test_same_split_samples_and_training_rows_as_the_local_engine(spark: Any, tmp_path: Path) -> None:
    loaded = _config(tmp_path, "local")  # acs12: estimated bounds and categories
    # the marginal checks count a 1,000-row keyed sample of the ~1,600 training rows: the same rows on both engines
    config = loaded.model_copy(update={"gate": loaded.gate.model_copy(update={"sample_rows": 1000})})
    key = SplitKey.reproducible_for_benchmarks(11)
    found = {}
    for engine_name in ("local", "spark"):
        with open_engine(_with_engine(config, engine_name), key, tmp_path / f"out-{engine_name}") as engine:
            validated = engine.validate()
            training = engine.encode(stand_in_codec(config))
        found[engine_name] = (validated, training)
    (local, local_codes), (on_spark, spark_codes) = found["local"], found["spark"]
    assert (on_spark.n_train, on_spark.n_holdout) == (local.n_train, local.n_holdout)
    pd.testing.assert_frame_equal(on_spark.train_sample, local.train_sample)
    pd.testing.assert_frame_equal(on_spark.holdout_sample, local.holdout_sample)
    # every training row: the same exact counts (the codes stay on Spark; every 1- and 2-way marginal)
    assert spark_codes.rows == local_codes.rows == local.n_train
    assert spark_codes.counts is not None and local_codes.counts is None
    sizes = stand_in_codec(config).domain.sizes
    local_counts = ArrayCounts(local_codes.codes)
    for pair in itertools.combinations_with_replacement(range(len(sizes)), 2):
        columns = sorted(set(pair))
        np.testing.assert_array_equal(spark_codes.counts.counts(columns, [sizes[j] for j in columns], [None] * len(columns)),
                                      local_counts.counts(columns, [sizes[j] for j in columns], [None] * len(columns)))
    # only the marginal checks' sample came to the driver: the same 1,000 rows as the local engine's
    assert len(local.check_rows) == len(on_spark.check_rows) == len(spark_codes.codes) == 1000
    np.testing.assert_array_equal(_sorted_rows(spark_codes.codes[on_spark.check_rows]),
                                  _sorted_rows(local_codes.codes[local.check_rows]))
    assert dict(spark_codes.clamped) == dict(local_codes.clamped)
    assert local.statistics.columns  # acs12 estimates domains: the statistics are the same exact numbers
    assert on_spark.statistics == local.statistics


@pytest.mark.parametrize("driver_rows", [2_000_000, 0])  # distinct rows to the driver; one group-by a marginal
def test_exact_counts_equal_numpy_counts(spark: Any, driver_rows: int) -> None:
    from synthgate.pipeline.spark_engine import SparkCounts

    rng = np.random.default_rng(5)
    sizes = np.array([2, 3, 7, 16, 5, 40])
    codes = np.column_stack([rng.integers(0, s, 3000) for s in sizes]).astype(np.int8)
    frame = spark.createDataFrame(pa.table({f"c{j}": codes[:, j] for j in range(len(sizes))})).cache()
    on_spark = SparkCounts(frame, len(sizes), len(codes), driver_rows=driver_rows)
    local = ArrayCounts(codes)
    for got, want in zip(on_spark.code_range(), local.code_range()):
        np.testing.assert_array_equal(got, want)
    for _ in range(12 if driver_rows else 4):
        columns = [int(j) for j in rng.choice(len(sizes), size=rng.integers(1, 4), replace=False)]
        groupings = [rng.integers(0, 3, sizes[j]) if rng.random() < 0.4 else None for j in columns]
        shape = [int(g.max()) + 1 if g is not None else int(sizes[j]) for j, g in zip(columns, groupings)]
        np.testing.assert_array_equal(on_spark.counts(columns, shape, groupings), local.counts(columns, shape, groupings))
    assert on_spark.counts([], [], []).tolist() == [len(codes)]


def _measurements(result: Any) -> dict[str, dict[str, Any]]:
    path = Path(result.paths["run"]) / "internal" / "measurements.json"
    return {m["label"]: m for m in json.loads(path.read_text(encoding="utf-8"))["measurements"]}


@pytest.mark.slow  # two whole runs, one on Spark: about a minute
def test_a_spark_release_measures_what_the_local_engine_measures_within_noise(spark: Any, tmp_path: Path) -> None:
    # Same config and split key on both engines: the training rows, hence every exact count, are the
    # same, and each measurement both runs took differs by two independent noise draws (sd √2·σ per
    # cell). Σ z² over all shared cells is then χ² with one degree of freedom a cell: the test fails
    # by chance with probability 1e-4. (Normal approximation of the discrete Gaussian; at σ of a few
    # counts it is within 1e-3 of the normal's variance.)
    config = _config(tmp_path, "spark", table="health_insurance")
    key = SplitKey.reproducible_for_benchmarks(3)
    results = {}
    for engine in ("local", "spark"):
        results[engine] = run_release(_with_engine(config, engine), out=tmp_path / f"run-{engine}",
                                      ledger=Ledger(tmp_path / f"{engine}.sqlite"), seed=1,
                                      options=RunOptions(split_key=key))
    local, on_spark = results["local"], results["spark"]
    assert on_spark.released and local.released
    assert sorted(on_spark.figures) == sorted(local.figures)  # the same checks ran
    a, b = _measurements(local), _measurements(on_spark)
    # Only marginals over whole domains: AIM measures some over groups drawn from earlier noisy counts,
    # and those groups differ between the runs. health_insurance's domains are all public.
    size = dict(zip([c.name for c in config.attributes],
                    TableCodec([codec_from_spec(c, bins=config.model.bins) for c in config.attributes]).domain.sizes))
    shared = [label for label in a if label in b and a[label]["kind"] == "counts"
              and a[label]["shape"] == b[label]["shape"] == [size[c] for c in a[label]["columns"]]]
    assert len(shared) >= len(config.attributes)  # at least the one-way marginals both models start from
    z = np.concatenate([(np.array(a[label]["noisy_counts"]) - np.array(b[label]["noisy_counts"]))
                        / (np.sqrt(2) * a[label]["stddev"]) for label in shared])
    assert stats.chi2.sf(float(z @ z), df=z.size) > 1e-4
    release = Path(on_spark.paths["release"])
    assert len(pd.read_parquet(release / "synthetic.parquet").columns) == len(config.attributes)


def test_no_java_is_one_error_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    config = _config(tmp_path, "spark", table="health_insurance")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    code, out, err = invoke(["run", str(config.path), "--out", str(tmp_path / "out")])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Java runtime" in lines[0] and "engine: spark" in lines[0], err


def test_a_holdout_file_gives_the_local_engine_s_split_and_a_bad_cell_names_it(spark: Any, tmp_path: Path) -> None:
    frame = pd.read_csv(SHARED / "health_insurance.csv")
    train, held = tmp_path / "train.csv", tmp_path / "held.csv"
    frame.iloc[:1500].to_csv(train, index=False)
    frame.iloc[1500:2000].to_csv(held, index=False)
    sections: dict[str, Any] = {"source": {"path": str(train)}, "holdout": {"path": str(held), "fraction": REMOVE}}
    loaded = _config(tmp_path, "local", table="health_insurance", **sections)
    key = SplitKey.reproducible_for_benchmarks(5)
    found = {}
    for engine_name in ("local", "spark"):
        with open_engine(_with_engine(loaded, engine_name), key, tmp_path / f"out-{engine_name}") as engine:
            found[engine_name] = engine.validate()
    local, on_spark = found["local"], found["spark"]
    assert (on_spark.n_train, on_spark.n_holdout) == (local.n_train, local.n_holdout) == (1500, 500)
    pd.testing.assert_frame_equal(on_spark.train_sample, local.train_sample)
    pd.testing.assert_frame_equal(on_spark.holdout_sample, local.holdout_sample)

    broken = frame.iloc[1500:2000].copy()
    broken.loc[broken.index[7], "age"] = 999  # outside the public bounds
    broken.to_csv(held, index=False)
    on_spark_config = _config(tmp_path, "spark", table="health_insurance", **sections)
    code, _, err = invoke(["run", str(on_spark_config.path), "--out", str(tmp_path / "run")])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and str(held) in lines[0] and "column 'age'" in lines[0], err
    assert "999" not in err
