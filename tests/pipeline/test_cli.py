"""The `synthgate` command line: help, init, validate, run, and what a run leaves on disk.

Most calls go through `synthgate.pipeline.cli.main([...])` in-process (fast); two go through the
installed console script in a subprocess, as a scheduler would call it. The end-to-end runs (a release,
a held run, init then run, a crash and an interrupt) run on both engines: `engine: spark` must pass the
same tests as the local engine (Spark local mode, marker `spark`).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

import synthgate.pipeline.package as package_module
import synthgate.pipeline.run as run_module
from services.cli import invoke
from services.configs import GATE_MUST_HOLD, GATE_OFF, GATE_PASSES, PRIVACY_LARGE, SHARED, SHARED_TABLES, edit_config
from synthgate.pipeline.check import Checked
from synthgate.pipeline.cli import main
from synthgate.pipeline.config import load_config
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_HELD, EXIT_INTERNAL, EXIT_RELEASED
from synthgate.pipeline.gate import Figure
from synthgate.pipeline.publish import sha256_file



def make_table(n: int = 1500, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "score": rng.normal(50, 10, n).clip(0, 100).round(2),
        "colour": rng.choice(["crimson", "viridian", "ultramarine"], n),
        "city": rng.choice(["Qorvath", "Blensk", "Tamarind Bay"], n),
        "flag": rng.choice([True, False], n),
    })


def write_config(root: Path, source: Path, **sections: Any) -> Path:
    raw: dict[str, Any] = {
        "dataset": "toy",
        "source": {"path": str(source)},
        "columns": {
            "age": {"type": "integer", "bounds": [0, 120]},
            "score": {"type": "numeric", "bounds": [0, 100]},
            "colour": {"type": "categorical", "categories": ["crimson", "viridian", "ultramarine"]},
            "city": {"type": "categorical", "categories": "estimate"},
            "flag": {"type": "boolean"},
        },
        "privacy": {"epsilon": 1.0, "delta": 1e-6, "lifetime_epsilon": 100.0, "lifetime_delta": 1e-4},
        "utility": {"target": "colour", "sample_rows": 500},
    }
    raw.update(copy.deepcopy(sections))
    path = root / "toy.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["local", pytest.param("spark", marks=pytest.mark.spark)])
def engine(request: pytest.FixtureRequest) -> str:
    """The engine an end-to-end test runs on; Spark's session (local[2]) is started once and reused."""
    if request.param == "spark":
        request.getfixturevalue("spark")  # skips the test where Spark cannot start
    return str(request.param)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory, engine: str) -> dict[str, Any]:
    """One run with every gate check disabled (so it is released), with --csv and --json."""
    root = tmp_path_factory.mktemp(f"released-{engine}")
    source = root / "toy.csv"
    make_table().to_csv(source, index=False)
    # 1,000-row chunks: a release of ~1,200 rows is two chunks, so Spark draws it in two tasks
    config = write_config(root, source, gate=GATE_OFF, engine=engine, output={"chunk_rows": 1000})
    out = root / "run"
    with pytest.MonkeyPatch.context() as patch:  # tests/conftest.py's per-test ledger is not set up yet here
        patch.setenv("SYNTHGATE_LEDGER", str(root / "ledger.sqlite"))
        code, stdout, stderr = invoke(["run", str(config), "--out", str(out), "--seed", "9", "--json", "--csv"])
    return {"code": code, "stdout": stdout, "stderr": stderr, "out": out, "config": config}


# --- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["init"], ["validate"], ["run"], ["report"], ["budget"], ["budget", "set"],
                                     ["budget", "show"]],
                         ids=["synthgate", "init", "validate", "run", "report", "budget", "budget-set", "budget-show"])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: synthgate")
    if not command:
        for name in ("init", "validate", "run", "report", "budget", "--debug", "--log-json"):
            assert name in out


