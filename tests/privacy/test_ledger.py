"""Ledger: round trips, composition across batches, refusal, idempotent batch ids, racing processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from synthgate.pipeline.errors import BudgetExceededError
from synthgate.privacy.accountant import Accountant, Budget, Charge
from synthgate.privacy.cdp import epsilon_from_rho, rho_from_epsilon
from synthgate.privacy.ledger import BatchAmounts, Ledger, LedgerError, compose_epsilon


def _zcdp_run(epsilon: float, delta: float = 1e-6) -> BatchAmounts:
    rho = rho_from_epsilon(epsilon, delta)
    return BatchAmounts(rho=rho, rho_gaussian=rho, epsilon_pure=0.0, delta_approx=0.0)


def _reserve(ledger: Ledger, batch: str, amounts: BatchAmounts, epsilon: float = 1.0) -> None:
    ledger.reserve(dataset="d", batch_id=batch, config_hash="h", model="independent", planned=amounts,
                   run_epsilon=epsilon, run_delta=1e-6)


def test_round_trip_of_lifetime_and_batches(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=5.0, delta=1e-5)
    _reserve(ledger, "b1", _zcdp_run(1.0))
    charges = [Charge("marginal:a", rho=rho_from_epsilon(1.0, 1e-6))]
    ledger.complete("b1", charges=charges, epsilon=1.0, decision="RELEASE", manifest_hash="abc")
    again = Ledger(tmp_path / "l.sqlite").show("d")
    assert again.lifetime_epsilon == 5.0 and again.lifetime_delta == 1e-5
    (batch,) = again.batches
    assert (batch.batch_id, batch.status, batch.decision, batch.manifest_hash) == ("b1", "completed", "RELEASE", "abc")
    assert again.spent_epsilon == pytest.approx(epsilon_from_rho(charges[0].rho, 1e-5))


def test_the_measurements_hash_is_kept_and_an_older_ledger_gains_its_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # a ledger written before measurement hashes were kept
        db.executescript(_OLD_BATCHES)
    ledger = Ledger(path)
    ledger.set_lifetime("d", epsilon=5.0, delta=1e-5)
    _reserve(ledger, "b1", _zcdp_run(1.0))
    ledger.complete("b1", charges=[Charge("marginal:a", rho=0.01)], epsilon=1.0, decision="HOLD",
                    manifest_hash="m", measurements_hash="f" * 64)
    (batch,) = Ledger(path).show("d").batches
    assert batch.measurements_hash == "f" * 64 and batch.to_json()["measurements_hash"] == "f" * 64


_OLD_BATCHES = """
CREATE TABLE batches (batch_id TEXT PRIMARY KEY, dataset TEXT NOT NULL, status TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, config_hash TEXT NOT NULL, model TEXT NOT NULL, rho REAL NOT NULL, rho_gaussian REAL NOT NULL,
    epsilon_pure REAL NOT NULL, delta_approx REAL NOT NULL, epsilon REAL NOT NULL, delta REAL NOT NULL,
    charges TEXT NOT NULL DEFAULT '[]', decision TEXT, manifest_hash TEXT);
