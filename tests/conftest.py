"""Suite-wide fixtures: every test gets its own budget ledger, never the user's real one."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_ledger(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ledger file per test, through SYNTHGATE_LEDGER (what the CLI reads)."""
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite"
    monkeypatch.setenv("SYNTHGATE_LEDGER", str(path))
    return path
