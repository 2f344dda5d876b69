"""cProfile of one whole release on the resampled fertility table (bench.scale's input), printing
where fit and sample spend their time.

    .venv/bin/python -m bench.scale_profile --rows 1000000 [--out /tmp/scale.prof]

The run writes into a temporary folder with its own ledger; the profile is written to `--out`
(pstats format, e.g. for snakeviz) and the callee tree of `fit_model` and `sample_synthetic`
(cumulative seconds, calls) is printed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
from pathlib import Path
from typing import Any

from bench._common import REPO
from bench.scale import make_input


def _tree(stats: Any, roots: tuple[str, ...], depth: int, minimum: float) -> list[str]:
    callees: dict[Any, list[tuple[Any, Any]]] = {}
    for function, (_, _, _, _, callers) in stats.stats.items():
        for caller, timing in callers.items():
            callees.setdefault(caller, []).append((function, timing))

    def name(f: Any) -> str:
        return "/".join(str(f[0]).split("/")[-2:]) + f":{f[1]}({f[2]})"

    lines: list[str] = []

    def walk(f: Any, level: int) -> None:
        for g, timing in sorted(callees.get(f, []), key=lambda x: -x[1][3]):
            if timing[3] >= minimum:
                lines.append("  " * level + f"{timing[3]:8.3f} s {timing[1]:6d} x {name(g)}")
                if level < depth:
                    walk(g, level + 1)

    for f, record in stats.stats.items():
        if f[2] in roots:
            lines.append(f"{name(f)}: {record[3]:.3f} s")
            walk(f, 1)
    return lines


def main(argv: list[str] | None = None) -> int:
    from synthgate.pipeline.config import config_from_mapping, parse_yaml
    from synthgate.pipeline.run import run_release
    from synthgate.privacy.ledger import Ledger

    parser = argparse.ArgumentParser(prog="python -m bench.scale_profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "scale.prof")
    parser.add_argument("--depth", type=int, default=4)
    args = parser.parse_args(argv)
    csv, _ = make_input(args.rows)
    raw = parse_yaml((REPO / "configs" / "fertility.yaml").read_text(encoding="utf-8"))
    raw["source"] = {"path": str(csv)}
    raw["privacy"]["lifetime_epsilon"] = 1000.0
    config = config_from_mapping(raw, path=REPO / "configs" / "fertility.yaml")
    with tempfile.TemporaryDirectory(prefix="synthgate-profile-") as tmp:
        profile = cProfile.Profile()
        profile.enable()
        result = run_release(config, out=Path(tmp) / "run", ledger=Ledger(Path(tmp) / "ledger.sqlite"), seed=1)
        profile.disable()
    profile.dump_stats(args.out)
    print(result.decision, {k: round(v, 2) for k, v in result.timings.items()})
    print("\n".join(_tree(pstats.Stats(profile), ("fit_model", "sample_synthetic"), args.depth, 0.05)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
