"""The ledger on PostgreSQL: same behaviour as on SQLite, race-free across processes, clear errors.

Marked `postgres`: a throwaway cluster is started by the `postgres_server` fixture (tests/conftest.py)
from Debian's postgresql package, on 127.0.0.1 only.
"""

from __future__ import annotations

import multiprocessing
import os

import pytest

from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BAD_INPUT, BudgetExceededError
from synthgate.privacy.accountant import Charge
from synthgate.privacy.cdp import rho_from_epsilon
from synthgate.privacy.ledger import BatchAmounts, Ledger, LedgerError

pytestmark = pytest.mark.postgres


def _run(epsilon: float) -> BatchAmounts:
    rho = rho_from_epsilon(epsilon, 1e-6)
    return BatchAmounts(rho=rho, rho_gaussian=rho, epsilon_pure=0.0, delta_approx=0.0)


def _reserve(ledger: Ledger, batch: str, epsilon: float) -> None:
    ledger.reserve(dataset="d", batch_id=batch, config_hash="h", model="graphical", planned=_run(epsilon),
                   run_epsilon=epsilon, run_delta=1e-6)


def test_round_trip_on_postgres(postgres_url: str) -> None:
    ledger = Ledger(postgres_url)
    ledger.set_lifetime("d", epsilon=5.0, delta=1e-5)
    _reserve(ledger, "b1", 1.0)
    charges = [Charge("marginal:a", rho=0.01), Charge("gate:rows", rho=0.001)]
    for seq, charge in enumerate(charges):
        ledger.record_charge("b1", seq, charge)
    (open_batch,) = Ledger(postgres_url).show("d").batches
    assert open_batch.status == "reserved" and [c["label"] for c in open_batch.to_json()["charges"]] == [
        "marginal:a", "gate:rows"]
    ledger.complete("b1", charges=charges, epsilon=1.0, decision="RELEASE", manifest_hash="m",
                    measurements_hash="x" * 64)
    status = Ledger(postgres_url).show("d")
    (batch,) = status.batches
    assert (batch.status, batch.decision, batch.measurements_hash) == ("completed", "RELEASE", "x" * 64)
    assert batch.rho == pytest.approx(0.011) and status.remaining_epsilon < 5.0
    with pytest.raises(LedgerError, match="--force"):
        ledger.set_lifetime("d", epsilon=9.0, delta=1e-5)
    assert [kind for _, kind, _ in ledger.events("d")] == ["create"]


def _race(url: str, batch: str, password: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.environ["PGPASSWORD"] = password
    try:
        _reserve(Ledger(url), batch, 0.6)
        queue.put("won")
    except BudgetExceededError:
        queue.put("refused")


def test_parallel_processes_never_overspend_a_postgres_ledger(postgres_url: str, postgres_server) -> None:
    """Eight processes (two machines' worth of jobs) race for a lifetime budget that fits three runs
    (zCDP composition: three eps=0.6 runs compose to 0.955 of the lifetime 1.0, four to 1.117)."""
    Ledger(postgres_url).set_lifetime("d", epsilon=1.0, delta=1e-5)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_race, args=(postgres_url, f"job-{i}", postgres_server.password, queue))
               for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    outcomes = sorted(queue.get(timeout=10) for _ in workers)
    status = Ledger(postgres_url).show("d")
    assert outcomes == ["refused"] * 5 + ["won"] * 3
    assert len(status.batches) == 3 and status.spent_epsilon <= 1.0 + 1e-9


def test_a_wrong_password_is_one_line_that_names_the_ledger_not_the_password(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    monkeypatch.setenv("PGPASSWORD", "not-the-password-1234")
    assert main(["--ledger", postgres_url, "budget", "show"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and postgres_url in err and "authentication failed" in err
    assert "not-the-password-1234" not in err


@pytest.mark.parametrize("problem", ["password-in-url", "unreachable", "no-database"])
def test_bad_ledger_urls_are_one_clear_line(problem: str, postgres_url: str, postgres_server,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    server = postgres_server
    url = {"password-in-url": f"postgresql://{server.user}:{server.password}@{server.host}:{server.port}/x",
           "unreachable": f"postgresql://{server.user}@127.0.0.1:1/ledger",
           "no-database": f"postgresql://{server.user}@{server.host}:{server.port}/no_such_db"}[problem]
    assert main(["--ledger", url, "budget", "show"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and server.password not in err
    expected = {"password-in-url": "carries a password", "unreachable": "cannot be reached",
                "no-database": "does not exist"}[problem]
    assert expected in err


def test_plan_reads_a_postgres_ledger(postgres_url: str, tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """`synthgate plan --ledger postgresql://...`: what the dataset has left comes from the server."""
    from pathlib import Path

    Ledger(postgres_url).set_lifetime("health_insurance", epsilon=3.0, delta=1e-5)
    config = Path(__file__).resolve().parents[2] / "configs" / "health_insurance.yaml"
    assert main(["--ledger", postgres_url, "plan", str(config), "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out)
    assert result["ledger"]["lifetime_from"] == "ledger" and result["fits"] is True
