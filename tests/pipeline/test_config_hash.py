"""The config hash is of the validated config: saying the same thing differently hashes alike,
changing any setting does not, and where the file lies is not part of it."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from synthgate.pipeline.config import config_from_mapping, load_config

ROOT = Path(__file__).resolve().parents[2]


def _raw() -> dict:
    return yaml.safe_load((ROOT / "configs" / "health_insurance.yaml").read_text(encoding="utf-8"))


def test_defaults_spelled_out_hash_like_defaults_left_out() -> None:
    raw = _raw()
    spelled = copy.deepcopy(raw)
    spelled["model"] = {"kind": "graphical", "selection": "aim", "bins": 64}
    spelled["gate"] = {"share": 0.05, "hold_margin": 2.0}
    spelled["columns"]["age"]["bounds"] = [0.0, 120.0]  # the same numbers, written as floats
    assert config_from_mapping(raw).config_hash == config_from_mapping(spelled).config_hash


def test_any_changed_setting_changes_the_hash() -> None:
    base = config_from_mapping(_raw()).config_hash
    for change in (("model", {"kind": "graphical", "selection": "mst"}), ("gate", {"share": 0.06}),
                   ("privacy", {**_raw()["privacy"], "epsilon": 1.5})):
        raw = _raw()
        raw[change[0]] = change[1]
        assert config_from_mapping(raw).config_hash != base, change


def test_the_file_location_is_not_hashed(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "health_insurance.yaml").read_text(encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "c.yaml").write_text(text, encoding="utf-8")
    assert load_config(tmp_path / "a" / "c.yaml").config_hash == load_config(ROOT / "configs" /
                                                                             "health_insurance.yaml").config_hash
