"""The ledger across real runs: three batches add up, overspend is refused before reading,
two racing processes get one success, a killed run keeps its spend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.configs import HEALTH_INSURANCE, REMOVE, shipped_config
from services.cli import run_release
from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BUDGET, EXIT_RELEASED
from synthgate.privacy.cdp import epsilon_from_rho


def _config(tmp_path: Path, *, lifetime: float, source: Path | None = None, **sections: dict[str, Any]) -> Path:
    """The shipped health_insurance config with every gate check off (a finished run is released, exit 0),
    the given lifetime epsilon and small check samples (quicker; not what is measured here)."""
    privacy = {"lifetime_epsilon": lifetime, **sections.pop("privacy", {})}
    return shipped_config("health_insurance", tmp_path, source={"path": str(source or HEALTH_INSURANCE)},
                          privacy=privacy, **sections)


def _show(capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["budget", "show", "health_insurance", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_three_runs_add_up_and_a_fourth_is_refused_before_reading(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, lifetime=1.7)
    for i in range(3):
        assert run_release(config, tmp_path / f"run{i}", "--seed", str(i)) == EXIT_RELEASED
    capsys.readouterr()
    status = _show(capsys)
    batches = status["batches"]
    assert len(batches) == 3 and all(b["status"] == "completed" for b in batches)
    total_rho = sum(b["rho"] for b in batches)
    # zCDP: the batches' rho add up, and the total epsilon is their composition at the lifetime delta.
    assert status["spent_epsilon"] == pytest.approx(epsilon_from_rho(total_rho, status["lifetime_delta"]), rel=1e-9)
    assert 1.0 < status["spent_epsilon"] < 3.0

    # A fourth run would pass the lifetime budget. Point it at an input that does not exist: exit 4,
    # not 2, proves the ledger refused it before anything tried to read the data.
    missing = _config(tmp_path, lifetime=1.7, source=tmp_path / "gone.csv")
    assert main(["run", str(missing), "--out", str(tmp_path / "run3")]) == 4
    err = capsys.readouterr().err
    assert "remains" in err and not (tmp_path / "run3").exists()
    assert len(_show(capsys)["batches"]) == 3


_RUNNER = """
import sys
from synthgate.pipeline.cli import main
sys.exit(main(["run", sys.argv[1], "--out", sys.argv[2], "--seed", "1"]))
"""


def test_two_parallel_runs_with_budget_for_one(tmp_path: Path, private_ledger: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, lifetime=1.2)  # one ε=1 run fits; two compose to ≈1.45
    env = {**os.environ, "SYNTHGATE_LEDGER": str(private_ledger)}
    procs = [subprocess.Popen([sys.executable, "-c", _RUNNER, str(config), str(tmp_path / f"p{i}")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(2)]
    codes = sorted(p.wait(timeout=300) for p in procs)
    assert codes == [EXIT_RELEASED, EXIT_BUDGET]  # every gate check off: the one that ran is released
    batches = _show(capsys)["batches"]
    assert [b["status"] for b in batches] == ["completed"]


_KILLED = """
import os, signal, sys
from synthgate.privacy import accountant
original = accountant.Accountant.spend
def spend_then_die(self, charge):
    original(self, charge)            # the charge is recorded (and written to the ledger) ...
    if charge.label.startswith("marginal:"):
        os.kill(os.getpid(), signal.SIGKILL)   # ... then the process dies before using the noise
accountant.Accountant.spend = spend_then_die
from synthgate.pipeline.cli import main
sys.exit(main(["run", sys.argv[1], "--out", sys.argv[2], "--seed", "1"]))
"""


def test_a_killed_run_keeps_its_spend(tmp_path: Path, private_ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, lifetime=1.2)  # one run fits (ε≈0.88 at the lifetime δ); two compose to ≈1.3
    env = {**os.environ, "SYNTHGATE_LEDGER": str(private_ledger)}
    proc = subprocess.run([sys.executable, "-c", _KILLED, str(config), str(tmp_path / "killed")], env=env,
                          capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed").exists()
    status = _show(capsys)
    (batch,) = status["batches"]
    assert batch["status"] == "reserved"
    assert [c["label"] for c in batch["charges"]][-1].startswith("marginal:")  # written before the noise was used
    # The whole reservation (the run's planned rho) counts as spent, composed at the lifetime delta.
    assert status["spent_epsilon"] == pytest.approx(epsilon_from_rho(batch["rho"], status["lifetime_delta"]))
    assert status["spent_epsilon"] > 0.8
    # The next run is refused: with the killed run counted, it would pass the lifetime budget of 1.2.
    assert main(["run", str(config), "--out", str(tmp_path / "next")]) == 4


def test_a_dataset_without_a_lifetime_budget_is_refused_until_one_is_set(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, lifetime=10.0, privacy={"lifetime_epsilon": REMOVE, "lifetime_delta": REMOVE})
    assert main(["run", str(config), "--out", str(tmp_path / "r")]) == 2
    assert "budget set health_insurance" in capsys.readouterr().err and not (tmp_path / "r").exists()
    assert main(["budget", "set", "health_insurance", "--lifetime-epsilon", "3"]) == 0
    assert run_release(config, tmp_path / "r") == EXIT_RELEASED


_CHANGING = """
import os, sys
from synthgate.pipeline import run as run_module
original = run_module.encode_training
def encode_then_touch(config, *args, **kwargs):
    encoded = original(config, *args, **kwargs)
    with open(config.source_path, "a", encoding="utf-8") as handle:   # another job appends a row
        handle.write("yes,40,no,male,yes,yes,no,3,south,cauc,highschool\\n")
    return encoded
run_module.encode_training = encode_then_touch
from synthgate.pipeline.cli import main
sys.exit(main(["run", sys.argv[1], "--out", sys.argv[2], "--seed", "1"]))
"""


def test_an_input_that_changes_during_the_run_is_refused(tmp_path: Path, private_ledger: Path) -> None:
    source = tmp_path / "hi.csv"
    source.write_bytes(HEALTH_INSURANCE.read_bytes())
    config = _config(tmp_path, lifetime=10.0, source=source)
    env = {**os.environ, "SYNTHGATE_LEDGER": str(private_ledger)}
    proc = subprocess.run([sys.executable, "-c", _CHANGING, str(config), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "changed while the run was reading it" in proc.stderr and not (tmp_path / "out").exists()


_DISK_FULL = """
import errno, os, sys
from synthgate.pipeline import synthesize
def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
synthesize.write_synthetic = no_space
from synthgate.pipeline.cli import main
sys.exit(main(["run", sys.argv[1], "--out", sys.argv[2], "--seed", "1"]))
"""


def test_disk_full_while_writing_leaves_nothing_and_keeps_the_spend(tmp_path: Path, private_ledger: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, lifetime=10.0)
    env = {**os.environ, "SYNTHGATE_LEDGER": str(private_ledger)}
    proc = subprocess.run([sys.executable, "-c", _DISK_FULL, str(config), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "cannot write the output (ENOSPC)" in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release.yaml"]  # no output, no staging folder
    (batch,) = _show(capsys)["batches"]
    assert batch["status"] == "completed" and batch["decision"] == "FAILED" and batch["rho"] > 0

