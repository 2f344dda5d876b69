"""Suite-wide fixtures: every test gets its own budget ledger, never the user's real one; the shared
health_insurance table as a frame or as a private copy of its CSV; PostgreSQL. The configs built on it
and the gates that fix a run's decision are in services/configs.py, the in-process CLI in services/cli.py.
Slow tests are deselected by pyproject's `addopts = -m "not slow"`; `pytest -m slow` runs them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from services.configs import HEALTH_INSURANCE
from services.postgres import Server, create_database, throwaway_server, why_unavailable
from services.spark import local_session, why_unavailable as why_no_spark


@pytest.fixture(autouse=True)
def private_ledger(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ledger file per test, through SYNTHGATE_LEDGER (what the CLI reads)."""
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite"
    monkeypatch.setenv("SYNTHGATE_LEDGER", str(path))
    return path


@pytest.fixture(scope="session")
def _health_insurance_once() -> pd.DataFrame:
    return pd.read_csv(HEALTH_INSURANCE)


@pytest.fixture
def health_insurance(_health_insurance_once: pd.DataFrame) -> pd.DataFrame:
    """The shared health_insurance table (8,802 rows), read once; each test gets its own copy to change."""
    return _health_insurance_once.copy()


@pytest.fixture
def hi_csv(tmp_path: Path) -> Path:
    """A copy of health_insurance.csv in the test's folder (tmp_path/hi.csv): a test may change or delete it."""
    return Path(shutil.copy(HEALTH_INSURANCE, tmp_path / "hi.csv"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    """A PostgreSQL server on 127.0.0.1 for tests marked `postgres`: a throwaway cluster in a temp folder."""
    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    with throwaway_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh database on the test server; PGPASSWORD set as a user would set it."""
    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:50] + "_" + \
        os.urandom(3).hex()
    return create_database(postgres_server, name)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """Spark local mode (local[2]) for tests marked `spark`, started once for the session."""
    reason = why_no_spark()
    if reason:
        pytest.skip(reason)
    with local_session() as session:
        yield session
