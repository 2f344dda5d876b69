"""Schedulers: the examples in docs/ use only real commands and options, the DAG compiles, the --json
schema is pinned, logs are JSON lines with no TTY, retries with a batch id never spend twice, and a
batch of several configs has the documented exit code for all-released, mixed and all-failed."""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from synthgate.pipeline.cli import cli, main
from synthgate.pipeline.config import GateSpec
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_MIXED, EXIT_RELEASED
from synthgate.privacy.ledger import Ledger

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
DATASETS = REPO.parent / "shared" / "datasets"
RUN_KEYS = {"schema", "exit_code", "decision", "reasons", "figures", "paths", "release_id", "seed", "spent",
            "timings", "warnings"}
BATCH_KEYS = {"schema", "exit_code", "counts", "runs"}
BATCH_RUN_KEYS = {"config", "out", "dataset", "outcome", "exit_code", "error", "result"}


# --- the examples ---------------------------------------------------------------------------------

def _commands(shell: str) -> list[list[str]]:
    """Every `synthgate ...` command in a shell text, as tokens (placeholders made plain words)."""
    shell = re.sub(r"\{\{[^}]*\}\}", "X", shell)
    shell = re.sub(r"\$\([^)]*\)", "X", shell).replace("\\%", "%")
    found = []
    for part in re.split(r"&&|\|\||[;|\n]|\bdo\b|\bthen\b", shell):
        tokens = shlex.split(part.split(">")[0], comments=False)
        if tokens and tokens[0] == "synthgate":
            found.append(tokens)
    return found


