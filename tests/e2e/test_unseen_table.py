"""`init` + `validate` + `run` on a table nobody wrote a config for: mixed types, nulls, an id column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.configs import GATE_PASSES, edit_config
from synthgate.pipeline.cli import main
from synthgate.pipeline.config import MODEL_KINDS, load_config
from synthgate.pipeline.errors import EXIT_RELEASED

N_ROWS = 3000


def mixed_table(seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2021-03-01", tz="UTC")
    frame = pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in rng.permutation(N_ROWS)],
        "visits": rng.poisson(4, N_ROWS),
        "balance": np.where(rng.random(N_ROWS) < 0.15, np.nan, rng.lognormal(6, 1, N_ROWS).round(2)),
        "opened_at": (start + pd.to_timedelta(rng.integers(0, 700 * 86400, N_ROWS), unit="s"))
        .strftime("%Y-%m-%dT%H:%M:%SZ"),
        "birthday": (pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, N_ROWS), unit="D"))
        .strftime("%Y-%m-%d"),
        "is_active": rng.choice(["true", "false"], N_ROWS, p=[0.7, 0.3]),
        "tier": rng.choice(["bronze", "silver", "gold", "platinum"], N_ROWS, p=[0.5, 0.3, 0.15, 0.05]),
        "comment": rng.choice(["", "called", "emailed", "visited branch"], N_ROWS),
        "temperature": rng.normal(-2.5, 8, N_ROWS).round(1),
    })
    frame.loc[rng.choice(N_ROWS, 40, replace=False), "tier"] = None
    return frame


@pytest.mark.parametrize("model", [kind for kind in MODEL_KINDS if kind != "schema"])
def test_init_then_run_on_a_new_mixed_table(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "customers.csv"
    mixed_table().to_csv(source, index=False)
    draft = tmp_path / "customers.yaml"
    assert main(["init", str(source), "--out", str(draft), "--model", model, "--target", "tier"]) == 0

    config = load_config(draft)
    types = {c.name: (c.role if c.role == "identifier" else c.type) for c in config.columns}
    assert types == {"customer_id": "identifier", "visits": "integer", "balance": "numeric",
                     "opened_at": "datetime", "birthday": "datetime", "is_active": "boolean",
                     "tier": "categorical", "comment": "categorical", "temperature": "numeric"}
    assert config.model.kind == model and config.utility.target == "tier"

    assert main(["validate", str(draft)]) == 0
    # The draft's gate thresholds, changed through YAML to the largest a figure can take: every DP check is
    # still measured, none can hold, so the run is released (exit 0).
    edit_config(draft, gate=GATE_PASSES)
    assert main(["budget", "set", config.dataset, "--lifetime-epsilon", "5"]) == 0
    out = tmp_path / "run"
    code = main(["run", str(draft), "--out", str(out), "--seed", "8", "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_RELEASED, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    package = out / "release"
    table = pq.read_table(package / "synthetic.parquet")
    schema = table.schema
    assert "customer_id" not in schema.names
    assert schema.names == [c.name for c in config.attributes]
    assert pa.types.is_integer(schema.field("visits").type)
    assert pa.types.is_floating(schema.field("balance").type)
    assert pa.types.is_timestamp(schema.field("opened_at").type)
    assert pa.types.is_boolean(schema.field("is_active").type)
    assert pa.types.is_string(schema.field("tier").type)

    frame = table.to_pandas()
    assert len(frame) == json.loads((package / "manifest.json").read_text(encoding="utf-8"))["rows"]["count"]
    assert abs(len(frame) - 0.8 * N_ROWS) < 0.1 * N_ROWS
    # Estimated domains: values stay inside what the manifest published, and customer ids never appear.
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    low, high = manifest["schema"]["visits"]["bounds"]
    assert frame["visits"].dropna().between(low, high).all()
    assert set(frame["tier"].dropna()) <= {"bronze", "silver", "gold", "platinum", "__other__"}
    assert frame["opened_at"].dropna().dt.year.between(1900, 2100).all()
    assert result["spent"]["epsilon"] <= 1.0 + 1e-9
    blob = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert b"C000" not in blob
