"""Release configs and shared tables for tests, built from a shipped config through YAML (never by
editing YAML text), and the gates that fix a run's decision whatever the DP noise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHARED = (ROOT / "../shared/datasets").resolve()
# The shared tables (../shared/datasets/NAME.csv, each with configs/NAME.yaml), smallest first.
SHARED_TABLES = ("health_insurance", "acs12", "census2000", "mpls_stops", "fertility")
HEALTH_INSURANCE = SHARED / "health_insurance.csv"
# every DP gate check off: a run on any table is released, exit 0 (for tests about something else)
GATE_OFF: dict[str, Any] = {name: None for name in ("max_exact_match_excess", "max_near_match_excess",
                                                    "max_tvd_1way_mean", "max_tvd_2way_mean", "max_clamped_share",
                                                    "max_other_share")}
# Every DP gate check at the largest value its figure can take (1.0): a run holds only if noise lifts a
# figure from well under 1 past 1 + hold_margin·sd, ~50 sd at the tables' noise: the run is released, exit 0.
# The TVD and share checks are measured and published; the match-excess comparisons are not asked at 1.0
# (pipeline/check.py: a comparison that could only fail by noise is neither asked nor charged).
GATE_PASSES: dict[str, Any] = {name: 1.0 for name in GATE_OFF}
# A gate that holds whatever the noise, exit 3: 2-way TVD must be 0, with no noise margin, on a large gate
# share (noise sd ~0.002 against a true TVD of several hundredths); give it a large budget (PRIVACY_LARGE).
GATE_MUST_HOLD: dict[str, Any] = {"max_tvd_2way_mean": 0.0, "hold_margin": 0.0, "share": 0.5}
PRIVACY_LARGE: dict[str, Any] = {"epsilon": 20.0, "delta": 1e-6, "lifetime_epsilon": 100.0, "lifetime_delta": 1e-4}
# A section key given this value is removed (None is a value: in `gate:` it turns a check off).
REMOVE: Any = object()


def shipped_config(name: str, folder: Path, *, source: dict[str, Any], gate: dict[str, Any] | None = None,
                   columns_first: dict[str, Any] | None = None, sample_rows: int = 500,
                   **sections: dict[str, Any]) -> Path:
    """configs/NAME.yaml with another source, a large lifetime budget and small check samples,
    written to FOLDER/release.yaml. Each keyword section (privacy=, model=, output=, ...) is merged
    into the config's section key by key; a key given as REMOVE is removed."""
    raw = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text(encoding="utf-8"))
    raw["source"] = source
    if columns_first:
        raw["columns"] = {**columns_first, **raw["columns"]}
    raw["privacy"]["lifetime_epsilon"] = 100.0
    raw["gate"] = GATE_OFF if gate is None else gate
    raw.setdefault("utility", {})["sample_rows"] = sample_rows
    path = folder / "release.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return edit_config(path, **sections)


def edit_config(path: Path, **sections: dict[str, Any]) -> Path:
    """Merge each keyword section into the YAML config at PATH key by key (REMOVE removes a key),
    through yaml.safe_load and yaml.safe_dump."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, changes in sections.items():
        merged = {**(raw.get(section) or {}), **changes}
        raw[section] = {key: value for key, value in merged.items() if value is not REMOVE}
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path
