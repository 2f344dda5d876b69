"""The two audits: population membership inference on one release, and the canary audit over many.

Both keep choosing and judging apart: thresholds (and, for the canary, which score to use) are
chosen on one part of the targets or runs and evaluated on the rest.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from .attacks import CANARIES, CANARY_SCORES, canary_scores, density_ratio, distance_to_closest, measurement_score
from .releases import AuditTable, Method, Release, release, train_sample_with
from .stats import (advantage_bound, bootstrap_auc, choose_threshold, epsilon_lower_bound, gaussian_audit_ceiling,
                    rates, roc_auc)

__all__ = ["membership_audit", "canary_audit", "canary_codes"]

WHITE_BOX = "measurements"  # the score computed from the noisy measurements (model's and gate's), reported apart
# Published by the DP gate (manifest, --json): black-box scores, next to the synthetic-row ones.
# gate_exact: the noisy count of training check-sample rows with an exact synthetic copy;
# gate_held: 1 when the gate decided HOLD.
GATE_SCORES = ("gate_exact", "gate_held")
# White-box parts, reported for comparison: the model's measurements alone, and the gate's noisy
# training-row count alone (the canary adds exactly 1 to it).
WHITE_BOX_PARTS = ("measurements_model", "gate_rows")
MEMBERSHIP_SCORES = ("distance", "density")


def membership_audit(tables: list[AuditTable], method: Method, *, n_targets: int, seed: int) -> dict[str, Any]:
    """Population membership inference: members (training rows) vs non-members (holdout rows).

    One release per table in `tables` (one per repeat, each with its own split), targets pooled.
    Two scores (MEMBERSHIP_SCORES): minus the distance to the closest synthetic row, and the
    synthetic/population density ratio of the target's exact cell, the population being holdout
    rows that are not targets. Thresholds are chosen on half the targets, advantages measured on
    the other half.
    """
    start = time.perf_counter()
    rng = np.random.default_rng([seed, 7])
    pooled: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {s: ([], []) for s in MEMBERSHIP_SCORES}
    held = 0
    for table in tables:
        run = release(table, table.train, method, rng)
        synthetic = run.codes
        held += int(run.gate is not None and run.gate.held)
        m = min(n_targets, table.holdout.shape[0] // 2, table.train.shape[0])
        order = rng.permutation(table.holdout.shape[0])
        reference = table.holdout[order[m:]]
        members = table.train[rng.choice(table.train.shape[0], m, replace=False)]
        for side, targets in enumerate((members, table.holdout[order[:m]])):
            pooled["distance"][side].append(-distance_to_closest(targets, synthetic, numeric=table.numeric,
                                                                 sizes=table.sizes))
            pooled["density"][side].append(density_ratio(targets, synthetic, reference))
    delta = tables[0].delta if method.is_private else 0.0
    scores = {name: _membership_result(np.concatenate(s_in), np.concatenate(s_out), rng)
              for name, (s_in, s_out) in pooled.items()}
    distance_in, distance_out = (np.concatenate(part) for part in pooled["distance"])
    return {
        "table": tables[0].name, "method": method.label, "kind": method.kind, "epsilon": method.epsilon,
        "releases": len(tables), "held_by_gate": held if method.is_private else None,
        "members": int(distance_in.size), "non_members": int(distance_out.size),
        "exact_copies_members": float(np.mean(distance_in == 0)),
        "exact_copies_non_members": float(np.mean(distance_out == 0)),
        "scores": scores,
        "advantage_bound": advantage_bound(method.epsilon, delta) if method.is_private else None,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _membership_result(scores_in: np.ndarray, scores_out: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    pick_in = rng.random(scores_in.size) < 0.5
    pick_out = rng.random(scores_out.size) < 0.5
    threshold, _, _ = choose_threshold(scores_in[pick_in], scores_out[pick_out], objective="advantage")
    held_in, held_out = scores_in[~pick_in], scores_out[~pick_out]
    outcome = rates(int((held_in >= threshold).sum()), held_in.size, int((held_out >= threshold).sum()), held_out.size)
    return {"auc": roc_auc(scores_in, scores_out), "auc_interval": list(bootstrap_auc(scores_in, scores_out, rng=rng)),
            "threshold": threshold, "evaluation": outcome.to_json()}


def canary_codes(table: AuditTable) -> np.ndarray:
    """The table's canary record, encoded with the public codec (values from CANARIES)."""
    if table.name not in CANARIES:
        raise SystemExit(f"{table.name}: no canary defined in bench/privacy/attacks.py CANARIES")
    return table.codec.encode(_canary_frame(table))[0].astype(np.int32)


