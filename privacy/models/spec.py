"""What a model needs from config, as a frozen value the factory reads (`pipeline` converts its
config section to this; `privacy` never imports `pipeline`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["ModelSpec", "MODEL_KINDS", "SELECTIONS", "DEFAULT_SELECTION"]

MODEL_KINDS: Final = ("schema", "independent", "copula", "graphical")
SELECTIONS: Final = ("mst", "aim")
# The one default for `graphical`'s selection: the config's, read from here by pipeline/config.py.
DEFAULT_SELECTION: Final = "aim"


@dataclass(frozen=True)
class ModelSpec:
    """Kind and parameters of a model. `selection` and `groups` concern `graphical` only,
    `correlation_share` `copula` only; the factory ignores what a kind does not use."""

    kind: str = "graphical"
    selection: str = DEFAULT_SELECTION
    correlation_share: float = 0.5
    groups: int = 32
