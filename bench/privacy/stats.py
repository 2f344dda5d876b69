"""The arithmetic of an audit: Clopper-Pearson intervals, what (epsilon, delta)-DP allows, and
empirical epsilon lower bounds from attack outcomes.

An attack that guesses "member" has a true-positive rate TPR (on runs where the target is in)
and a false-positive rate FPR (runs where it is out). (epsilon, delta)-DP forces, for every test,

    TPR <= e^eps * FPR + delta    and    1 - FPR <= e^eps * (1 - TPR) + delta,

so TPR - FPR <= (e^eps - 1 + 2 delta) / (e^eps + 1) (Kairouz, Oh, Viswanath 2015). Reading these
backwards with confidence intervals gives a lower bound on the epsilon the runs actually had
(Jagielski, Ullman, Oprea 2020; Nasr et al. 2021).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import binomtest, norm
from sklearn.metrics import roc_auc_score

__all__ = ["Rates", "advantage_bound", "gaussian_audit_ceiling", "clopper_pearson", "epsilon_lower_bound", "rates", "roc_auc",
           "bootstrap_auc", "choose_threshold"]


def clopper_pearson(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval: each side misses with probability (1 - confidence) / 2
    (scipy's `binomtest(...).proportion_ci(method="exact")`)."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError("need 0 <= successes <= trials and trials >= 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie in (0, 1)")
    return _clopper_pearson(int(successes), int(trials), float(confidence))


@lru_cache(maxsize=None)  # threshold searches ask for the same (successes, trials) many times over
def _clopper_pearson(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    interval = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="exact")
    return float(interval.low), float(interval.high)


def advantage_bound(epsilon: float, delta: float = 0.0) -> float:
    """Largest TPR - FPR any test can reach against an (epsilon, delta)-DP mechanism."""
    if epsilon < 0 or not 0 <= delta < 1:
        raise ValueError("need epsilon >= 0 and 0 <= delta < 1")
    if epsilon > 700:
        return 1.0
    grow = math.exp(epsilon)
    return min(1.0, (grow - 1 + 2 * delta) / (grow + 1))


@dataclass(frozen=True)
class Rates:
    """An attack's outcome at one threshold, with Clopper-Pearson intervals."""

    true_positives: int
    n_in: int
    false_positives: int
    n_out: int
    tpr: tuple[float, float, float]  # estimate, low, high
    fpr: tuple[float, float, float]

    @property
    def advantage(self) -> float:
        return self.tpr[0] - self.fpr[0]

    @property
    def advantage_interval(self) -> tuple[float, float]:
        """Conservative: both rates' intervals at their worst (each side holds with >= 95%)."""
        return self.tpr[1] - self.fpr[2], self.tpr[2] - self.fpr[1]

    def to_json(self) -> dict[str, object]:
        return {"true_positives": self.true_positives, "n_in": self.n_in, "false_positives": self.false_positives,
                "n_out": self.n_out, "tpr": list(self.tpr), "fpr": list(self.fpr), "advantage": self.advantage,
                "advantage_interval": list(self.advantage_interval)}


def rates(true_positives: int, n_in: int, false_positives: int, n_out: int, *, confidence: float = 0.95) -> Rates:
    tpr = true_positives / n_in
    fpr = false_positives / n_out
    return Rates(true_positives, n_in, false_positives, n_out,
                 (tpr, *clopper_pearson(true_positives, n_in, confidence=confidence)),
                 (fpr, *clopper_pearson(false_positives, n_out, confidence=confidence)))


def epsilon_lower_bound(outcome: Rates, delta: float = 0.0) -> float:
    """Smallest epsilon consistent with the outcome's intervals, under (epsilon, delta)-DP (>= 0).

    Uses both inequalities: a test that is rarely wrong on "in" runs is as telling as one that is
    rarely wrong on "out" runs. With 95% intervals on both rates, the bound holds with >= 95%.
    """
    _, tpr_low, tpr_high = outcome.tpr
    _, fpr_low, fpr_high = outcome.fpr
    bounds = [0.0]
    if tpr_low - delta > 0 and fpr_high > 0:
        bounds.append(math.log((tpr_low - delta) / fpr_high))
    if (1 - fpr_high) - delta > 0 and (1 - tpr_low) > 0:
        bounds.append(math.log(((1 - fpr_high) - delta) / (1 - tpr_low)))
    return max(bounds)


