"""results.md from the audit's payload: the canary audit first (it tests the guarantee), then
population membership inference, then automatic checks against what epsilon allows."""

from __future__ import annotations

from typing import Any

from bench._common import render_table

__all__ = ["checks", "render_markdown"]


def _interval(values: list[float], digits: int = 3) -> str:
    return f"{values[0]:.{digits}f} [{values[1]:.{digits}f}, {values[2]:.{digits}f}]"


def _eps(value: float | None) -> str:
    return "none (non-private)" if value is None else f"{value:g}"


def checks(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Pass/fail lines: DP methods stay within their bound, the baselines are visibly attackable."""
    out = []
    for c in payload["canary"]:
        for view, result in (("synthetic rows", c["result"]), ("measurements", c.get("white_box"))):
            if result is None:
                continue
            lb = result["epsilon_lower_bound"]
            name = f"canary {c['table']} {c['method']} ({view})"
            if c["epsilon"] is None or c["epsilon"] > 100:
                out.append({"check": f"{name}: attack succeeds (eps lower bound > 0)", "ok": lb > 0, "value": lb})
            else:
                out.append({"check": f"{name}: eps lower bound <= eps {c['epsilon']:g}", "ok": lb <= c["epsilon"],
                            "value": lb})
    for m in payload["membership"]:
        if m["epsilon"] is None:
            best = max(m["scores"], key=lambda s: m["scores"][s]["evaluation"]["advantage_interval"][0])
            ev = m["scores"][best]["evaluation"]
            out.append({"check": f"membership {m['table']} {m['method']}: the attack has power here, advantage "
                                 f"significantly > 0 ({best})",
                        "ok": ev["advantage_interval"][0] > 0, "value": ev["advantage"]})
            continue
        for name, result in m["scores"].items():
            ev = result["evaluation"]
            out.append({"check": f"membership {m['table']} {m['method']} ({name}): advantage within bound "
                                 f"{m['advantage_bound']:.3f} (CI low end)",
                        "ok": ev["advantage_interval"][0] <= m["advantage_bound"], "value": ev["advantage"]})
    return out


def _canary_table(rows: list[dict[str, Any]]) -> str:
    header = ["method", "epsilon", "adv. bound", "score", "TPR [95% CI]", "FPR [95% CI]", "advantage [CI]",
              "eps lower bound", "white-box TPR / FPR", "white-box eps lower bound", "ceiling (mu)", "s"]
    body = []
    for c in rows:
        ev = c["result"]["evaluation"]
        bound = "-" if c["advantage_bound"] is None else f"{c['advantage_bound']:.3f}"
        adv = ev["advantage_interval"]
        body.append([c["method"], _eps(c["epsilon"]), bound, c["chosen_score"], _interval(ev["tpr"], 2),
                     _interval(ev["fpr"], 2), f"{ev['advantage']:.2f} [{adv[0]:.2f}, {adv[1]:.2f}]",
                     f"**{c['result']['epsilon_lower_bound']:.2f}**", *_white_box(c.get("white_box")),
                     f"{c['seconds']:.0f}"])
    return render_table(header, body, markdown=True)


def _white_box(w: dict[str, Any] | None) -> list[str]:
    if not w:
        return ["-", "-", "-"]
    ev = w["evaluation"]
    mu = "huge" if w["mu"] > 40 else f"{w['mu']:.2f}"
    return [f"{ev['tpr'][0]:.2f} / {ev['fpr'][0]:.2f}", f"**{w['epsilon_lower_bound']:.2f}**",
            f"{w['ceiling']:.2f} ({mu})"]


def _gate_table(rows: list[dict[str, Any]]) -> str:
    """What the DP gate adds: its decisions, and the eps lower bound of each gate-based score alone."""
    header = ["method", "epsilon", "HOLD: with / without canary", "gate_exact eps lb", "gate_held eps lb",
              "gate_rows (white box) eps lb", "model measurements alone: eps lb", "mu: model / with gate"]
    body = []
    for c in rows:
        gate, scores, white = c.get("gate"), c["scores"], c.get("white_box") or {}
        if not gate:
            continue
        n = c["trials_per_side"]
        model = scores.get("measurements_model", {}).get("epsilon_lower_bound")
        mu = "huge" if white.get("mu", 0) > 40 else f"{white.get('mu_model', 0):.3f} / {white.get('mu', 0):.3f}"
        body.append([c["method"], _eps(c["epsilon"]), f"{gate['held_in']}/{n} / {gate['held_out']}/{n}",
                     f"{gate['black_box']['gate_exact']:.2f}", f"{gate['black_box']['gate_held']:.2f}",
                     f"{gate['gate_rows_epsilon_lower_bound']:.2f}", "-" if model is None else f"{model:.2f}", mu])
    return render_table(header, body, markdown=True)


def _membership_table(rows: list[dict[str, Any]]) -> str:
    names = list(rows[0]["scores"])
    header = ["method", "epsilon", "adv. bound"]
    for name in names:
        header += [f"{name}: AUC [95% CI]", f"{name}: advantage [CI]"]
    header += ["exact copy: members", "non-members", "HOLD", "s"]
    body = []
    for m in rows:
        bound = "-" if m["advantage_bound"] is None else f"{m['advantage_bound']:.3f}"
        line = [m["method"], _eps(m["epsilon"]), bound]
        for name in names:
            r = m["scores"][name]
            ev = r["evaluation"]
            adv = ev["advantage_interval"]
            line += [f"{r['auc']:.3f} [{r['auc_interval'][0]:.3f}, {r['auc_interval'][1]:.3f}]",
                     f"{ev['advantage']:.3f} [{adv[0]:.3f}, {adv[1]:.3f}]"]
        held = m.get("held_by_gate")
        body.append(line + [f"{m['exact_copies_members']:.3f}", f"{m['exact_copies_non_members']:.3f}",
                            "-" if held is None else f"{held}/{m['releases']}", f"{m['seconds']:.0f}"])
    return render_table(header, body, markdown=True)


def _anonymeter_section(rows: list[dict[str, Any]]) -> list[str]:
    spec = rows[0]["spec"]
    names = ("singling_out_univariate", "linkability", "inference")
    header = ["method", "epsilon", *(f"{n} risk [95% CI]" for n in names), "s"]
    body = [[r["method"], _eps(r["epsilon"]),
             *(f"{r[n]['risk']:.3f} [{r[n]['ci'][0]:.3f}, {r[n]['ci'][1]:.3f}]" for n in names),
             f"{r['seconds']:.0f}"] for r in rows]
    return [f"## anonymeter: {rows[0]['table']}", "",
            f"One release per method; {spec['n_attacks']} attacks per evaluator; risk = how much better the attack "
            "does on training rows than on control (holdout) rows, 0 = no better. Linkability splits the columns "
            f"into {spec['link_a']} and {spec['link_b']} (10 neighbours); inference guesses `{spec['secret']}` "
            "from every other column. Univariate singling out finds almost no unique values on this table "
            "(anonymeter warns), so that column is uninformative; multivariate singling out did not finish "
            "in 5 minutes per release and is left out.", "",
            render_table(header, body, markdown=True), ""]


def render_markdown(payload: dict[str, Any]) -> str:
    s, machine = payload["settings"], payload["machine"]
    git = machine.get("git") or {}
    lines = [
        "# Empirical privacy audit",
        "",
        f"Generated by `{payload['command']}` on {machine['date_utc']} ({machine['cpu_count']} CPUs, shared; "
        f"load at start {machine['load_average_1_5_15']}; commit {str(git.get('commit', '?'))[:12]}"
        + (", uncommitted changes" if git.get("modified_tracked_files") else "")
        + f"); total {payload['total_seconds'] / 60:.1f} min. Method and caveats: `bench/privacy/README.md`.",
        f"delta = {s['delta']:g} for every DP method (the configs' `privacy.delta`), zCDP accounting converted "
        "to (epsilon, delta) as in `run_release`. 'adv. bound' = (e^eps - 1 + 2 delta) / (e^eps + 1), the most "
        "TPR - FPR any attack can reach against (eps, delta)-DP.",
        "",
    ]
    for table in s["canary_tables"]:
        rows = [c for c in payload["canary"] if c["table"] == table]
        c0 = rows[0]
        lines += [f"## Canary audit: {table}", "",
                  f"{c0['trials_per_side']} releases with the canary and {c0['trials_per_side']} without, per method "
                  f"(fresh DP noise each); score and threshold chosen on the first {c0['selection_per_side']} of "
                  f"each, TPR/FPR measured on the other {c0['evaluation_per_side']}. eps lower bound = "
                  "max(log((TPR_low - delta) / FPR_high), log((1 - FPR_high - delta) / (1 - TPR_low)), 0) with "
                  "Clopper-Pearson 95% intervals: it holds with >= 95% confidence for the runs audited. "
                  "Every DP release also ran the DP gate (`measure_gate` + `gate()`, charged under `gate:*` "
                  "from the plan's gate share); the black-box score is chosen among the synthetic-row scores "
                  "and the gate's published figures (`gate_exact`, `gate_held`); the white-box statistic adds "
                  "the gate's noisy training-row count to the model's measurements.", "",
                  _canary_table(rows), "",
                  "What the DP gate adds (the canary is always in the gate's training check sample: worst case). "
                  "HOLD counts are over all runs; the eps lower bounds are of each gate score used alone, "
                  "threshold chosen and evaluated as above.", "",
                  _gate_table(rows), ""]
    for table in s["membership_tables"]:
        rows = [m for m in payload["membership"] if m["table"] == table]
        m0 = rows[0]
        lines += [f"## Population membership inference: {table}", "",
                  f"{m0['releases']} release(s) per method (one per split seed), {m0['members']:,} training rows vs "
                  f"{m0['non_members']:,} holdout rows as targets. Scores: `distance` = minus the distance to the "
                  "closest synthetic record; `density` = log of the synthetic over the population share of the "
                  "target's exact cell (population: holdout rows that are not targets). AUC "
                  "over all targets (bootstrap CI); advantage = TPR - FPR at a threshold chosen on half the targets, "
                  "measured on the other half (Clopper-Pearson on both rates). 'exact copy' = share of targets "
                  "with a synthetic row identical on every code.", "",
                  _membership_table(rows), ""]
    if payload.get("anonymeter"):
        lines += _anonymeter_section(payload["anonymeter"])
    if payload.get("discussion"):
        lines += payload["discussion"] + [""]
    lines += ["## Checks", ""]
    lines += [f"- [{'x' if c['ok'] else ' '}] {c['check']} (observed {c['value']:.3f})" for c in payload["checks"]]
    lines.append("")
    return "\n".join(lines) + "\n"
