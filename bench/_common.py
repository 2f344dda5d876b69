"""Shared helpers for the benchmark scripts: config loading with overrides, machine info, timing."""

from __future__ import annotations

import copy
import datetime as dt
import importlib.metadata
import os
import platform
import resource
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from synthgate.pipeline.config import parse_yaml

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
TABLES = ("health_insurance", "acs12", "mpls_stops", "fertility", "census2000")
PACKAGES = ("synthgate", "numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "diffprivlib",
            "great-expectations", "pydantic", "threadpoolctl")


def config_path(table: str) -> Path:
    return (CONFIGS / f"{table}.yaml").resolve()


def load_raw(table: str) -> dict[str, Any]:
    return parse_yaml(config_path(table).read_text(encoding="utf-8"))


def make_config(table: str, *, kind: str | None = None, epsilon: float | None = None,
                rows: int | str | None = None) -> Any:
    """The table's shipped config with model kind / epsilon / output.rows overridden.

    Validated with config_from_mapping against the original file's path, so relative source
    paths resolve exactly as `load_config` would resolve them.
    """
    from synthgate.pipeline.config import config_from_mapping

    raw = copy.deepcopy(load_raw(table))
    if kind is not None:
        raw.setdefault("model", {})["kind"] = kind
    if epsilon is not None:
        raw.setdefault("privacy", {})["epsilon"] = float(epsilon)
    if rows is not None:
        raw.setdefault("output", {})["rows"] = rows
    path = config_path(table)
    return config_from_mapping(raw, path=path, where=f"{path} (bench overrides)")


def object_columns(frame: Any) -> Any:
    """A frame of the loader's with its categorical columns as object strings (None for nulls), as
    the run's check samples hold them: concatenated batches keep the Categorical dtype only when
    their categories agree, and a canary cast to those categories would become a null."""
    import pandas as pd

    from synthgate.pipeline.load import as_object_column

    return pd.DataFrame({name: as_object_column(frame[name]) for name in frame.columns})


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return float(statistics.median(values)) if values else None


def peak_rss_mb() -> float:
    """Process-wide peak resident set size so far (Linux reports ru_maxrss in KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kib / 1024.0 if sys.platform != "darwin" else kib / 1024.0 / 1024.0, 1)


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = None
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "cpu_model": cpu_model,
        "load_average_1_5_15": load,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "packages": versions,
        "git": _git_state(),
    }


def _git_state() -> dict[str, Any] | None:
    """Read-only: the commit benchmarked and whether the tree had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    changed = [line[3:] for line in status if line.strip()]
    return {"commit": head or None, "modified_tracked_files": changed}


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def render_table(header: list[str], rows: list[list[str]], *, markdown: bool = False) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    if markdown:
        lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
                 "| " + " | ".join("-" * w for w in widths) + " |"]
        lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
        return "\n".join(lines)
    lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    return "\n".join(lines)
