"""A datetime column's public `resolution`: `init` drafts it from the values' format, the release
writes whole units of it (a column of times on the hour came back with seconds, 05:02:59: issue 11)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from services.cli import invoke
from services.configs import GATE_OFF, edit_config
from synthgate.pipeline.config import config_from_mapping, load_config
from synthgate.pipeline.encode import DatetimeCodec
from synthgate.pipeline.errors import ConfigError
from synthgate.pipeline.init_config import draft_resolutions

START = pd.Timestamp("2021-03-01", tz="UTC")


def write_times(path: Path, n: int = 3000, *, late_minute: bool = False) -> Path:
    rng = np.random.default_rng(7)
    hours = START + pd.to_timedelta(rng.integers(0, 60 * 24, n), unit="h")
    if late_minute:  # one half-hour value after the first block Arrow reads: the scan must still see it
        hours = hours.where(np.arange(n) != n - 1, hours[n - 1] + pd.Timedelta(minutes=30))
    frame = pd.DataFrame({
        "on_the_hour": hours.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "visit_day": (START + pd.to_timedelta(rng.integers(0, 90, n), unit="D")).strftime("%Y-%m-%d"),
        "logged": (START + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "precise": (START + pd.to_timedelta(rng.integers(0, 10**10, n), unit="ms")).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ"),
        "amount": rng.gamma(2.0, 50.0, n).round(2),
    })
    frame.to_csv(path, index=False)
    return path


def test_init_drafts_the_coarsest_unit_every_value_is_written_to(tmp_path: Path) -> None:
    source = write_times(tmp_path / "visits.csv")
    draft = tmp_path / "visits.yaml"
    assert invoke(["init", str(source), "--out", str(draft)])[0] == 0
    config = load_config(draft)
    assert {c.name: c.resolution for c in config.columns} == {
        "on_the_hour": "hour", "visit_day": "day", "logged": "second", "precise": None, "amount": None}
    assert "resolution' is the coarsest unit" in draft.read_text(encoding="utf-8")


def test_one_finer_value_anywhere_in_the_file_makes_the_unit_finer(tmp_path: Path) -> None:
    source = write_times(tmp_path / "visits.csv", n=60_000, late_minute=True)
    assert source.stat().st_size > 1 << 20  # beyond the first block Arrow sniffs the types from
    columns = [("on_the_hour", "datetime"), ("visit_day", "datetime"), ("amount", "numeric")]
    assert draft_resolutions(source, columns) == {"on_the_hour": "minute", "visit_day": "day"}


def test_the_release_writes_whole_units(tmp_path: Path) -> None:
    source = write_times(tmp_path / "visits.csv")
    draft = tmp_path / "visits.yaml"
    assert invoke(["init", str(source), "--out", str(draft)])[0] == 0
    edit_config(draft, gate=GATE_OFF, privacy={"epsilon": 3.0})
    code, _, err = invoke(["run", str(draft), "--out", str(tmp_path / "run"), "--seed", "1"])
    assert code == 0, err
    synth = pq.read_table(tmp_path / "run" / "release" / "synthetic.parquet").to_pandas()
    seconds = {name: synth[name].dropna().astype("datetime64[ns, UTC]").astype("int64") // 10**9
               for name in ("on_the_hour", "visit_day", "logged")}
    assert len(seconds["on_the_hour"]) > 1000
    assert (seconds["on_the_hour"] % 3600 == 0).all() and (seconds["visit_day"] % 86400 == 0).all()
    assert (seconds["logged"] % 3600 != 0).mean() > 0.9  # no unit imposed beyond the second
    schema = json.loads((tmp_path / "run" / "release" / "manifest.json").read_text(encoding="utf-8"))["schema"]
    assert schema["on_the_hour"]["resolution"] == "hour" and "resolution" not in schema["precise"]


def test_days_round_trip_exactly_when_the_range_fits_the_bins() -> None:
    codec = DatetimeCodec("day", START, START + pd.Timedelta(days=40), bins=64, nulls=False, resolution="day")
    days = pd.Series(START + pd.to_timedelta(np.arange(41), unit="D"))
    codes = codec._encode(days)
    assert codec.n_values == 41 and list(codes) == list(range(41))
    decoded = codec._decode(codes, np.random.default_rng(0))
    assert list(pd.to_datetime(decoded, utc=True)) == list(days)


def test_resolution_is_for_datetime_columns_only(tmp_path: Path) -> None:
    raw = {"dataset": "toy", "source": {"path": str(tmp_path / "toy.csv")},
           "columns": {"age": {"type": "integer", "bounds": [0, 120], "resolution": "day"}},
           "privacy": {"epsilon": 1.0, "delta": 1e-6}}
    with pytest.raises(ConfigError, match=r"columns\.age.*'resolution' is for datetime columns only"):
        config_from_mapping(raw)
