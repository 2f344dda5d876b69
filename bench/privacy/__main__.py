"""Empirical privacy audit of synthgate's models against a non-private baseline.

Run from the repository root with synthgate's venv:

    .venv/bin/python -m bench.privacy [--canary-tables health_insurance] [--membership-tables health_insurance,fertility]
                                      [--epsilons 0.3,1,3] [--extra-epsilons 10,30] [--trials 150] [--select 50] [--repeats 2]

Methods: `resample` (non-private: training rows drawn with replacement, numeric bins nudged by
one), `graphical` at a huge epsilon (1e3, effectively non-private, same code path as the DP
runs), `copula` and `graphical` at each --epsilons, and `graphical` at --extra-epsilons (above
the range asked for, to show where the audit starts to detect anything). Writes
bench/privacy/results.json and results.md (a hand-written discussion between
`<!-- discussion -->` markers is kept).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from bench._common import REPO, machine_info
from bench.fidelity.harness import _previous_discussion

from .audit import canary_audit, membership_audit
from .releases import GATE_ROWS, RESAMPLE, Method, load_table
from .report import checks, render_markdown

HERE = REPO / "bench" / "privacy"
EPSILONS = (0.3, 1.0, 3.0)
HUGE_EPSILON = 1e3  # effectively noise-free (count noise sd 0.15); 1e4 overflows graphical on fertility, see README


def methods(epsilons: list[float], baseline_epsilon: float, extra: list[float]) -> list[Method]:
    """Baselines first, then copula and graphical at each epsilon, then graphical at the `extra` epsilons."""
    out = [Method(RESAMPLE), Method("graphical", baseline_epsilon)]
    out += [Method(kind, e) for kind in ("copula", "graphical") for e in epsilons]
    return out + [Method("graphical", e) for e in extra if e not in epsilons]


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _selections(args: argparse.Namespace) -> dict[str, str]:
    """The graphical model's selection per audited table, from its config (the default is `aim`)."""
    from bench._common import make_config

    names = {*_names(args.canary_tables), *_names(args.membership_tables), *_names(args.anonymeter)}
    return {name: make_config(name).model.selection for name in sorted(names)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.privacy", description=__doc__.splitlines()[0])
    parser.add_argument("--canary-tables", default="health_insurance")
    parser.add_argument("--membership-tables", default="health_insurance,fertility")
    parser.add_argument("--epsilons", default=",".join(f"{e:g}" for e in EPSILONS))
    parser.add_argument("--extra-epsilons", default="10,30",
                        help="graphical only, above the audited range: where the audit starts to see the noise")
    parser.add_argument("--baseline-epsilon", type=float, default=HUGE_EPSILON,
                        help="epsilon of the effectively non-private graphical baseline")
    parser.add_argument("--trials", type=int, default=150, help="canary: releases with and without it, each")
    parser.add_argument("--select", type=int, default=50, help="canary: of those, runs used to choose the test")
    parser.add_argument("--repeats", type=int, default=2, help="membership: releases (split seeds) per method")
    parser.add_argument("--targets", type=int, default=1500, help="membership: members and non-members per release")
    parser.add_argument("--gate-rows", type=int, default=GATE_ROWS,
                        help="rows per side of the DP gate's check samples (a run keeps utility.sample_rows)")
    parser.add_argument("--anonymeter", default="", metavar="TABLE",
                        help="also score one release per method with anonymeter (own venv under bench/.work)")
    parser.add_argument("--anonymeter-attacks", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="results prefix (default bench/privacy/results)")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the .md from the existing .json (keeps the discussion); runs nothing")
    args = parser.parse_args(argv)
    if not 0 < args.select < args.trials:
        parser.error("need 0 < --select < --trials")
    if args.repeats < 1 or args.targets < 10:
        parser.error("need --repeats >= 1 and --targets >= 10")
    if not 100 <= args.gate_rows <= 1_000_000:
        parser.error("need 100 <= --gate-rows <= 1000000 (the range of utility.sample_rows)")
    json_out, md_out = ((HERE / "results.json", HERE / "results.md") if args.out is None
                        else (REPO / f"{args.out}.json", REPO / f"{args.out}.md"))
    if args.render:
        payload = json.loads(json_out.read_text(encoding="utf-8"))
        payload["checks"] = checks(payload)
        payload["discussion"] = _previous_discussion(md_out)
        md_out.write_text(render_markdown(payload), encoding="utf-8")
        print(f"rewrote {md_out} from {json_out}")
        return 0
    epsilons = _floats(args.epsilons)
    plan = methods(epsilons, args.baseline_epsilon, _floats(args.extra_epsilons))
    start = time.perf_counter()
    machine = machine_info()
    canary: list[dict[str, Any]] = []
    membership: list[dict[str, Any]] = []
    delta = None
    for name in _names(args.membership_tables):
        tables = [load_table(name, seed=args.seed + r, gate_rows=args.gate_rows) for r in range(args.repeats)]
        delta = tables[0].delta
        print(f"membership {name}: {tables[0].train.shape[0]:,} training / {tables[0].holdout.shape[0]:,} holdout rows",
              flush=True)
        for method in plan:
            result = membership_audit(tables, method, n_targets=args.targets, seed=args.seed)
            membership.append(result)
            print(f"  {method.label:<24} " + " ".join(
                f"{name}: AUC {r['auc']:.3f} advantage {r['evaluation']['advantage']:+.3f}"
                for name, r in result["scores"].items()) + f" ({result['seconds']:.0f}s)", flush=True)
    for name in _names(args.canary_tables):
        table = load_table(name, seed=args.seed, gate_rows=args.gate_rows)
        delta = table.delta
        print(f"canary {name}: {args.trials} trials per side per method", flush=True)
        for method in plan:
            result = canary_audit(table, method, trials=args.trials, select=args.select, seed=args.seed,
                                  progress=True)
            canary.append(result)
            ev = result["result"]["evaluation"]
            print(f"  {method.label:<24} {result['chosen_score']:<11} TPR {ev['tpr'][0]:.2f} FPR {ev['fpr'][0]:.2f} "
                  f"eps_lb {result['result']['epsilon_lower_bound']:.2f}"
                  + (f" white-box eps_lb {result['white_box']['epsilon_lower_bound']:.2f}" if result["white_box"] else "")
                  + f" ({result['seconds']:.0f}s)", flush=True)
    anonymeter: list[dict[str, Any]] = []
    if args.anonymeter:
        from .anonymeter_run import anonymeter_audit

        print(f"anonymeter {args.anonymeter}: one release per method, {args.anonymeter_attacks} attacks", flush=True)
        table = load_table(args.anonymeter, seed=args.seed, gate_rows=args.gate_rows)
        delta = table.delta
        anonymeter = anonymeter_audit(table, plan, n_attacks=args.anonymeter_attacks, seed=args.seed)
    command = "python -m bench.privacy" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    payload: dict[str, Any] = {
        "benchmark": "bench.privacy", "command": command.strip(), "machine": machine,
        "settings": {"canary_tables": _names(args.canary_tables), "membership_tables": _names(args.membership_tables),
                     "epsilons": epsilons, "extra_epsilons": _floats(args.extra_epsilons), "baseline_epsilon": args.baseline_epsilon, "delta": delta,
                     "trials": args.trials, "select": args.select, "repeats": args.repeats, "targets": args.targets,
                     "seed": args.seed, "gate_rows": args.gate_rows, "selection": _selections(args),
                     "methods": [m.label for m in plan]},
        "canary": canary, "membership": membership, "anonymeter": anonymeter,
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    payload["checks"] = checks(payload)
    payload["discussion"] = _previous_discussion(md_out)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    md_out.write_text(render_markdown(payload), encoding="utf-8")
    failed = [c["check"] for c in payload["checks"] if not c["ok"]]
    print(f"wrote {json_out} and {md_out} in {payload['total_seconds'] / 60:.1f} min; "
          f"{len(payload['checks']) - len(failed)}/{len(payload['checks'])} checks pass")
    for line in failed:
        print(f"  FAILED: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