def test_init_offers_every_model_kind() -> None:
    from synthgate.pipeline.cli import init
    from synthgate.pipeline.config import MODEL_KINDS

    (model,) = [p for p in init.params if p.name == "model"]
    assert sorted(model.type.choices) == sorted(MODEL_KINDS)  # type: ignore[attr-defined]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "synthgate" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["frobnicate"], ["run"], ["run", "x.yaml"], ["init", "x.csv"],
                                  ["init", "x.csv", "--out", "y.yaml", "--epsilon", "0"],
                                  ["init", "x.csv", "--out", "y.yaml", "--epsilon", "1000"],
                                  ["init", "x.csv", "--out", "y.yaml", "--model", "bayes-net"],
                                  ["run", "x.yaml", "--out", "run", "--seed", "-1"]],
                         ids=["unknown-command", "run-no-args", "run-no-out", "init-no-out", "init-epsilon-0",
                              "init-epsilon-too-big", "init-unknown-model", "negative-seed"])
def test_usage_errors_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Error" in err and "Traceback" not in err


# --- init ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHARED_TABLES)
def test_init_then_run_each_shared_table(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft = tmp_path / f"{name}.yaml"
    assert main(["init", str(SHARED / f"{name}.csv"), "--out", str(draft)]) == 0
    assert f"wrote {draft}" in capsys.readouterr().out
    config = load_config(draft)
    assert config.source_path == (SHARED / f"{name}.csv").resolve()
    assert all(c.is_estimated or c.type == "boolean" for c in config.attributes)
    if name == "mpls_stops":
        assert config.identifiers == ("idNum",)

    out = tmp_path / "run"
    # A draft carries a lifetime budget (10 runs' worth) so that init then run works with no editing.
    assert config.privacy.lifetime_epsilon == 10.0 and config.model.kind == "graphical"
    # The draft's gate thresholds, changed through YAML to the largest a figure can take: every DP check is
    # still measured, none can hold, so the drafted run is released (exit 0) on any table.
    edit_config(draft, gate=GATE_PASSES)
    code = main(["run", str(draft), "--out", str(out), "--seed", "1"])
    err = capsys.readouterr().err
    assert code == EXIT_RELEASED, err
    package = out / "release"
    assert {p.name for p in package.iterdir()} == {"synthetic.parquet", "manifest.json", "DATASHEET.md",
                                                   "datasheet.json"}
    assert (out / "internal" / "report.html").is_file() and (out / "internal" / "report.json").is_file()
    synthetic = pq.read_table(package / "synthetic.parquet")
    assert synthetic.column_names == [c.name for c in config.attributes]
    assert synthetic.num_rows > 0


@pytest.mark.spark
@pytest.mark.slow  # about a minute: init, then a whole run on Spark local mode
def test_init_then_run_on_spark(spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The path a new user takes, with one line added to the draft: `engine: spark`."""
    draft = tmp_path / "health_insurance.yaml"
    assert main(["init", str(SHARED / "health_insurance.csv"), "--out", str(draft)]) == 0
    assert f"wrote {draft}" in capsys.readouterr().out
    raw = yaml.safe_load(draft.read_text(encoding="utf-8"))
    draft.write_text(yaml.safe_dump({**raw, "engine": "spark"}, sort_keys=False), encoding="utf-8")
    edit_config(draft, gate=GATE_PASSES)
    out = tmp_path / "run"
    code = main(["run", str(draft), "--out", str(out), "--seed", "1", "--json"])
    captured = capsys.readouterr()
    assert code == EXIT_RELEASED, captured.err
    result = json.loads(captured.out)
    assert result["decision"] == "RELEASE" and result["spent"]["epsilon"] <= 1.0 + 1e-9
    config = load_config(draft)
    synthetic = pq.read_table(out / "release" / "synthetic.parquet")
    assert synthetic.column_names == [c.name for c in config.attributes] and synthetic.num_rows > 0
    manifest = json.loads((out / "release" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"]["count"] == synthetic.num_rows


def test_init_writes_no_value_from_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "people.csv"
    frame = make_table().assign(id=[f"P-{i:06d}" for i in range(1500)])
    frame.to_csv(source, index=False)
    draft = tmp_path / "people.yaml"
    assert main(["init", str(source), "--out", str(draft), "--target", "colour"]) == 0
    text = draft.read_text(encoding="utf-8")
    for value in ("crimson", "viridian", "ultramarine", "Qorvath", "Blensk", "Tamarind", "P-000001"):
        assert value not in text
    numbers = {str(v) for v in frame["age"].unique()} | {str(v) for v in frame["score"].head(50)}
    document = yaml.safe_load(text)
    for spec in document["columns"].values():
        assert set(spec) <= {"type", "bounds", "categories", "nulls", "role"}
        assert spec.get("bounds") in (None, "estimate") and spec.get("categories") in (None, "estimate")
    assert not any(str(v) in numbers for spec in document["columns"].values() for v in spec.values()
                   if not isinstance(v, bool))
    assert document["columns"]["id"] == {"role": "identifier"}
    assert document["utility"]["target"] == "colour"
    assert load_config(draft).dataset == "people"


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "t.csv"
    make_table(100).to_csv(source, index=False)
    draft = tmp_path / "t.yaml"
    draft.write_text("# hand-edited, keep me\n", encoding="utf-8")
    assert main(["init", str(source), "--out", str(draft)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--force" in err and str(draft) in err
    assert draft.read_text(encoding="utf-8") == "# hand-edited, keep me\n"
    assert main(["init", str(source), "--out", str(draft), "--force"]) == 0
    assert load_config(draft).dataset == "t"
    assert not list(tmp_path.glob("*.partial"))


def test_init_never_overwrites_its_input_or_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "t.csv"
    make_table(100).to_csv(source, index=False)
    before = source.read_bytes()
    assert main(["init", str(source), "--out", str(source), "--force"]) == EXIT_BAD_INPUT
    assert source.read_bytes() == before
    (tmp_path / "folder").mkdir()
    assert main(["init", str(source), "--out", str(tmp_path / "folder"), "--force"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("error: ") == 2 and "Traceback" not in err


@pytest.mark.parametrize(("args", "phrase"), [
    (["--model", "schema"], "schema"),
    (["--target", "income"], "income"),
], ids=["schema-model", "unknown-target"])
def test_init_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], phrase: str) -> None:
    source = tmp_path / "t.csv"
    make_table(100).to_csv(source, index=False)
    assert main(["init", str(source), "--out", str(tmp_path / "t.yaml"), *args]) == EXIT_BAD_INPUT
    assert phrase in capsys.readouterr().err
    assert not (tmp_path / "t.yaml").exists()


@pytest.mark.parametrize(("data", "phrase"), [(None, "not found"), (b"", "empty"), (b"a,a\n1,2\n", "twice"),
                                               (b"a,b\n1,2\n3,4,5\n", "different number of fields")],
                         ids=["missing", "empty", "duplicate-names", "ragged"])
def test_init_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes | None, phrase: str) -> None:
    source = tmp_path / "t.csv"
    if data is not None:
        source.write_bytes(data)
    assert main(["init", str(source), "--out", str(tmp_path / "t.yaml")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert phrase in err and str(source) in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.yaml").exists()


def test_init_marks_identifier_looking_names(tmp_path: Path) -> None:
    names = {"id": True, "customer_id": True, "userId": True, "patientID": True, "record-uuid": True,
             "idNum": True, "email": True, "e-mail": True, "paid": False, "guidance": False, "valid": False,
             "video_count": False, "Idaho": False}
    source = tmp_path / "names.csv"
    pd.DataFrame({name: [1, 2, 3] for name in names}).to_csv(source, index=False)
    draft = tmp_path / "names.yaml"
    assert invoke(["init", str(source), "--out", str(draft)])[0] == 0
    config = load_config(draft)
    assert {c.name: c.role == "identifier" for c in config.columns} == names


def test_init_unknown_file_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "table.dat"
    make_table(20).to_csv(source, index=False)
    assert main(["init", str(source), "--out", str(tmp_path / "t.yaml")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(source) in err and ".csv" in err and "source.format" not in err


@pytest.mark.parametrize("filename", ["_private extract.csv", "2024 survey (final).csv", ".hidden.csv",
                                      f"{'x' * 150}.csv"])
def test_init_dataset_name_from_any_file_name_is_valid(tmp_path: Path, filename: str) -> None:
    source = tmp_path / filename
    make_table(50).to_csv(source, index=False)
    draft = tmp_path / "draft.yaml"
    assert invoke(["init", str(source), "--out", str(draft)])[0] == 0
    assert load_config(draft).dataset  # the draft validates


def test_init_types_hold_for_the_whole_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Arrow infers types from the first block (1 MiB); a later cell that does not fit used to make
    the draft unrunnable (`validate` exit 2 on a config that `init` had just written)."""
    n = 60_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "visits": rng.integers(0, 30, n).astype(object),
        "code": rng.integers(100, 999, n).astype(object),
        "flag": rng.choice(["true", "false"], n).astype(object),
        "when": pd.Series(pd.date_range("2020-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
                          dtype=object),
        "late": pd.Series([None] * n, dtype=object),
        "label": rng.choice(["a", "b"], n),
    })
    frame.loc[n - 5, "visits"] = 3.5          # integer -> numeric
    frame.loc[n - 4, "code"] = "A12"          # integer -> categorical
    frame.loc[n - 3, "flag"] = "unknown"      # boolean -> categorical
    frame.loc[n - 2, "when"] = "soon"         # datetime -> categorical
    frame.loc[n - 10:, "late"] = 7            # empty in the first block, integers later
    source = tmp_path / "late.csv"
    frame.to_csv(source, index=False)
    assert source.stat().st_size > 2 << 20
    draft = tmp_path / "late.yaml"
    assert main(["init", str(source), "--out", str(draft)]) == 0
    types = {c.name: c.type for c in load_config(draft).columns}
    assert types == {"visits": "numeric", "code": "categorical", "flag": "categorical", "when": "categorical",
                     "late": "integer", "label": "categorical"}
    capsys.readouterr()
    assert main(["validate", str(draft)]) == 0, capsys.readouterr().err


# --- validate -----------------------------------------------------------------------------------


def test_validate_good_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "toy.csv"
    make_table().to_csv(source, index=False)
    config = write_config(tmp_path, source)
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and "1,500 rows" in out

    frame = make_table().astype({"age": object})
    frame.loc[10, "age"] = 500
    frame.to_csv(source, index=False)
    assert main(["validate", str(config)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and "column 'age'" in captured.err and str(source) in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.csv", "toy.yaml"], "validate wrote something"


def test_validate_takes_no_seed_because_no_seed_fixes_the_split(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The split is drawn from a per-run secret: a seed that picked it would let anyone redo it."""
    source = tmp_path / "toy.csv"
    make_table().to_csv(source, index=False)
    config = write_config(tmp_path, source)
    assert main(["validate", str(config), "--seed", "2"]) == EXIT_BAD_INPUT
    assert "--seed" in capsys.readouterr().err
    assert main(["validate", str(config)]) == 0
    out = capsys.readouterr().out
    assert "1,500 rows" in out and "secret split" in out and "internal" in out


def test_a_dp_row_count_past_output_max_rows_is_cut_there_and_said(tmp_path: Path, capsys) -> None:
    source = tmp_path / "toy.csv"
    make_table().to_csv(source, index=False)   # 1,500 rows, about 1,200 of them training
    config = write_config(tmp_path, source, output={"max_rows": 700}, gate=GATE_OFF)
    code = main(["run", str(config), "--out", str(tmp_path / "runs" / "r"), "--seed", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == EXIT_RELEASED
    manifest = json.loads(next((tmp_path / "runs" / "r").glob("*/manifest.json")).read_text())
    assert manifest["rows"]["count"] == 700
    assert any("output.max_rows=700" in w for w in result["warnings"])


# --- run and its outputs ------------------------------------------------------------------------


def test_run_json_prints_exactly_one_object(released: dict[str, Any]) -> None:
    assert released["code"] == EXIT_RELEASED, released["stderr"]
    lines = released["stdout"].strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    # the documented, stable schema (docs/cli.md): exactly these keys
    assert set(result) == {"schema", "exit_code", "decision", "reasons", "figures", "paths", "release_id", "seed",
                           "spent", "timings", "warnings"}
    assert result["schema"] == "synthgate.run/1" and result["exit_code"] == EXIT_RELEASED
    assert {"epsilon", "delta", "rho", "accounting", "dataset"} <= set(result["spent"])
    assert result["decision"] == "RELEASE" and result["reasons"] == ["every deciding check passed"]
    assert result["figures"] == {}, "every gate check is off, so nothing was measured for the gate"
    assert Path(result["paths"]["release"]) == released["out"] / "release"
    assert Path(result["paths"]["report_html"]).is_file()
    assert result["spent"]["epsilon"] <= 1.0 + 1e-9


def test_manifest_hashes_match_the_files(released: dict[str, Any]) -> None:
    package = released["out"] / "release"
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["files"]) == {"synthetic.parquet", "synthetic.csv", "DATASHEET.md", "datasheet.json"}
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(package / name)
        assert entry["bytes"] == (package / name).stat().st_size
    assert manifest["synthetic"] is True and manifest["decision"] == "RELEASE"
    assert manifest["seed"] == 9 and manifest["config_hash"] == load_config(released["config"]).config_hash
    assert manifest["privacy"]["spent"]["epsilon"] <= manifest["privacy"]["budget"]["epsilon"] + 1e-9


def test_release_holds_only_what_the_manifest_lists(released: dict[str, Any]) -> None:
    out = released["out"]
    assert sorted(p.name for p in out.iterdir()) == ["internal", "release"]
    manifest = json.loads((out / "release" / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(p.name for p in (out / "release").iterdir()) == sorted([*manifest["files"], "manifest.json"])
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "staging folder left behind"


def test_parquet_and_csv_are_labelled_and_agree(released: dict[str, Any]) -> None:
    package = released["out"] / "release"
    table = pq.read_table(package / "synthetic.parquet")
    metadata = table.schema.metadata
    assert metadata[b"synthgate.synthetic"] == b"true"
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert metadata[b"synthgate.release"].decode() == manifest["release_id"]
    assert table.num_rows == manifest["rows"]["count"]
    csv = pd.read_csv(package / "synthetic.csv")
    assert list(csv.columns) == table.column_names and len(csv) == table.num_rows
    frame = table.to_pandas()
    assert frame["age"].between(0, 120).all() and frame["score"].between(0, 100).all()
    assert set(frame["colour"]) <= {"crimson", "viridian", "ultramarine"}


def test_replay_redraws_the_release_byte_for_byte_on_one_machine(released: dict[str, Any], capsys) -> None:
    """On Spark each chunk is drawn by a task from its own generator (seed, chunk index), so replay
    redraws it here without Spark; locally one generator draws the whole table."""
    stored = json.loads((released["out"] / "internal" / "measurements.json").read_text(encoding="utf-8"))
    manifest = json.loads((released["out"] / "release" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"]["count"] > 1000  # more than one chunk
    spark = "engine: spark" in released["config"].read_text(encoding="utf-8")
    assert stored.get("sampling") == ("chunk-seeded" if spark else None)
    again = released["out"].parent / "again"
    assert main(["replay", str(released["out"]), "--out", str(again)]) == EXIT_RELEASED
    assert capsys.readouterr().out.startswith("identical")
    assert sha256_file(again / "synthetic.parquet") == manifest["files"]["synthetic.parquet"]["sha256"]


def test_internal_report_is_marked_and_private(released: dict[str, Any]) -> None:
    internal = released["out"] / "internal"
    html = (internal / "report.html").read_text(encoding="utf-8")
    assert "INTERNAL" in html
    report = json.loads((internal / "report.json").read_text(encoding="utf-8"))
    assert report["internal"] is True and "INTERNAL" in report["notice"]
    assert stat.S_IMODE(internal.stat().st_mode) == 0o700
    for path in internal.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert not (released["out"] / "release" / "report.html").exists()


def test_report_re_renders_the_page_from_report_json(released: dict[str, Any], capsys) -> None:
    page = released["out"] / "internal" / "report.html"
    before = page.read_text(encoding="utf-8")
    page.write_text("stale", encoding="utf-8")
    assert main(["report", str(released["out"])]) == EXIT_RELEASED
    assert page.read_text(encoding="utf-8") == before  # the page is a function of report.json alone
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert main(["report", str(released["out"] / "internal")]) == EXIT_BAD_INPUT
    assert "no report.json" in capsys.readouterr().err


def test_held_package_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "toy.csv"
    make_table(800).to_csv(source, index=False)
    config = write_config(tmp_path, source, gate=GATE_MUST_HOLD, privacy=PRIVACY_LARGE)
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 3
    held = tmp_path / "run" / "held"
    assert {"DATASHEET.md", "datasheet.json"} <= set(json.loads((held / "manifest.json").read_text())["files"])
    assert "Decision: **HOLD**" in (held / "DATASHEET.md").read_text(encoding="utf-8")
    assert stat.S_IMODE(held.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in held.iterdir())


def test_run_text_output_and_held_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str) -> None:
    """A gate that cannot pass (TVD must be 0) holds the run: exit 3, files under held/, reasons printed."""
    source = tmp_path / "toy.csv"
    make_table(600).to_csv(source, index=False)
    config = write_config(tmp_path, source, gate=GATE_MUST_HOLD, privacy=PRIVACY_LARGE, engine=engine)
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--seed", "1"]) == EXIT_HELD
    text = capsys.readouterr().out
    assert text.startswith("HOLD: toy-") and "tvd_2way_mean" in text and "(DP)" in text and "FAIL" in text
    assert sorted(p.name for p in out.iterdir()) == ["held", "internal"]
    manifest = json.loads((out / "held" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["decision"] == "HOLD" and manifest["gate"]["outside_guarantee"] is False
    published = {c["name"]: c for c in manifest["gate"]["checks"]}
    assert published["tvd_2way_mean"]["passed"] is False and published["tvd_2way_mean"]["stddev"] > 0
    for name in ("train_closer_share", "correlation_error", "tstr_ratio"):  # exact figures: never published
        assert "value" not in published[name] and published[name]["dp"] is False
    report = json.loads((out / "internal" / "report.json").read_text(encoding="utf-8"))
    assert {c["label"] for c in report["privacy"]["charges"] if c["label"].startswith("gate:")} == {
        f"gate:{name}" for name in report["privacy"]["plan"]["gate_costs"]}


def test_schema_model_spends_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "toy.csv"
    make_table(400).to_csv(source, index=False)
    config = write_config(tmp_path, source, model={"kind": "schema"}, output={"rows": 250}, gate=GATE_OFF)
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["columns"]["city"]["categories"] = ["Qorvath", "Blensk", "Tamarind Bay"]
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--json"]) == EXIT_RELEASED
    result = json.loads(capsys.readouterr().out)
    assert result["spent"]["epsilon"] == 0
    manifest = json.loads((out / "release" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["rows"] == {"count": 250, "source": "config"}


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_outputs_are_strict_json_even_when_a_figure_is_not_finite(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric that comes out NaN or infinite must not turn --json, the manifest or the report into
    something that is not JSON (Python writes NaN/Infinity by default; jq and browsers reject them)."""
    original = run_module.run_checks

    def with_nan(inputs: Any, **kwargs: Any) -> Any:
        checked = original(inputs, **kwargs)
        figures = {**checked.figures, "tvd_1way_mean": Figure(float("nan"), 0.01),
                   "correlation_error": Figure(float("nan"), dp=False)}
        return Checked(figures, checked.exact, {**checked.details, "extra": [float("inf"), np.float32(0.5)]},
                       checked.queries)

    monkeypatch.setattr(run_module, "run_checks", with_nan)
    source = tmp_path / "toy.csv"
    make_table(600).to_csv(source, index=False)
    config = write_config(tmp_path, source, gate={**GATE_OFF, "max_tvd_1way_mean": 0.5})
    out = tmp_path / "run"
    code = main(["run", str(config), "--out", str(out), "--json"])
    assert code == EXIT_RELEASED  # a figure that is not a number is "not computable", never a pass or a fail
    result = _strict_json(capsys.readouterr().out)
    assert result["figures"]["tvd_1way_mean"]["value"] is None
    assert "correlation_error" not in result["figures"], "an exact figure reached --json"
    for path in out.rglob("*.json"):
        _strict_json(path.read_text(encoding="utf-8"))
    report = _strict_json((out / "internal" / "report.json").read_text(encoding="utf-8"))
    assert report["details"]["extra"] == [None, 0.5]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_crash_late_in_the_run_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, debug: bool, engine: str) -> None:
    """Atomic publish: a failure after sampling started (here, in the report) leaves no run directory
    and no hidden staging folder; exit 1 with one line (a traceback only with --debug)."""

    def broken_report(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("report renderer exploded")

    monkeypatch.setattr(package_module, "build_report", broken_report)
    source = tmp_path / "data" / "toy.csv"
    source.parent.mkdir()
    make_table(600).to_csv(source, index=False)
    config = write_config(tmp_path / "data", source, engine=engine)
    runs = tmp_path / "runs"
    runs.mkdir()
    code = main([*(["--debug"] if debug else []), "run", str(config), "--out", str(runs / "run")])
    err = capsys.readouterr().err
    assert code == EXIT_INTERNAL
    assert "internal error (RuntimeError); rerun with --debug for details" in err
    assert ("Traceback" in err) is debug
    assert "exploded" not in err or debug
    assert list(runs.iterdir()) == []


def test_interrupt_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch, engine: str) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "run_checks", interrupted)
    source = tmp_path / "toy.csv"
    make_table(600).to_csv(source, index=False)
    config = write_config(tmp_path, source, engine=engine)
    runs = tmp_path / "runs"
    runs.mkdir()
    assert main(["run", str(config), "--out", str(runs / "run")]) == EXIT_INTERNAL
    assert capsys.readouterr().err.strip().endswith("aborted")
    assert list(runs.iterdir()) == []


# --- the budget ledger --------------------------------------------------------------------------


def test_lifetime_budget_refuses_the_run_that_would_pass_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 4 before any data is read; a run stopped by bad input gives its reservation back."""
    source = tmp_path / "toy.csv"
    make_table(600).to_csv(source, index=False)
    config = write_config(tmp_path, source, privacy={"epsilon": 1.0, "delta": 1e-6, "lifetime_epsilon": 1.2,
                                                     "lifetime_delta": 1e-5}, gate=GATE_OFF)
    good = source.read_bytes()
    source.write_text("age,score,colour,city,flag\n", encoding="utf-8")  # header only: stops before spending
    assert main(["run", str(config), "--out", str(tmp_path / "bad")]) == EXIT_BAD_INPUT
    source.write_bytes(good)
    assert main(["run", str(config), "--out", str(tmp_path / "first"), "--batch-id", "toy-1"]) == EXIT_RELEASED
    # The same batch id is spent once (a scheduler retrying a finished batch must not spend again).
    assert main(["run", str(config), "--out", str(tmp_path / "again"), "--batch-id", "toy-1"]) == EXIT_BAD_INPUT
    assert "toy-1" in capsys.readouterr().err and not (tmp_path / "again").exists()
    assert main(["budget", "show", "toy", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["lifetime_epsilon"] == 1.2 and 0.5 < status["spent_epsilon"] <= 1.0 + 1e-9  # at lifetime delta
    assert [b["status"] for b in status["batches"]] == ["released_unspent", "completed"]

    second = tmp_path / "second"
    assert main(["run", str(config), "--out", str(second)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "lifetime" in err and "remains" in err
    assert not second.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["first", "toy.csv", "toy.yaml"]

    assert main(["budget", "set", "toy", "--lifetime-epsilon", "5"]) == EXIT_BAD_INPUT  # raising needs --force
    assert "--force" in capsys.readouterr().err
    assert main(["budget", "set", "toy", "--lifetime-epsilon", "5", "--force"]) == 0
    assert main(["run", str(config), "--out", str(second)]) == EXIT_RELEASED


def test_budget_show_unknown_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["budget", "show", "never-seen"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "budget set" in err and "Traceback" not in err


# --- the installed console script ----------------------------------------------------------------


def _script() -> str:
    found = Path(sys.executable).with_name("synthgate")
    return str(found) if found.exists() else shutil.which("synthgate") or "synthgate"


def test_console_script_run_and_bad_input(tmp_path: Path) -> None:
    source = tmp_path / "toy.csv"
    make_table(800).to_csv(source, index=False)
    config = write_config(tmp_path, source, gate=GATE_OFF)
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    done = subprocess.run([_script(), "--log-json", "run", str(config), "--out", str(tmp_path / "run"), "--json",
                           "--seed", "2"], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == EXIT_RELEASED, done.stderr
    result = json.loads(done.stdout)
    assert result["decision"] == "RELEASE"
    assert all(json.loads(line) for line in done.stderr.strip().splitlines())

    frame = make_table(800).astype({"colour": object})
    frame.loc[3, "colour"] = "mauve"
    frame.to_csv(source, index=False)
    bad = subprocess.run([_script(), "run", str(config), "--out", str(tmp_path / "run2")], capture_output=True,
                         text=True, timeout=300, env=env)
    assert bad.returncode == EXIT_BAD_INPUT
    assert bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        f"error: {source} breaks the data contract: column 'colour': expect_column_values_to_be_in_set failed "
        "for 1 row(s)"]
    assert not (tmp_path / "run2").exists()


def test_init_drafts_integer_when_every_value_is_whole(tmp_path: Path) -> None:
    """Delay minutes written '517.0' were drafted numeric and released as 1520.97 (issue 11)."""
    source = tmp_path / "flights.csv"
    source.write_text("delay,ratio,late\n517.0,0.5,1\n-3.0,1.25,0\n12.0,2.0,1\n", encoding="utf-8")
    draft = tmp_path / "flights.yaml"
    assert invoke(["init", str(source), "--out", str(draft)])[0] == 0
    config = load_config(draft)
    assert {c.name: c.type for c in config.columns} == {"delay": "integer", "ratio": "numeric", "late": "integer"}
    text = draft.read_text(encoding="utf-8")
    assert "whole numbers: delay." in text and "517" not in text


def test_init_names_a_categorical_column_too_fine_to_survive(tmp_path: Path) -> None:
    """A 3,535-level column with ~76 rows a level came back 96% '__other__' (issue 11): init says so first."""
    rng = np.random.default_rng(2)
    n = 20_000
    source = tmp_path / "flights.csv"
    pd.DataFrame({"flight": np.char.add("FL", rng.integers(0, 800, n).astype(str)),  # ~25 rows a level
                  "carrier": rng.choice(["Qorvath Air", "Blensk", "Tamarind"], n),
                  "delay": rng.integers(0, 50, n)}).to_csv(source, index=False)
    draft = tmp_path / "flights.yaml"
    assert invoke(["init", str(source), "--out", str(draft)])[0] == 0
    text = draft.read_text(encoding="utf-8")
    assert "# - Too fine for 'categories: estimate' at this epsilon: flight. Most" in text
    assert "FL" not in text.replace("flights", "")  # names only, never a value
    # at a budget where 25-row levels clear the release line, the same column is not flagged
    assert invoke(["init", str(source), "--out", str(draft), "--epsilon", "30", "--force"])[0] == 0
    assert "Too fine" not in draft.read_text(encoding="utf-8")
