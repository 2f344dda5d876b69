"""The empirical privacy audit (bench/privacy): its arithmetic, and a small audit that can fail both ways.

Fast tests check the bound and interval arithmetic against closed forms and against a mechanism
whose epsilon is known exactly (randomised response). The slow test runs a small canary audit on
health_insurance: synthgate's DP models must not show more epsilon than configured, and the
non-private baseline must be caught, so a broken attack cannot pass for a private model.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `bench` lives at the repository root, outside the installed packages
    sys.path.insert(0, str(REPO))

from bench.privacy.attacks import canary_scores, density_ratio, distance_to_closest, measurement_score  # noqa: E402
from bench.privacy.stats import (  # noqa: E402
    advantage_bound, choose_threshold, clopper_pearson, epsilon_lower_bound, gaussian_audit_ceiling, rates, roc_auc,
)
from synthgate.privacy.domain import Measurement  # noqa: E402



def test_clopper_pearson_matches_closed_forms() -> None:
    # With 0 (or all) successes the interval's open end has the closed form (alpha/2)^(1/n).
    low, high = clopper_pearson(0, 10)
    assert low == 0.0 and high == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-9)
    low, high = clopper_pearson(10, 10)
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 10), rel=1e-9)
    low, high = clopper_pearson(50, 100)  # symmetric around one half; known value 0.3983..0.6017
    assert low == pytest.approx(1 - high, abs=1e-12) and low == pytest.approx(0.3983, abs=1e-4)
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


def test_advantage_bound_closed_forms() -> None:
    assert advantage_bound(0.0) == 0.0
    assert advantage_bound(math.log(3)) == pytest.approx(0.5)  # (3 - 1) / (3 + 1)
    assert advantage_bound(0.0, 0.1) == pytest.approx(0.1)
    assert advantage_bound(1e4) == 1.0
    assert advantage_bound(0.3) < advantage_bound(1) < advantage_bound(3) < 1


def test_epsilon_lower_bound_of_a_perfect_attack_is_limited_by_trials() -> None:
    # 100/100 caught, 0/100 false alarms: TPR >= 0.0362^(...) -> log(0.9638 / 0.0362) = 3.28.
    outcome = rates(100, 100, 0, 100)
    expected = math.log(0.025 ** (1 / 100) / (1 - 0.025 ** (1 / 100)))
    assert epsilon_lower_bound(outcome) == pytest.approx(expected, rel=1e-9)
    assert epsilon_lower_bound(rates(50, 100, 50, 100)) == 0.0
    # delta is subtracted from the true-positive side: a huge delta explains everything.
    assert epsilon_lower_bound(outcome, delta=0.99) == 0.0


@pytest.mark.parametrize("epsilon", [0.3, 1.0, 3.0])
def test_randomised_response_bound_is_tight_but_never_above_epsilon(epsilon: float) -> None:
    """Randomised response is exactly epsilon-DP: the audit must land just under epsilon.

    Seeded; 200,000 runs per side make the intervals narrow (about +-0.005 on each rate), so the
    bound must come within 10% of epsilon; a 95% bound above epsilon fails with < 2.5% chance,
    and with this seed it does not.
    """
    rng = np.random.default_rng(2020)
    n = 200_000
    keep = math.exp(epsilon) / (1 + math.exp(epsilon))
    outcome = rates(int(rng.binomial(n, keep)), n, int(rng.binomial(n, 1 - keep)), n)
    bound = epsilon_lower_bound(outcome)
    assert 0.9 * epsilon <= bound <= epsilon
    assert outcome.advantage_interval[0] <= advantage_bound(epsilon) <= outcome.advantage_interval[1]


def test_roc_auc_counts_pairs_with_ties_as_one_half() -> None:
    # pairs (member, non-member): 1>0, 1<2, 2>0, 2=2 (one half), 3>0, 3>2 -> 4.5 of 6
    assert roc_auc(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0])) == pytest.approx(0.75, abs=1e-15)
    assert roc_auc(np.array([5.0]), np.array([5.0])) == 0.5 and roc_auc(np.array([0.0]), np.array([1.0])) == 0.0
    rng = np.random.default_rng(5)  # the rank-sum (Mann-Whitney U) form on a larger tied sample
    members, others = rng.integers(0, 6, 300).astype(float), rng.integers(0, 5, 250).astype(float)
    u = (members[:, None] > others[None, :]).sum() + 0.5 * (members[:, None] == others[None, :]).sum()
    assert roc_auc(members, others) == pytest.approx(u / (members.size * others.size), abs=1e-12)


def test_clopper_pearson_matches_a_known_interval() -> None:
    # 3 of 10 at 95%: the beta quantiles B(0.025; 3, 8) = 0.0667 and B(0.975; 4, 7) = 0.6525
    low, high = clopper_pearson(3, 10)
    assert low == pytest.approx(0.06673951, abs=1e-7) and high == pytest.approx(0.65245285, abs=1e-7)


def test_choose_threshold_separates_when_it_can() -> None:
    threshold, bound, advantage = choose_threshold(np.array([5.0, 6, 7, 8] * 10), np.array([0.0, 1, 2, 3] * 10))
    assert 3 < threshold <= 5 and advantage == 1.0 and bound > 2


def test_distance_and_canary_scores_on_a_tiny_table() -> None:
    numeric, sizes = (False, True), (3, 11)
    synthetic = np.array([[0, 0], [1, 10], [1, 9], [2, 5]])
    targets = np.array([[1, 10], [0, 5], [2, 6]])
    # [1,10] is in the release; [0,5] is 0.5 from [0,0] (one category off is 1.0, 5 bins of 10 is 0.5).
    assert distance_to_closest(targets, synthetic, numeric=numeric, sizes=sizes) == pytest.approx([0.0, 0.5, 0.1])
    scores = canary_scores(synthetic, np.array([1, 10]), numeric=numeric)
    assert scores["exact"] == 2.0  # [1,10] and [1,9] (within one bin)
    assert scores["rare_values"] == 2.0 and scores["near"] == 4.0


def test_density_ratio_compares_exact_cell_shares() -> None:
    synthetic = np.array([[0, 1]] * 3 + [[1, 1]])
    reference = np.array([[0, 1], [1, 1], [1, 1], [1, 0]])
    ratio = density_ratio(np.array([[0, 1], [1, 0]]), synthetic, reference)
    # [0,1]: (3+1)/5 in the release vs (1+1)/5 in the population; [1,0]: (0+1)/5 vs (1+1)/5.
    assert ratio == pytest.approx([math.log(2.0), math.log(0.5)])


def test_measurement_score_reads_the_canary_cell_through_groupings() -> None:
    """One fine 1-way measurement and one 2-way measurement over coarse groups of column b."""
    reference = np.array([[0, 0], [0, 3], [1, 2], [1, 3]])
    canary = np.array([1, 3])
    groupings = {"a": np.array([0, 1]), "b": np.array([0, 0, 1, 1])}  # b: codes {0,1} -> 0, {2,3} -> 1
    one_way = Measurement(("b",), np.array([1.0, 0.0, 1.0, 2.0 + 1.0]), stddev=1.0, shape=(4,))
    two_way = Measurement(("a", "b"), np.array([2.0, 0.0, 0.0, 2.0 + 0.5]), stddev=0.5, shape=(2, 2))
    score = measurement_score([one_way, two_way], canary, reference, columns=("a", "b"), sizes=(2, 4),
                              groupings=groupings)
    # b=3 has 2 reference rows, noisy 3 -> +1 at weight 1; cell (a=1, b-group 1) has 2 rows, noisy 2.5 -> +0.5 at weight 4.
    assert score == pytest.approx(1.0 + 0.5 * 4)


def test_gaussian_ceiling_grows_with_the_shift_and_is_capped_by_trials() -> None:
    ceilings = [gaussian_audit_ceiling(mu, 100) for mu in (0.3, 1.0, 2.0, 30.0)]
    assert ceilings[0] == 0.0 and ceilings[0] < ceilings[1] < ceilings[2] < ceilings[3]
    assert ceilings[3] == pytest.approx(epsilon_lower_bound(rates(100, 100, 0, 100)))


@pytest.mark.slow
def test_canary_audit_bounds_dp_models_and_catches_the_baseline() -> None:
    """Small canary audit on health_insurance, every DP release through the DP gate (8-18 min on the
    shared 2-core machine beside a full audit, 3-4 s a graphical/AIM release): a DP model's
    empirical epsilon lower bound must stay <= its configured epsilon, and the non-private
    resample must be caught."""
    from bench.privacy.audit import canary_audit, membership_audit
    from bench.privacy.releases import Method, load_table

    table = load_table("health_insurance", seed=1)
    baseline = canary_audit(table, Method("resample"), trials=60, select=20, seed=3)
    assert baseline["result"]["epsilon_lower_bound"] > 0.5, "the attack no longer catches a non-private release"
    for method in (Method("graphical", 1.0), Method("copula", 1.0)):
        audit = canary_audit(table, method, trials=60, select=20, seed=3)
        assert audit["result"]["epsilon_lower_bound"] <= 1.0, f"{method.label} leaks more than epsilon allows"
        assert audit["white_box"]["epsilon_lower_bound"] <= 1.0, f"{method.label}: measurements leak too much"
    noise_free = canary_audit(table, Method("graphical", 1e3), trials=30, select=10, seed=3)
    assert noise_free["white_box"]["epsilon_lower_bound"] > 1.0, "the white-box attack misses a noise-free release"

    leaky = membership_audit([table], Method("resample"), n_targets=1000, seed=3)
    assert leaky["scores"]["distance"]["evaluation"]["advantage_interval"][0] > 0
    private = membership_audit([table], Method("graphical", 1.0), n_targets=1000, seed=3)
    for result in private["scores"].values():
        assert result["evaluation"]["advantage_interval"][0] <= advantage_bound(1.0, table.delta)
