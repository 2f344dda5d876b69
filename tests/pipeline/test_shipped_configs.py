"""The release configs shipped in configs/ load, point at their table, and cover its columns.

Only each CSV's header line is read: these tests must not look at the data itself.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from synthgate.pipeline.config import load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
SHIPPED = ["health_insurance", "acs12", "mpls_stops", "fertility", "census2000"]


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        line = fh.readline()
    return next(csv.reader([line]))


@pytest.mark.parametrize("name", SHIPPED)
def test_config_loads_and_source_exists(name: str) -> None:
    config = load_config(CONFIG_DIR / f"{name}.yaml")
    assert config.dataset == name
    assert config.source_path.is_absolute()
    assert config.source_path.is_file(), f"{name}: source {config.source_path} does not exist"
    assert config.source_format == "csv"


@pytest.mark.parametrize("name", SHIPPED)
def test_config_columns_are_exactly_the_csv_header(name: str) -> None:
    config = load_config(CONFIG_DIR / f"{name}.yaml")
    header = _header(config.source_path)
    configured = [c.name for c in config.columns]
    missing = sorted(set(header) - set(configured))
    extra = sorted(set(configured) - set(header))
    assert not missing and not extra, f"{name}: not in config {missing}; not in CSV header {extra}"
    assert len(configured) == len(header)