def _example_commands() -> list[tuple[str, list[str]]]:
    cron = [line for line in (DOCS / "cron.example").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    found = [("cron.example", c) for line in cron for c in _commands(line)]
    tree = ast.parse((DOCS / "airflow_dag.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "BashOperator":
            command = next(k.value for k in node.keywords if k.arg == "bash_command")
            assert isinstance(command, ast.Constant), "keep bash_command a literal so this test can read it"
            found += [("airflow_dag.py", c) for c in _commands(command.value)]
    return found


def _check_command(tokens: list[str]) -> None:
    command: click.Command = cli
    i = 1
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-") and token not in ("-h", "--help"):
            name = token.split("=", 1)[0]
            param = next((p for p in command.params if isinstance(p, click.Option)
                          and name in (*p.opts, *p.secondary_opts)), None)
            assert param is not None, f"{name} is not an option of `{command.name}` in {shlex.join(tokens)}"
            if not param.is_flag and "=" not in token:
                i += 1
        elif isinstance(command, click.Group):
            assert token in command.commands, f"`{token}` is not a synthgate command: {shlex.join(tokens)}"
            command = command.commands[token]
        i += 1
    assert not isinstance(command, click.Group), f"no command in {shlex.join(tokens)}"


def test_every_command_in_the_examples_is_real() -> None:
    found = _example_commands()
    assert {where for where, _ in found} == {"cron.example", "airflow_dag.py"}
    assert {c[c.index("run") if "run" in c else 1] for _, c in found} >= {"run", "plan", "budget"}
    for _, tokens in found:
        _check_command(tokens)


def test_the_checker_catches_a_wrong_command_or_option() -> None:
    for bad in (["synthgate", "runn", "x"], ["synthgate", "run", "x", "--outt", "y"], ["synthgate", "budget"]):
        with pytest.raises(AssertionError):
            _check_command(bad)


def test_the_airflow_dag_compiles() -> None:
    source = (DOCS / "airflow_dag.py").read_text(encoding="utf-8")
    compile(source, str(DOCS / "airflow_dag.py"), "exec")  # Airflow is not a dependency: compile, not import


def test_docs_list_every_exit_code_and_json_key() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for code in range(6):
        assert re.search(rf"^\| {code} \|", text, re.MULTILINE), code
    for key in RUN_KEYS | BATCH_KEYS | BATCH_RUN_KEYS:
        assert f"`{key}`" in text, key


# --- runs -----------------------------------------------------------------------------------------

def _config(root: Path, name: str) -> Path:
    """A shipped config with its source made absolute and every gate threshold off (so it is released)."""
    raw = yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text(encoding="utf-8"))
    raw["source"]["path"] = str((REPO / "configs" / raw["source"]["path"]).resolve())
    raw["gate"] = {k: None for k in GateSpec.model_fields if k.startswith(("max_", "min_"))}
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _bad(root: Path, name: str) -> Path:
    path = root / f"{name}.yaml"
    path.write_text("dataset: broken\n", encoding="utf-8")
    return path


def _batch(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main([*args, "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == BATCH_KEYS and payload["schema"] == "synthgate.batch/1" and payload["exit_code"] == code
    for run in payload["runs"]:
        assert set(run) == BATCH_RUN_KEYS
    return code, payload


needs_data = pytest.mark.skipif(not (DATASETS / "acs12.csv").exists(), reason="shared datasets are absent")


@needs_data
def test_all_released_batch_then_a_retry_spends_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          private_ledger: Path) -> None:
    configs = [_config(tmp_path, "acs12"), _config(tmp_path, "health_insurance")]
    code, batch = _batch(["run", *map(str, configs), "--out", str(tmp_path / "RUNS"), "--seed", "1",
                          "--batch-id", "nightly-1"], capsys)
    assert code == EXIT_RELEASED and batch["counts"] == {"RELEASE": 2, "HOLD": 0, "ERROR": 0}
    assert sorted(p.name for p in (tmp_path / "RUNS").iterdir()) == ["acs12", "health_insurance"]
    for run in batch["runs"]:
        assert set(run["result"]) == RUN_KEYS - {"schema", "exit_code"}
        assert (Path(run["out"]) / "release" / "DATASHEET.md").is_file()
    ledger = Ledger(private_ledger)
    spent = {d: ledger.show(d).spent_epsilon for d in ("acs12", "health_insurance")}
    assert [b.batch_id for b in ledger.show("acs12").batches] == ["nightly-1-acs12"]

    # The scheduler fires the same batch again: every run is refused before reading data, nothing is spent.
    code, retry = _batch(["run", *map(str, configs), "--out", str(tmp_path / "RETRY"), "--batch-id", "nightly-1"],
                         capsys)
    assert code == EXIT_BAD_INPUT and retry["counts"]["ERROR"] == 2
    assert all("already in the ledger" in r["error"] for r in retry["runs"])
    assert {d: ledger.show(d).spent_epsilon for d in spent} == spent
    assert not (tmp_path / "RETRY").exists() or not any((tmp_path / "RETRY").iterdir())


@needs_data
def test_mixed_batch_with_json_logs_and_no_tty(tmp_path: Path) -> None:
    """As a scheduler calls it: the console script, stdin closed, JSON logs; one failure does not stop it."""
    script = shutil.which("synthgate", path=str(Path(sys.executable).parent))
    assert script is not None
    configs = [_bad(tmp_path, "broken"), _config(tmp_path, "acs12")]
    done = subprocess.run([script, "--log-format", "json", "run", *map(str, configs), "--out", str(tmp_path / "RUNS"),
                           "--json"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert done.returncode == EXIT_MIXED, done.stderr[-2000:]
    payload = json.loads(done.stdout)
    assert [r["outcome"] for r in payload["runs"]] == ["ERROR", "RELEASE"] and payload["exit_code"] == EXIT_MIXED
    assert payload["runs"][0]["exit_code"] == EXIT_BAD_INPUT and "problem(s) in config" in payload["runs"][0]["error"]
    lines = [json.loads(line) for line in done.stderr.strip().splitlines()]
    assert all({"time", "level", "logger", "event"} <= set(line) for line in lines)
    assert [line["exit_code"] for line in lines if line.get("stage") == "batch"] == [2, 0]


def test_all_failed_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, batch = _batch(["run", str(_bad(tmp_path, "a")), str(_bad(tmp_path, "b")), "--out", str(tmp_path / "R")],
                         capsys)
    assert code == EXIT_BAD_INPUT and batch["counts"] == {"RELEASE": 0, "HOLD": 0, "ERROR": 2}
    code = main(["run", str(_bad(tmp_path, "a")), str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "R2")])
    assert code == EXIT_BAD_INPUT
    assert "batch: 2 config(s): 0 released, 0 held, 2 failed; exit 2" in capsys.readouterr().out


def test_batch_exit_code_rule() -> None:
    from synthgate.pipeline.batch import batch_exit_code, folder_names

    assert batch_exit_code([0, 0]) == 0 and batch_exit_code([3, 3]) == 3 and batch_exit_code([0, 3]) == EXIT_MIXED
    assert batch_exit_code([2, 4]) == EXIT_MIXED
    assert folder_names([Path("a/x.yaml"), Path("b/x.yaml"), Path("y.yml")]) == ["x", "x-2", "y"]


def test_log_format_json_and_its_alias(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = str(_bad(tmp_path, "a"))
    for flags in (["--log-format", "json"], ["--log-format=json"], ["--log-json"]):
        assert main([*flags, "validate", bad]) == EXIT_BAD_INPUT
        err = capsys.readouterr().err.strip().splitlines()
        assert err and all(json.loads(line) for line in err)
        assert json.loads(err[-1])["exit_code"] == EXIT_BAD_INPUT
    assert main(["--log-format", "text", "validate", bad]) == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error: ")
