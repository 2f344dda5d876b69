"""Graphical models (tree and adaptive): two-resolution groups, tree selection under DP, IPF estimation, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from synthgate.privacy.accountant import Accountant, Budget
from synthgate.privacy.domain import Domain
from synthgate.privacy.models import AdaptiveModel, ModelError, TreeModel
from synthgate.privacy.models.graphical import parents_first
from synthgate.privacy.models.groups import frequent_groups, quantile_groups
from synthgate.privacy.models.ipf import IPF_TOLERANCE, fit_margins, iterate_to_fixpoint
from synthgate.privacy.table import PrivateTable


def test_quantile_groups_are_contiguous_equal_mass_with_null_alone() -> None:
    fine = np.array([0.1] * 8 + [0.2])  # 8 ordered codes, then the null code
    groups = quantile_groups(fine, 5, null_code=8)
    assert groups[8] == groups.max() and np.count_nonzero(groups == groups[8]) == 1
    ordered = groups[:8]
    assert np.all(np.diff(ordered) >= 0)           # contiguous ranges of ordered codes
    assert len(np.unique(ordered)) == 4            # 4 value groups + 1 null group = 5
    assert np.array_equal(np.bincount(ordered), [2, 2, 2, 2])  # equal mass


def test_quantile_groups_on_skewed_mass_give_detail_where_the_mass_is() -> None:
    fine = np.r_[np.full(4, 0.2), np.full(60, 0.2 / 60)]  # 80% of the mass in the first 4 codes
    groups = quantile_groups(fine, 8, null_code=None)
    assert len(np.unique(groups[:4])) >= 3          # the dense head is split finely
    assert len(np.unique(groups)) <= 8


def test_frequent_groups_keep_the_top_levels_and_merge_the_rest() -> None:
    fine = np.r_[0.5, 0.3, np.full(598, 0.2 / 598)]
    groups = frequent_groups(fine, 4, null_code=None)
    assert len(np.unique(groups)) == 4
    assert groups[0] != groups[1] and np.count_nonzero(groups == groups[-1]) == 600 - 3  # 3 kept, 597 merged


def test_fit_margins_matches_both_margins() -> None:
    table = np.random.default_rng(0).random((5, 7)) + 0.01
    rows, columns = np.full(5, 0.2), np.linspace(1, 7, 7) / 28
    fitted = fit_margins(table, rows, columns)
    assert np.allclose(fitted.sum(axis=1), rows, atol=1e-6)
    assert np.allclose(fitted.sum(axis=0), columns, atol=1e-6)


def _dependent_table(n: int = 50_000, seed: int = 0) -> tuple[np.ndarray, Domain]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, n)
    b = np.where(rng.random(n) < 0.8, a, rng.integers(0, 6, n))  # b copies a 80% of the time
    c = rng.integers(0, 3, n)                                     # independent of both
    wide = rng.zipf(1.5, n).clip(1, 400) - 1                      # 400 levels, heavy tail
    return np.column_stack([a, b, c, wide]).astype(np.int32), Domain(("a", "b", "c", "wide"), (6, 6, 3, 400))


def test_selects_the_dependent_pair_and_reproduces_it() -> None:
    codes, domain = _dependent_table()
    accountant = Accountant(Budget(epsilon=5.0, delta=1e-6))
    model = TreeModel(groups=16).fit(PrivateTable(codes, domain, accountant), accountant.rho_available())
    edges = {frozenset(domain.columns[k] for k in e) for e in model.edges_}
    assert frozenset({"a", "b"}) in edges          # the strongest dependence is an edge of the tree
    rows = model.sample(50_000, np.random.default_rng(1))
    agreement = np.mean(rows[:, 0] == rows[:, 1])
    # In the data P(a == b) = 0.8 + 0.2/6 ≈ 0.833; an independent model would give 1/6.
    assert agreement == pytest.approx(0.833, abs=0.03)


def test_spends_exactly_its_budget_and_labels_every_charge() -> None:
    codes, domain = _dependent_table(5000)
    accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
    budget = accountant.rho_available()
    TreeModel(groups=8).fit(PrivateTable(codes, domain, accountant), budget)
    assert accountant.spent().rho == pytest.approx(budget, rel=1e-9)
    labels = [c.label for c in accountant.charges]
    assert labels[:4] == ["marginal:a", "marginal:b", "marginal:c", "marginal:wide"]
    assert sum(label.startswith("select:tree-edge") for label in labels) == 3
    assert sum(label.count(",") == 1 for label in labels) == 3  # three 2-way marginals for a tree on 4 nodes


def test_wide_columns_are_compressed_to_the_group_count() -> None:
    codes, domain = _dependent_table(5000)
    accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
    model = TreeModel(groups=8).fit(PrivateTable(codes, domain, accountant), accountant.rho_available())
    two_way = [m for m in model.measurements_ if len(m.columns) == 2]
    assert all(m.noisy_counts.size <= 8 * 8 for m in two_way)  # no 400-level table is ever measured
    rows = model.sample(2000, np.random.default_rng(0))
    assert rows[:, 3].max() < 400 and rows[:, 3].min() >= 0


def test_pure_epsilon_accounting_works_too() -> None:
    codes, domain = _dependent_table(5000)
    accountant = Accountant(Budget(epsilon=2.0))
    TreeModel(groups=8).fit(PrivateTable(codes, domain, accountant), 2.0)
    assert accountant.spent().epsilon == pytest.approx(2.0)


def test_sampling_l1_matches_simulation() -> None:
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(40))
    n = 5000
    simulated = np.mean([np.abs(rng.multinomial(n, p) - n * p).sum() for _ in range(400)])
    from synthgate.privacy.models.groups import sampling_l1
    # The normal approximation of E|X - np| per cell is within a few percent for np >> 1.
    assert sampling_l1(n * p, n) == pytest.approx(simulated, rel=0.05)


def test_independent_wide_columns_do_not_crowd_out_a_real_relationship() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    a = rng.integers(0, 2, n)
    b = np.where(rng.random(n) < 0.55, a, 1 - a)         # a weak real dependence: L1 ≈ 0.1·n = 2,000
    wide1, wide2 = rng.integers(0, 30, n), rng.integers(0, 30, n)  # independent, 900-cell table
    codes = np.column_stack([a, b, wide1, wide2]).astype(np.int32)
    domain = Domain(("a", "b", "w1", "w2"), (2, 2, 30, 30))
    picked = 0
    for _ in range(10):
        accountant = Accountant(Budget(epsilon=2.0, delta=1e-6))
        model = TreeModel(groups=32).fit(PrivateTable(codes, domain, accountant), accountant.rho_available())
        picked += frozenset(model.edges_[0]) == frozenset({0, 1})
    # The first pick is the real relationship. Without the sampling offset the independent 900-cell pair
    # wins it: its chance L1 is about sqrt(2/π · n · 900) ≈ 3,400 against the real pair's 2,000.
    assert picked >= 9


def test_project_to_total_is_the_least_squares_simplex_projection() -> None:
    from synthgate.privacy.models.groups import project_to_total
    y = np.array([50.0, 30.0, -4.0, 3.0, -10.0])
    x = project_to_total(y, 69.0)
    assert x.sum() == pytest.approx(69.0) and (x >= 0).all()
    assert np.allclose(x, [44.5, 24.5, 0.0, 0.0, 0.0])  # the top two shift down by (80 - 69) / 2, the rest clip
    shift = y[0] - x[0]
    assert np.allclose(x[x > 0], y[x > 0] - shift)
    assert (y[x == 0] <= shift + 1e-12).all()


@pytest.mark.parametrize(("method", "fits", "most"), [("projected", 1, 0.002), ("split", 5, 0.02)])
def test_empty_tails_of_an_ordered_column_are_not_sampled(method: str, fits: int, most: float) -> None:
    """Releases fitted with the projection trim cells beyond the outermost ones over the noise line
    (clipped noise in the 76 empty cells used to put about 1% of rows there). The split histogram
    trims nothing: at n ~ 1,600 that line cut real tails, and everything beside a spike. An empty
    tail is then a few wide ranges whose clipped noisy totals it keeps: 1.0% of rows in the median
    fit here (0 to 2.0% in 40 fits, sd about 0.5%), so the median of 5 fits passes 2% with
    probability about 1e-4. The cost of keeping real tails at small n; DP bounds keep tails short."""
    rng = np.random.default_rng(4)
    n = 8000
    age = rng.integers(18, 63, n)            # the data uses 18..62 of a public 0..120 domain
    other = rng.integers(0, 2, n)
    codes = np.column_stack([age, other]).astype(np.int32)
    domain = Domain(("age", "x"), (121, 2), ordered=(True, False))
    outside = []
    for _ in range(fits):
        accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
        model = TreeModel(groups=16)
        model.fine_method_ = method
        model.fit(PrivateTable(codes, domain, accountant), accountant.rho_available())
        rows = model.sample(20_000, np.random.default_rng(0))
        outside.append(np.mean((rows[:, 0] < 18) | (rows[:, 0] > 62)))
    assert float(np.median(outside)) < most


# ---- selection: aim -----------------------------------------------------------------------------------------

def _xor_table(n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, Domain]:
    """c = a XOR b (90% of rows): every pair looks independent, only the triple shows the dependence."""
    rng = np.random.default_rng(seed)
    a, b, d = rng.integers(0, 2, n), rng.integers(0, 2, n), rng.integers(0, 4, n)
    c = np.where(rng.random(n) < 0.9, a ^ b, 1 - (a ^ b))
    return np.column_stack([a, b, c, d]).astype(np.int32), Domain(("a", "b", "c", "d"), (2, 2, 2, 4))


def test_aim_spends_exactly_its_budget_in_labelled_rounds() -> None:
    codes, domain = _dependent_table(5000)
    accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
    budget = accountant.rho_available()
    AdaptiveModel(groups=8, rounds=5).fit(PrivateTable(codes, domain, accountant), budget)
    assert accountant.spent().rho == pytest.approx(budget, rel=1e-9)
    labels = [c.label for c in accountant.charges]
    assert labels[:4] == ["marginal:a", "marginal:b", "marginal:c", "marginal:wide"]
    # MST's tree first (3 edges on 4 columns), then the adaptive rounds.
    assert [label for label in labels if label.startswith("select:")] == \
        [f"select:tree-edge-{k}" for k in range(1, 4)] + [f"select:aim-round-{k}" for k in range(1, 6)]
    assert sum(label.endswith(tuple(f":aim-{k}" for k in range(1, 6))) for label in labels) == 5
    assert len(labels) == 4 + 2 * 3 + 2 * 5


def test_aim_finds_a_dependence_only_a_triple_shows_and_reproduces_it() -> None:
    codes, domain = _xor_table()
    accountant = Accountant(Budget(epsilon=3.0, delta=1e-6))
    model = AdaptiveModel(groups=8, rounds=3).fit(PrivateTable(codes, domain, accountant),
                                                                    accountant.rho_available())
    measured = [set(m.columns) for m in model.measurements_[4:]]
    assert {"a", "b", "c"} in measured
    rows = model.sample(40_000, np.random.default_rng(1))
    # In the data P(c == a XOR b) = 0.9; a tree (or any model of pairs) gives 0.5.
    assert np.mean(rows[:, 2] == rows[:, 0] ^ rows[:, 1]) == pytest.approx(0.9, abs=0.03)


def test_aim_samples_stay_in_domain_and_restore_gives_the_same_rows() -> None:
    codes, domain = _dependent_table(5000)
    domain = Domain(domain.columns, domain.sizes, ordered=(False, False, False, True))
    accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
    model = AdaptiveModel(groups=8).fit(PrivateTable(codes, domain, accountant),
                                                                           accountant.rho_available())
    rows = model.sample(5000, np.random.default_rng(3))
    assert rows.dtype == np.int32 and ((rows >= 0) & (rows < np.array(domain.sizes))).all()
    again = AdaptiveModel(groups=8).restore(domain, model.measurements_,
                                                                               model.structure())
    np.testing.assert_array_equal(again.sample(5000, np.random.default_rng(3)), rows)


@pytest.mark.parametrize(("model", "name"), [(TreeModel(groups=1), "groups"), (TreeModel(shares=(0.5, 0.6, 0.1)), "shares"),
                                           (AdaptiveModel(rounds=0), "rounds"), (AdaptiveModel(coarse_groups=1), "coarse_groups")],
                         ids=lambda x: x if isinstance(x, str) else type(x).__name__)
def test_a_bad_parameter_is_stored_then_refused_by_fit_before_any_spend(model: TreeModel | AdaptiveModel, name: str) -> None:
    codes, domain = _dependent_table(500)
    accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
    with pytest.raises(ModelError, match=f"{type(model).__name__}: {name} must be"):
        model.fit(PrivateTable(codes, domain, accountant), accountant.rho_available())
    assert not accountant.charges


@pytest.mark.parametrize("model_class", [TreeModel, AdaptiveModel])
def test_a_huge_budget_gives_the_data_back_not_degenerate_rows(model_class: type[TreeModel | AdaptiveModel]) -> None:
    # At epsilon 1e4 the discrete Gaussian's exact variance underflows to ~1e-317; inverse-variance
    # weights then turned into NaN and every sampled row landed on one code, silently.
    codes, domain = _dependent_table(5000)
    accountant = Accountant(Budget(epsilon=1e4, delta=1e-6))
    model = model_class(groups=8).fit(PrivateTable(codes, domain, accountant),
                                         accountant.rho_available())
    rows = model.sample(20_000, np.random.default_rng(2))
    for j in range(codes.shape[1]):
        real = np.bincount(codes[:, j], minlength=domain.sizes[j]) / len(codes)
        synthetic = np.bincount(rows[:, j], minlength=domain.sizes[j]) / len(rows)
        assert 0.5 * np.abs(real - synthetic).sum() < 0.03, domain.columns[j]


# ---- estimation helpers: IPF to a tolerance, the tree's parents-first order ------------------------------------

def test_fit_margins_reaches_the_tolerance_and_stops_before_the_cap_on_an_easy_table() -> None:
    table = np.random.default_rng(0).random((5, 7)) + 0.01
    rows, columns = np.full(5, 0.2), np.linspace(1, 7, 7) / 28
    steps = []

    def row_then_column(fitted: np.ndarray) -> np.ndarray:
        steps.append(1)
        fitted = fitted * (rows / fitted.sum(axis=1))[:, None]
        result: np.ndarray = fitted * (columns / fitted.sum(axis=0))[None, :]
        return result

    fitted = iterate_to_fixpoint(row_then_column, table / table.sum(), max_rounds=1000)
    # A positive table with consistent margins converges geometrically: well under 1000 rounds, and the
    # row margins (off after the column step) are then within a few tolerances of the target.
    assert len(steps) < 100
    assert np.abs(fitted.sum(axis=1) - rows).max() < 10 * IPF_TOLERANCE
    assert np.abs(fitted.sum(axis=0) - columns).max() < 10 * IPF_TOLERANCE
    np.testing.assert_array_equal(fit_margins(table, rows, columns), fitted / fitted.sum())


def test_ipf_that_cannot_converge_stops_at_the_cap() -> None:
    steps = []

    def flip(x: np.ndarray) -> np.ndarray:  # two inconsistent targets: IPF alternates between them
        steps.append(1)
        return 1.0 - x

    iterate_to_fixpoint(flip, np.array([0.25, 0.75]), max_rounds=7)
    assert len(steps) == 7


def test_parents_first_orients_a_tree_breadth_first_from_the_lowest_column() -> None:
    edges = [(3, 1), (0, 3), (2, 0), (4, 3)]  # a tree on 5 columns, in selection order
    oriented = parents_first(5, edges)
    assert oriented == [(0, 2), (0, 3), (3, 1), (3, 4)]  # children in column order
    assert {frozenset(e) for e in oriented} == {frozenset(e) for e in edges}
    assert parents_first(4, [(1, 2)]) == [(1, 2)]  # a forest: each tree from its lowest column
    assert parents_first(3, []) == []


def test_restore_refuses_a_stored_tree_that_is_not_parents_first() -> None:
    codes, domain = _dependent_table(2000)
    accountant = Accountant(Budget(epsilon=1.0, delta=1e-6))
    model = TreeModel(groups=8).fit(PrivateTable(codes, domain, accountant), accountant.rho_available())
    structure = model.structure()
    structure["edges"] = [[b, a] for a, b in structure["edges"]]  # type: ignore[attr-defined]
    with pytest.raises(ModelError, match="parents first"):
        TreeModel(groups=8).restore(domain, model.measurements_, structure)
