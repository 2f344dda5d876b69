"""Optional anonymeter columns: one release per method, scored by anonymeter in its own venv.

The venv (bench/.work/anonymeter, git-ignored) is created on first use with `pip install
anonymeter pyarrow`. Tables go over as codes: numeric columns as integers (bins), categorical
columns as labels "c<code>", which is what an attacker who re-encodes the release would use.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._common import REPO

from .releases import AuditTable, Method, release

__all__ = ["anonymeter_audit", "ensure_anonymeter"]

VENV = REPO / "bench" / ".work" / "anonymeter"
SCRIPT = Path(__file__).resolve().parent / "anonymeter_eval.py"
SECRETS = {"health_insurance": "insurance", "fertility": "morekids"}  # the configs' utility targets


def ensure_anonymeter() -> Path:
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import anonymeter, pyarrow"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {VENV} (pip install anonymeter pyarrow) ...", flush=True)
    subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "anonymeter", "pyarrow"], check=True)
    subprocess.run(probe, check=True)
    return python


def _frame(table: AuditTable, codes: np.ndarray) -> pd.DataFrame:
    columns = table.codec.domain.columns
    return pd.DataFrame({c: codes[:, j].astype(np.int64) if table.numeric[j] else
                         pd.Series(codes[:, j]).map(lambda v: f"c{v}") for j, c in enumerate(columns)})


def anonymeter_audit(table: AuditTable, methods: list[Method], *, n_attacks: int, seed: int) -> list[dict[str, Any]]:
    """anonymeter's risks (singling out univariate, linkability, inference) for one release per method."""
    python = ensure_anonymeter()
    rng = np.random.default_rng([seed, 13])
    columns = list(table.codec.domain.columns)
    half = len(columns) // 2
    spec = {"n_attacks": n_attacks, "seed": seed, "link_a": columns[:half], "link_b": columns[half:],
            "secret": SECRETS.get(table.name, columns[-1])}
    out = []
    with tempfile.TemporaryDirectory(prefix="synthgate-anonymeter-", dir=VENV.parent) as tmp:
        work = Path(tmp)
        _frame(table, table.train).to_parquet(work / "ori.parquet")
        _frame(table, table.holdout).to_parquet(work / "control.parquet")
        (work / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        for method in methods:
            _frame(table, release(table, table.train, method, rng).codes).to_parquet(work / "syn.parquet")
            command = [str(python), str(SCRIPT), "--ori", str(work / "ori.parquet"), "--syn", str(work / "syn.parquet"),
                       "--control", str(work / "control.parquet"), "--spec", str(work / "spec.json"),
                       "--out", str(work / "out.json")]
            proc = subprocess.run(command, capture_output=True, text=True)
            if proc.returncode != 0:  # only the exception's type: its message could quote cells
                last = (proc.stderr.strip().splitlines() or ["?"])[-1].split(":")[0]
                raise RuntimeError(f"anonymeter failed on {method.label} (exit {proc.returncode}, {last}); "
                                   f"run {SCRIPT.name} with {python} by hand to see why")
            result = json.loads((work / "out.json").read_text(encoding="utf-8"))
            out.append({"table": table.name, "method": method.label, "epsilon": method.epsilon, "spec": spec,
                        **result})
            print(f"  anonymeter {method.label:<24} " + " ".join(
                f"{k} {v['risk']:.3f}" for k, v in result.items() if isinstance(v, dict)), flush=True)
    return out
