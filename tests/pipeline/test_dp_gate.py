"""The DP gate: every deciding figure comes through PrivateChecks, with the sensitivity it states.

On the real health_insurance table: each gate query's exact answer is computed on the table and
on neighbours (a row removed, a row added, a duplicate added) with the same secret key, and its
change must stay within the sensitivity the noise is calibrated to. A spy in place of
PrivateChecks shows that the gate's figures depend on the data only through its answers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthgate.pipeline.check import CheckInputs, measure_gate
from synthgate.pipeline.config import GateSpec, load_config
from synthgate.pipeline.encode import TableCodec, codec_from_spec
from synthgate.pipeline.gate import HOLD, RELEASE, gate
from synthgate.pipeline.load import Batch, iter_batches, iter_split_batches
from synthgate.pipeline.plan import plan_budget
from synthgate.pipeline.samples import RowIndexSample, RowSample
from synthgate.pipeline.split import RowKeys, SplitKey
from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.checks import NoisyCounts, PrivateChecks

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "configs" / "health_insurance.yaml")
SAMPLE_ROWS = 400


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    batches = iter_batches(CONFIG.source_path, CONFIG.source_format, CONFIG.attributes,
                           identifiers=CONFIG.identifiers)
    return pd.concat([b.frame for b in batches], ignore_index=True).iloc[:3000]


@pytest.fixture(scope="module")
def codec() -> TableCodec:
    return TableCodec([codec_from_spec(c, bins=CONFIG.model.bins) for c in CONFIG.attributes])


def _inputs(frame: pd.DataFrame, key: SplitKey, codec: TableCodec, synthetic: pd.DataFrame,
            marginal_rows: int | None = None) -> CheckInputs:
    """The check inputs of `frame`; with `marginal_rows`, the marginal checks count that many
    training rows (a keyed bottom-k sample, as a run on a long table does)."""
    train_sample, holdout_sample = RowSample(SAMPLE_ROWS), RowSample(SAMPLE_ROWS)
    marginal = RowIndexSample(marginal_rows or len(frame))
    trains, n_holdout = [], 0
    for part in iter_split_batches(iter([Batch(frame.reset_index(drop=True), 0)]), row_keys=RowKeys(key, 0.2)):
        train_sample.add(part.train, part.train_priority)
        marginal.add(part.train_priority)
        holdout_sample.add(part.holdout, part.holdout_priority)
        trains.append(part.train)
        n_holdout += len(part.holdout)
    train = pd.concat(trains, ignore_index=True)
    codes = codec.encode(train)
    synth_codes = codec.encode(synthetic)
    # a per-row indicator stands in for "clamped to DP bounds" (this config's bounds are public)
    clamped = {"age": int((train["age"] > 60).sum()), "family": int((train["family"] > 4).sum())}
    config = CONFIG if marginal_rows is None else CONFIG.model_copy(
        update={"gate": CONFIG.gate.model_copy(update={"sample_rows": marginal_rows})})
    return CheckInputs(config=config, codec=codec, train_codes=codes[marginal.rows()], synth_codes=synth_codes,
                       train_sample=train_sample.frame(), holdout_sample=holdout_sample.frame(),
                       synth_sample=synthetic, seed=7, n_holdout=n_holdout, clamped=clamped, n_train=len(codes))


class FixedRows(PrivateChecks):
    """Answers `rows` with fixed public values so that neighbours compare the same k and n."""

    def row_counts(self, *, cost: float) -> NoisyCounts:
        return NoisyCounts("gate:rows", ("train", "holdout"), (2400.0, 600.0), 0.0, 1.0, cost)


@pytest.mark.parametrize("marginal_rows", [None, 1000])
@pytest.mark.parametrize("change", ["remove-first", "remove-middle", "add-duplicate", "add-new"])
def test_each_gate_query_moves_within_its_stated_sensitivity(table: pd.DataFrame, codec: TableCodec,
                                                             change: str, marginal_rows: int | None) -> None:
    """Also when the marginal checks count a 1,000-row keyed sample of the ~2,400 training rows."""
    synthetic = table.sample(n=1500, random_state=1, replace=True).reset_index(drop=True)
    synthetic["age"] = (synthetic["age"] + 1).clip(upper=120)  # near, not exact, copies for most rows
    key = SplitKey.fresh()
    costs = {name: 1.0 for name in ("rows", "exact_match_excess", "near_match_excess", "tvd_1way_mean",
                                    "tvd_2way_mean", "clamped_share")}
    if change == "remove-first":
        neighbour = table.iloc[1:]
    elif change == "remove-middle":
        neighbour = table.drop(index=1500)
    elif change == "add-duplicate":
        neighbour = pd.concat([table.iloc[:40], table.iloc[[41]], table.iloc[40:]])
    else:
        extra = table.iloc[[7]].copy()
        extra["age"] = 99
        neighbour = pd.concat([extra, table])

    def answers(frame: pd.DataFrame) -> dict[str, np.ndarray]:
        inputs = _inputs(frame, key, codec, synthetic, marginal_rows)
        seen: list[PrivateChecks] = []

        def factory(**kwargs: object) -> PrivateChecks:
            seen.append(FixedRows(**kwargs))  # type: ignore[arg-type]
            return seen[-1]

        measure_gate(inputs, accountant=Accountant(Budget(100.0, 1e-3)), costs=costs, private_checks=factory)
        return {label: np.array(values) for label, values in seen[0].exact_for_report().items()}

    base, other = answers(table), answers(neighbour.reset_index(drop=True))
    n_pairs = {"gate:tvd_1way_mean": 11, "gate:tvd_2way_mean": 55}
    for label, values in base.items():
        delta = np.abs(values - other[label])
        if label in n_pairs:
            assert delta.sum() <= 2 * n_pairs[label] + 1, label
        elif label == "gate:clamped_share":
            assert np.sqrt((delta**2).sum()) <= np.sqrt(len(values)) and delta.max() <= 1, label
        else:  # rows, exact and near matches: one side moves, by at most one
            assert delta.max() <= 1 and (delta > 0).sum() <= 1, label
    assert set(base) >= {"gate:exact_match_excess", "gate:near_match_excess", "gate:tvd_1way_mean",
                         "gate:tvd_2way_mean", "gate:clamped_share"}


class ConstantAnswers(PrivateChecks):
    """A spy: answers every query with fixed numbers, whatever the data (and records the queries)."""

    calls: list[str] = []

    def _answer(self, label, names, cost, *, l2, l1, exact):  # type: ignore[no-untyped-def, override]
        ConstantAnswers.calls.append(label)
        values = {"gate:rows": (2000.0, 500.0)}.get(label, tuple(50.0 + 10 * i for i in range(len(names))))
        return NoisyCounts(label, names, values, 5.0, l2, cost)


def test_the_gate_sees_the_data_only_through_private_checks(table: pd.DataFrame, codec: TableCodec) -> None:
    """Two very different tables give the same DP figures and the same decision when the only
    reads of the data (PrivateChecks' answers) are the same."""
    synthetic = table.sample(n=800, random_state=2).reset_index(drop=True)
    costs = plan_budget(CONFIG, Budget(CONFIG.privacy.epsilon, CONFIG.privacy.delta)).gate_costs
    costs = {**costs, "clamped_share": costs["rows"]}
    figures = []
    for frame in (table, synthetic.iloc[::-1]):  # the second "real" table is the synthetic one
        ConstantAnswers.calls = []
        checked = measure_gate(_inputs(frame, SplitKey.fresh(), codec, synthetic),
                             accountant=Accountant(Budget(100.0, 1e-3)), costs=costs, private_checks=ConstantAnswers)
        dp = {name: f.to_json() for name, f in checked.figures.items() if f.dp}
        figures.append((dp, gate(checked.figures, GateSpec()).decision))
        assert ConstantAnswers.calls[0] == "gate:rows"
        assert set(ConstantAnswers.calls) == {f"gate:{name}" for name in costs}
    assert figures[0] == figures[1]
    assert set(figures[0][0]) == {"exact_match_excess", "near_match_excess", "tvd_1way_mean", "tvd_2way_mean",
                                  "clamped_share"}


def test_every_gate_query_is_charged_under_its_label_before_the_data_is_read(table: pd.DataFrame,
                                                                            codec: TableCodec) -> None:
    synthetic = table.sample(n=800, random_state=3).reset_index(drop=True)
    accountant = Accountant(Budget(1.0, 1e-6))
    plan = plan_budget(CONFIG, accountant.budget)
    measure_gate(_inputs(table, SplitKey.fresh(), codec, synthetic), accountant=accountant, costs=plan.gate_costs)
    charged = {c.label: c.rho for c in accountant.charges}
    assert charged == {f"gate:{name}": cost for name, cost in plan.gate_costs.items()}
    assert sum(charged.values()) == pytest.approx(0.05 * plan.total)


def test_a_collapsed_domain_is_held_with_the_columns_named(table: pd.DataFrame, codec: TableCodec) -> None:
    """The acs12 release that passed with income all in [0, 0.00006] (45% clamped): the DP clamped
    share check must hold it and name the column."""
    synthetic = table.sample(n=1500, random_state=4).reset_index(drop=True)
    inputs = _inputs(table, SplitKey.fresh(), codec, synthetic)
    n_train = len(inputs.train_codes)
    inputs.clamped = {"age": 0, "income": int(0.45 * n_train), "hours": int(0.28 * n_train)}
    accountant = Accountant(Budget(1.0, 1e-6))
    costs = {"rows": 0.0006, "clamped_share": 0.0012}
    checked = measure_gate(inputs, accountant=accountant, costs=costs)
    decision = gate(checked.figures, GateSpec())
    assert decision.decision == HOLD
    (check,) = [c for c in decision.checks if c.name == "clamped_share"]
    assert check.failing_columns == ("hours", "income") and check.dp
    inputs.clamped = {"age": 0, "income": 0, "hours": 0}
    checked = measure_gate(inputs, accountant=Accountant(Budget(1.0, 1e-6)), costs=costs)
    assert gate(checked.figures, GateSpec()).decision == RELEASE


def test_gate_noise_has_the_stated_deviation(table: pd.DataFrame, codec: TableCodec) -> None:
    """2,000 per-column counts in one query: the noise's mean and deviation match the stated σ, and σ
    grows with the rows one individual holds."""
    inputs = _inputs(table, SplitKey.fresh(), codec, table.iloc[:500])
    counts = {f"c{i:04d}": i for i in range(2000)}

    def private(contribution: int) -> PrivateChecks:
        return PrivateChecks(codes=inputs.train_codes, domain=codec.domain, train_sample=inputs.train_sample,
                             holdout_sample=inputs.holdout_sample, n_holdout=inputs.n_holdout,
                             column_counts={"many": counts}, accountant=Accountant(Budget(100.0, 1e-3)),
                             contribution=contribution)

    answer = private(1).column_counts("many", cost=0.5)
    errors = np.array(answer.values) - np.array([counts[name] for name in answer.names])
    assert answer.stddev == pytest.approx(np.sqrt(2000) / np.sqrt(2 * 0.5))
    assert abs(errors.mean()) < 4 * answer.stddev / np.sqrt(errors.size)
    assert errors.std() == pytest.approx(answer.stddev, rel=0.06)
    assert private(3).stddev(0.5, l2=3 * np.sqrt(2000), l1=3 * 2000) == pytest.approx(3 * answer.stddev)
    assert private(3).column_counts("many", cost=0.5).stddev == pytest.approx(3 * answer.stddev)


def test_marginal_checks_on_a_sample_keep_the_whole_tables_figures(table: pd.DataFrame, codec: TableCodec) -> None:
    """A 1,000-row keyed sample of ~2,400 training rows: the DP TVD and `__other__` figures are scaled
    by the sample's size (min of the noisy count and the cap), land near the whole table's, and say so;
    the row count and the clamped share stay over every training row."""
    synthetic = table.sample(n=3000, random_state=5, replace=True).reset_index(drop=True)
    costs = {"rows": 1.0, "tvd_1way_mean": 5.0, "tvd_2way_mean": 5.0, "clamped_share": 1.0}
    key = SplitKey.fresh()
    whole = _inputs(table, key, codec, synthetic)
    sampled = _inputs(table, key, codec, synthetic, marginal_rows=1000)
    assert len(sampled.train_codes) == 1000 and sampled.n_train == len(whole.train_codes) > 2000
    checked = {name: measure_gate(inputs, accountant=Accountant(Budget(100.0, 1e-3)), costs=costs)
               for name, inputs in (("whole", whole), ("sampled", sampled))}
    rows = {name: c.details["gate_queries"][0]["exact"] for name, c in checked.items()}
    assert rows["whole"] == rows["sampled"] == [len(whole.train_codes), whole.n_holdout]
    for name in ("tvd_1way_mean", "tvd_2way_mean"):
        full, part = checked["whole"].figures[name], checked["sampled"].figures[name]
        assert full.note is None and part.note == "counted over a secret sample of 1,000 training rows"
        assert part.stddev > full.stddev  # the same noise over fewer rows
        assert abs(part.value - full.value) < 0.05 + 3 * (part.stddev + full.stddev), name  # sampling error
        assert checked["sampled"].exact[name] == pytest.approx(part.value, abs=4 * part.stddev + 1e-3)
    assert checked["sampled"].figures["clamped_share"].value == pytest.approx(
        checked["whole"].figures["clamped_share"].value, abs=0.02)


class FewHoldoutRows(PrivateChecks):
    """Noisy counts that leave only 20 holdout rows to compare: k = 20."""

    def row_counts(self, *, cost: float) -> NoisyCounts:
        return NoisyCounts("gate:rows", ("train", "holdout"), (2400.0, 20.0), 0.0, 1.0, cost)


def test_a_comparison_too_noisy_to_decide_is_neither_asked_nor_charged(table: pd.DataFrame,
                                                                      codec: TableCodec) -> None:
    """At k = 20 the match-excess noise sd (~0.7 at epsilon 1) puts the limit (0.05 + 2 sd) past the largest
    excess a rate can show (1): such a figure could only fail by noise, so it is not asked, and says why."""
    synthetic = table.sample(n=800, random_state=3).reset_index(drop=True)
    accountant = Accountant(Budget(1.0, 1e-6))
    plan = plan_budget(CONFIG, accountant.budget)
    measured = measure_gate(_inputs(table, SplitKey.fresh(), codec, synthetic), accountant=accountant,
                            costs=plan.gate_costs, private_checks=FewHoldoutRows)
    charged = {c.label for c in accountant.charges}
    for name in ("exact_match_excess", "near_match_excess"):
        assert f"gate:{name}" not in charged
        figure = measured.figures[name]
        assert figure.value is None and figure.note is not None and "above the largest possible excess" in figure.note
    assert "gate:tvd_1way_mean" in charged  # the other checks are asked as before
    decision = gate(measured.figures, CONFIG.gate)
    (check,) = [c for c in decision.checks if c.name == "near_match_excess"]
    assert check.passed is None and "not asked" in check.reason
