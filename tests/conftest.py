"""Suite-wide fixtures: every test gets its own budget ledger, never the user's real one; slow tests
run only when asked for (`-m slow`)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_ledger(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ledger file per test, through SYNTHGATE_LEDGER (what the CLI reads)."""
    path = tmp_path_factory.mktemp("ledger") / "ledger.sqlite"
    monkeypatch.setenv("SYNTHGATE_LEDGER", str(path))
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pyproject has no `-m "not slow"` default (README's test command is a plain `pytest -q`), so
    skip every test marked slow unless the marker expression names them, whichever folder it is in."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow test: run with -m slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