def choose_threshold(scores_in: np.ndarray, scores_out: np.ndarray, *, delta: float = 0.0,
                     objective: str = "epsilon") -> tuple[float, float, float]:
    """(threshold, epsilon bound, TPR - FPR) for the rule "in if score >= threshold", chosen on these scores.

    objective "epsilon": the epsilon lower bound the threshold reaches on these same scores (so a
    threshold resting on a handful of runs is not preferred), ties broken by TPR - FPR; the canary
    audit's choice. "advantage": the largest TPR - FPR (membership inference). Call it
    on a selection split and evaluate on fresh runs: choosing and evaluating on the same runs
    would bias the bound upwards.
    """
    scores_in = np.asarray(scores_in, float)
    scores_out = np.asarray(scores_out, float)
    if scores_in.size == 0 or scores_out.size == 0:
        raise ValueError("need scores for both in and out runs")
    if objective not in ("epsilon", "advantage"):
        raise ValueError("objective must be 'epsilon' or 'advantage'")
    best = (-1.0, -2.0, math.inf)
    for threshold in np.unique(np.concatenate([scores_in, scores_out])):
        outcome = rates(int((scores_in >= threshold).sum()), scores_in.size,
                        int((scores_out >= threshold).sum()), scores_out.size)
        key = (epsilon_lower_bound(outcome, delta), outcome.advantage, float(threshold))
        if (key[:2] > best[:2]) if objective == "epsilon" else ((key[1], key[0]) > (best[1], best[0])):
            best = key
    return best[2], best[0], best[1]


def roc_auc(scores_in: np.ndarray, scores_out: np.ndarray) -> float:
    """P(score of a random member > score of a random non-member), ties counted one half
    (sklearn's `roc_auc_score` with members as the positive class)."""
    scores_in = np.asarray(scores_in, float)
    scores_out = np.asarray(scores_out, float)
    if scores_in.size == 0 or scores_out.size == 0:
        raise ValueError("need scores for both members and non-members")
    labels = np.concatenate([np.ones(scores_in.size), np.zeros(scores_out.size)])
    return float(roc_auc_score(labels, np.concatenate([scores_in, scores_out])))


def bootstrap_auc(scores_in: np.ndarray, scores_out: np.ndarray, *, rng: np.random.Generator,
                  resamples: int = 200) -> tuple[float, float]:
    """Percentile 95% interval of the AUC, members and non-members resampled separately."""
    scores_in = np.asarray(scores_in, float)
    scores_out = np.asarray(scores_out, float)
    values = [roc_auc(rng.choice(scores_in, scores_in.size), rng.choice(scores_out, scores_out.size))
              for _ in range(resamples)]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def gaussian_audit_ceiling(mu: float, trials: int, *, delta: float = 0.0) -> float:
    """The epsilon lower bound the best test can expect from `trials` runs per side when the
    target's presence shifts a unit-variance Gaussian statistic by `mu` (mu-GDP; a rho-zCDP
    histogram gives mu = sqrt(2 rho) for one row). Expected counts, Clopper-Pearson as above.

    A reference for how tight an audit of this size can be: near it, the noise is as calibrated
    as claimed; far above it, something leaks beyond the measurements.
    """
    if mu < 0 or trials < 1:
        raise ValueError("need mu >= 0 and trials >= 1")
    best = 0.0
    for t in np.linspace(-4.0, mu + 8.0, 400):
        tp = int(round(trials * float(norm.sf(t - mu))))
        fp = int(round(trials * float(norm.sf(t))))
        best = max(best, epsilon_lower_bound(rates(tp, trials, fp, trials), delta))
    return best
