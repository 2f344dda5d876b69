"""Release config: YAML validated on load into frozen, typed objects (the closed vocabularies, each
one Literal, are in ../kinds.py, light enough for the CLI to import).

    schema.py  the sections and their own checks
    rules.py   rules that span sections
    yaml12.py  YAML 1.2 booleans, duplicate keys refused
    load.py    file or mapping -> ReleaseConfig, every problem under its YAML key; the config hash
"""

from ..kinds import COLUMN_TYPES, MODEL_KINDS, SELECTIONS
from .load import config_from_mapping, config_hash, load_config
from .schema import (ESTIMATE, ColumnSpec, GateSpec, HoldoutSpec, ModelSpec, OutputSpec, PrivacySpec, ReleaseConfig,
                     SourceSpec, UtilitySpec)
from .yaml12 import parse_yaml

__all__ = ["ColumnSpec", "SourceSpec", "HoldoutSpec", "PrivacySpec", "ModelSpec", "GateSpec", "UtilitySpec",
           "OutputSpec", "ReleaseConfig", "load_config", "parse_yaml", "config_from_mapping", "config_hash",
           "ESTIMATE", "COLUMN_TYPES", "MODEL_KINDS", "SELECTIONS"]