def canary_audit(table: AuditTable, method: Method, *, trials: int, select: int, seed: int,
                 progress: bool = False) -> dict[str, Any]:
    """Release `trials` times with the canary and `trials` times without (fresh DP noise each),
    choose the score and threshold on the first `select` runs of each kind, and bound epsilon
    from the remaining runs with Clopper-Pearson intervals."""
    if not 0 < select < trials:
        raise ValueError("need 0 < select < trials")
    start = time.perf_counter()
    canary = canary_codes(table)
    with_canary = np.vstack([table.train, canary[None, :]])
    # The gate's training check sample when the canary is in. Worst case: the canary gets the lowest
    # priority, so the gate always compares it (a run's secret key would, with probability ~k/n).
    canary_sample = train_sample_with(table, _canary_frame(table), first=True)
    canary_in_sample = bool(_is_canary(canary_sample, table).any())
    rng = np.random.default_rng([seed, 11])
    black_box = (*CANARY_SCORES, *GATE_SCORES) if method.is_private else CANARY_SCORES
    names = (*black_box, WHITE_BOX, *WHITE_BOX_PARTS) if method.is_private else CANARY_SCORES
    scores: dict[str, dict[str, list[float]]] = {"in": {s: [] for s in names}, "out": {s: [] for s in names}}
    held = {"in": 0, "out": 0}
    mu = mu_model = None
    for trial in range(trials):
        for side, codes in (("in", with_canary), ("out", table.train)):
            run = release(table, codes, method, rng, train_sample=canary_sample if side == "in" else None)
            for name, value in canary_scores(run.codes, canary, numeric=table.numeric).items():
                scores[side][name].append(value)
            if method.is_private:
                model_score = measurement_score(
                    run.measurements, canary, table.train, columns=table.codec.domain.columns, sizes=table.sizes,
                    groupings=run.groupings)
                rows_score, rows_weight = _gate_rows_score(run, n_other=table.train.shape[0])
                scores[side]["measurements_model"].append(model_score)
                scores[side]["gate_rows"].append(rows_score)
                scores[side][WHITE_BOX].append(model_score + rows_score)
                for name, value in _gate_scores(run).items():
                    scores[side][name].append(value)
                held[side] += int(run.gate is not None and run.gate.held)
                # The canary adds one to one cell of every count measurement: its shift, in units of
                # the weighted statistic's noise, is sqrt(sum of 1/variance) (capped like the score).
                # The gate's training-row count is one more such measurement.
                mu_model = float(np.sqrt(sum(min(1.0 / max(m.stddev, 1e-300) ** 2, 1e12)
                                             for m in run.measurements if m.kind == "counts")))
                mu = float(np.sqrt(mu_model**2 + rows_weight))
        if progress and (trial + 1) % max(1, trials // 5) == 0:
            print(f"    {method.label}: {trial + 1}/{trials} trial pairs, {time.perf_counter() - start:.0f}s",
                  flush=True)
    delta = table.delta if method.is_private else 0.0
    per_score = {}
    for name in names:
        s_in, s_out = np.asarray(scores["in"][name]), np.asarray(scores["out"][name])
        threshold, sel_bound, sel_advantage = choose_threshold(s_in[:select], s_out[:select], delta=delta)
        e_in, e_out = s_in[select:], s_out[select:]
        outcome = rates(int((e_in >= threshold).sum()), e_in.size, int((e_out >= threshold).sum()), e_out.size)
        per_score[name] = {"threshold": threshold, "selection_bound": sel_bound, "selection_advantage": sel_advantage,
                           "evaluation": outcome.to_json(), "epsilon_lower_bound": epsilon_lower_bound(outcome, delta),
                           "mean_in": float(s_in.mean()), "mean_out": float(s_out.mean())}
    chosen = max(black_box, key=lambda n: (per_score[n]["selection_bound"], per_score[n]["selection_advantage"]))
    white_box = per_score.get(WHITE_BOX)
    if white_box is not None and mu is not None:
        white_box = {**white_box, "mu": mu, "mu_model": mu_model,
                     "ceiling": gaussian_audit_ceiling(min(mu, 40.0), trials - select, delta=delta)}
    gate = None
    if method.is_private:
        gate = {"held_in": held["in"], "held_out": held["out"], "canary_in_check_sample": canary_in_sample,
                "black_box": {n: per_score[n]["epsilon_lower_bound"] for n in GATE_SCORES},
                "gate_rows_epsilon_lower_bound": per_score["gate_rows"]["epsilon_lower_bound"]}
    return {
        "table": table.name, "method": method.label, "kind": method.kind, "epsilon": method.epsilon,
        "delta": delta, "trials_per_side": trials, "selection_per_side": select, "evaluation_per_side": trials - select,
        "chosen_score": chosen, "result": per_score[chosen], "white_box": white_box, "gate": gate,
        "scores": per_score,
        "advantage_bound": advantage_bound(method.epsilon, delta) if method.is_private else None,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _canary_frame(table: AuditTable) -> pd.DataFrame:
    return pd.DataFrame([CANARIES[table.name]])[list(table.codec.columns)]


def _is_canary(frame: pd.DataFrame, table: AuditTable) -> np.ndarray:
    return (table.codec.encode(frame) == canary_codes(table)[None, :]).all(axis=1)


def _gate_rows_score(run: Release, *, n_other: int) -> tuple[float, float]:
    """White-box likelihood-ratio term of the gate's noisy training-row count (the canary adds exactly
    one): ((noisy count - rows of the others) / variance, 1 / variance)."""
    if run.gate is None:
        return 0.0, 0.0
    answer = run.gate.noisy("gate:rows", "train")
    if answer is None:
        return 0.0, 0.0
    value, stddev = answer
    weight = min(1.0 / max(stddev, 1e-300) ** 2, 1e12)
    return (value - n_other) * weight, weight


def _gate_scores(run: Release) -> dict[str, float]:
    """Black-box scores from what the gate publishes (GATE_SCORES)."""
    if run.gate is None:
        return {"gate_exact": 0.0, "gate_held": 0.0}
    exact = run.gate.noisy("gate:exact_match_excess", "train")
    return {"gate_exact": exact[0] if exact is not None else 0.0, "gate_held": float(run.gate.held)}