"""


def test_zcdp_batches_compose_tighter_than_adding_epsilon(tmp_path: Path) -> None:
    runs = [_zcdp_run(1.0) for _ in range(3)]
    total = compose_epsilon(runs, 1e-6)
    assert total == pytest.approx(epsilon_from_rho(3 * runs[0].rho, 1e-6))
    assert 1.0 < total < 3.0  # three ε=1 runs cost less than ε=3 under zCDP


def test_pure_batches_add_epsilon_and_refuse_gaussian() -> None:
    pure = [BatchAmounts.from_charges([Charge("a", epsilon=0.3), Charge("b", epsilon=0.2)]) for _ in range(2)]
    assert compose_epsilon(pure, 0.0) == pytest.approx(1.0)
    gaussian = BatchAmounts.from_charges([Charge("g", rho=0.01)])
    assert compose_epsilon([gaussian], 0.0) == float("inf")


def test_thresholding_delta_is_taken_from_the_lifetime_delta() -> None:
    rho = 0.05
    plain = compose_epsilon([BatchAmounts(rho, rho, 0.0, 0.0)], 1e-6)
    with_threshold = compose_epsilon([BatchAmounts(rho, rho, 0.0, 5e-7)], 1e-6)
    assert with_threshold == pytest.approx(epsilon_from_rho(rho, 5e-7))
    assert with_threshold > plain


def test_reservation_that_would_overspend_is_refused_and_recorded_nowhere(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=2.0, delta=1e-6)
    _reserve(ledger, "b1", _zcdp_run(1.5))
    with pytest.raises(BudgetExceededError, match="remains"):
        _reserve(ledger, "b2", _zcdp_run(1.5))
    assert [b.batch_id for b in ledger.show("d").batches] == ["b1"]


def test_open_reservation_counts_as_spent(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=1.0, delta=1e-6)
    _reserve(ledger, "crashed", _zcdp_run(1.0))  # never completed: a crash after measuring
    assert ledger.show("d").remaining_epsilon == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(BudgetExceededError):
        _reserve(ledger, "next", _zcdp_run(0.1))


def test_released_reservation_does_not_count(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=1.0, delta=1e-6)
    _reserve(ledger, "bad-input", _zcdp_run(1.0))
    ledger.release_unspent("bad-input")
    status = ledger.show("d")
    assert status.spent_epsilon == 0.0 and status.remaining_epsilon == pytest.approx(1.0)
    assert [(b.batch_id, b.status, b.rho) for b in status.batches] == [("bad-input", "released_unspent", 0.0)]
    _reserve(ledger, "retry", _zcdp_run(1.0))  # the whole budget is still there to reserve
    assert ledger.show("d").remaining_epsilon == pytest.approx(0.0, abs=1e-9)


def test_batch_id_is_spent_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=10.0, delta=1e-6)
    _reserve(ledger, "monthly-2026-11", _zcdp_run(1.0))
    with pytest.raises(LedgerError, match="already in the ledger"):
        _reserve(ledger, "monthly-2026-11", _zcdp_run(1.0))


def test_raising_lifetime_needs_force_and_is_recorded(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=1.0, delta=1e-6)
    with pytest.raises(LedgerError, match="--force"):
        ledger.set_lifetime("d", epsilon=2.0, delta=1e-6)
    ledger.set_lifetime("d", epsilon=0.5, delta=1e-6)  # lowering is always allowed
    ledger.set_lifetime("d", epsilon=2.0, delta=1e-6, force=True)
    kinds = [kind for _, kind, _ in ledger.events("d")]
    assert kinds == ["create", "lower", "raise (forced)"]


def test_unknown_dataset_is_a_clear_error(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    with pytest.raises(LedgerError, match="budget set"):
        ledger.show("nope")


def _race(path: str, batch: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ledger = Ledger(Path(path))
    try:
        _reserve(ledger, batch, _zcdp_run(1.0))
        queue.put("won")
    except BudgetExceededError:
        queue.put("refused")


def test_two_processes_racing_for_the_last_budget_exactly_one_wins(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).set_lifetime("d", epsilon=1.2, delta=1e-6)
    for round_ in range(5):
        if round_:
            path.unlink()
            for extra in tmp_path.glob("l.sqlite-*"):
                extra.unlink()
            Ledger(path).set_lifetime("d", epsilon=1.2, delta=1e-6)
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        workers = [context.Process(target=_race, args=(str(path), f"b{i}", queue)) for i in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        outcomes = sorted(queue.get(timeout=10) for _ in workers)
        assert outcomes == ["refused", "won"]


def test_timestamps_never_go_back_across_a_second() -> None:
    """`budget show` orders batches by start time; a stamp built from two clock reads went back by
    up to a second whenever the reads straddled a second (seen as a flaky batch order)."""
    import time

    from synthgate.privacy.ledger import _now

    previous, backwards = _now(), 0
    end = int(time.time()) + 2  # crosses at least one second boundary
    while time.time() < end:
        stamp = _now()
        backwards += stamp < previous
        previous = stamp
    assert backwards == 0


def test_charges_are_appended_one_row_per_spend_and_a_killed_batch_shows_them(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=5.0, delta=1e-5)
    _reserve(ledger, "b1", _zcdp_run(1.0))
    charges = [Charge(f"marginal:c{i}", rho=0.001) for i in range(40)]
    accountant = Accountant(Budget(5.0, 1e-5), on_spend=lambda seq, charge: ledger.record_charge("b1", seq, charge))
    for charge in charges:  # the accountant passes each new charge and its place, after each spend
        accountant.spend(charge)
    with sqlite3.connect(ledger.path) as db:
        rows = db.execute("SELECT seq, label FROM charges WHERE batch_id = 'b1' ORDER BY seq").fetchall()
    assert rows == [(i, f"marginal:c{i}") for i in range(40)]  # each written once, in order
    (batch,) = ledger.show("d").batches  # never completed: a run killed after its last spend
    assert batch.status == "reserved" and [c["label"] for c in batch.to_json()["charges"]] == [c.label for c in charges]
    assert batch.by_stage() == {"marginal": pytest.approx(0.04)}
