"""The one composition rule (`accountant.compose`): a run's accountant, the ledger's lifetime composition
and the plan's reservation all add up charges through it, and recording a charge costs the same
however many came before it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from synthgate.privacy import accountant as accounting
from synthgate.privacy.accountant import Accountant, BatchAmounts, Budget, Charge, compose
from synthgate.privacy.ledger import Ledger, compose_epsilon
from synthgate.privacy.ledger_store import SqliteStore

# A Gaussian marginal (ρ 0.01), a pure-ε selection (ε 0.1, so ρ 0.005) and a thresholded category
# release (ρ 0.002, δ 5e-7): ρ adds up to 0.017, and δ = 1e-6 leaves 5e-7 for the conversion.
RUN = [Charge("marginal:a", rho=0.01), Charge("select:r1", epsilon=0.1), Charge("domain:dept", rho=0.002, delta=5e-7)]
# The figures the accountant and the ledger gave before they shared `compose` (commit 4a551e8).
EPSILON_RUN = 0.8524587016594166
EPSILON_FIRST_TWO = 0.771734224820144


def _textbook(rho: float, delta: float) -> float:
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))


def test_zcdp_composition_matches_the_figures_before_the_refactor() -> None:
    spend = compose([BatchAmounts.from_charges(RUN)], delta=1e-6)
    assert (spend.accounting, spend.delta) == ("zcdp", 1e-6)
    assert spend.rho == pytest.approx(0.017, rel=1e-12)
    assert spend.epsilon == pytest.approx(EPSILON_RUN, rel=1e-12)
    assert spend.epsilon < _textbook(0.017, 5e-7)  # CKS is tighter than ρ + 2·sqrt(ρ·ln(1/δ))
    first_two = compose([BatchAmounts.from_charges(RUN[:2])], delta=1e-6)
    assert first_two.rho == pytest.approx(0.015, rel=1e-12)
    assert first_two.epsilon == pytest.approx(EPSILON_FIRST_TWO, rel=1e-12)
    assert first_two.epsilon < _textbook(0.015, 1e-6)


def test_zcdp_composition_is_infinite_once_thresholding_takes_all_delta() -> None:
    spend = compose([BatchAmounts.from_charges(RUN)] * 2, delta=1e-6)  # δ 2 × 5e-7 leaves nothing
    assert spend.epsilon == math.inf and spend.rho == pytest.approx(0.034)


def test_pure_composition_adds_epsilon_and_cannot_account_gaussian_charges() -> None:
    pure = [Charge("a", epsilon=0.3), Charge("b", epsilon=0.2), Charge("c", epsilon=0.25)]
    assert compose([BatchAmounts.from_charges(pure)], delta=0.0).epsilon == pytest.approx(0.75, rel=1e-15)
    assert compose([BatchAmounts.from_charges([Charge("g", rho=0.01)])], delta=0.0).epsilon == math.inf
    assert compose([], delta=0.0).epsilon == 0 and compose([], delta=1e-6).epsilon == 0


@pytest.mark.parametrize("delta", [0.0, 1e-6])
def test_the_accountant_spends_what_compose_says(delta: float) -> None:
    charges = RUN[1:2] * 3 if delta == 0 else RUN
    accountant = Accountant(Budget(5.0, delta), spent=charges)
    assert accountant.spent() == compose([BatchAmounts.from_charges(charges)], delta=delta)
    assert accountant.compose(charges) == accountant.spent()


@pytest.mark.parametrize("delta", [0.0, 1e-5])
def test_lifetime_composition_equals_composing_every_batch_charge(delta: float) -> None:
    batches = [[Charge(f"marginal:{b}{i}", epsilon=0.01 * (i + 1)) for i in range(b + 2)] for b in range(4)]
    if delta:
        batches = [[*batch, Charge(f"marginal:g{b}", rho=0.003 * b), Charge(f"domain:c{b}", rho=0.001, delta=1e-7)]
                   for b, batch in enumerate(batches)]
    lifetime = compose_epsilon([BatchAmounts.from_charges(batch) for batch in batches], delta)
    everything = compose([BatchAmounts.from_charges([c for batch in batches for c in batch])], delta=delta)
    assert lifetime == pytest.approx(everything.epsilon, rel=1e-12)


def test_a_budget_converts_epsilon_to_rho_once_for_plan_and_accountant() -> None:
    budget = Budget(1.0, 1e-6)
    assert Accountant(budget).rho_available(2e-7) == budget.rho_available(2e-7) < budget.rho_available()
    assert compose([BatchAmounts.from_charges([Charge("m", rho=budget.rho_available())])],
                   delta=1e-6).epsilon == pytest.approx(1.0, rel=1e-9)
    with pytest.raises(ValueError, match="zCDP"):
        Budget(1.0).rho_available()


def test_recording_a_charge_is_constant_work_in_the_charges_before_it(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 charges in one batch: every spend sends the ledger the same three statements (BEGIN, one
    INSERT, COMMIT) and writes one row, and the accountant adds each charge once to a running total
    (`BatchAmounts.plus`), not the whole list again: a run's work is linear in its charges."""
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.set_lifetime("d", epsilon=50.0, delta=1e-5)
    n_charges, rho = 1000, 1e-4
    ledger.reserve(dataset="d", batch_id="b1", config_hash="h", model="graphical", run_epsilon=10.0, run_delta=1e-5,
                   planned=BatchAmounts.from_charges([Charge("plan:total", rho=n_charges * rho)]))
    statements: list[str] = []
    rows_written: list[int] = []
    original = SqliteStore.connect

    @contextmanager
    def traced(store: SqliteStore) -> Iterator[Any]:
        with original(store) as db:  # the connection's PRAGMAs run before tracing starts
            db.set_trace_callback(statements.append)
            yield db
            rows_written.append(db.total_changes)

    monkeypatch.setattr(SqliteStore, "connect", traced)
    additions = 0
    plus = BatchAmounts.plus

    def counted_plus(self: BatchAmounts, charge: Charge) -> BatchAmounts:
        nonlocal additions
        additions += 1
        return plus(self, charge)

    monkeypatch.setattr(accounting.BatchAmounts, "plus", counted_plus)
    accountant = Accountant(Budget(10.0, 1e-5), on_spend=lambda seq, charge: ledger.record_charge("b1", seq, charge))
    per_charge: list[tuple[list[str], int, int]] = []
    for i in range(n_charges):
        statements.clear()
        rows_written.clear()
        additions = 0
        accountant.spend(Charge(f"marginal:c{i}", rho=rho))
        shapes = [s.split(" VALUES")[0] for s in statements]
        per_charge.append((shapes, sum(rows_written), additions))
    assert per_charge[0] == (["BEGIN IMMEDIATE",
                              "INSERT INTO charges (batch_id, seq, at, label, rho, epsilon, delta)", "COMMIT"], 1, 2)
    assert all(p == per_charge[0] for p in per_charge)  # the 1,000th charge costs what the first did
    (batch,) = ledger.show("d").batches
    assert len(batch.to_json()["charges"]) == n_charges
