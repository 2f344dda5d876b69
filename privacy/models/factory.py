"""One place that turns a `ModelSpec` into an unfitted model: for runs, replay and benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .adaptive import AdaptiveModel
from .base import Model, ModelError
from .copula import CopulaModel
from .independent import IndependentModel
from .schema import SchemaModel
from .spec import MODEL_KINDS, SELECTIONS, ModelSpec
from .tree import TreeModel

__all__ = ["build_model"]


def _graphical(spec: ModelSpec) -> Model:
    # Stored releases say `"model": "graphical"` plus the selection: the tree (MST) or the adaptive model (AIM).
    if spec.selection == "mst":
        return TreeModel(groups=spec.groups)
    if spec.selection == "aim":
        return AdaptiveModel(groups=spec.groups)
    raise ModelError(f"model selection '{spec.selection}' is unknown: use one of {', '.join(SELECTIONS)}")


_BUILDERS: Mapping[str, Callable[[ModelSpec], Model]] = {
    "schema": lambda spec: SchemaModel(),
    "independent": lambda spec: IndependentModel(),
    "copula": lambda spec: CopulaModel(correlation_share=spec.correlation_share),
    "graphical": _graphical,
}


def build_model(spec: ModelSpec) -> Model:
    """A fresh, unfitted model of the spec's kind. Parameters are checked by `fit`/`restore`."""
    builder = _BUILDERS.get(spec.kind)
    if builder is None:
        raise ModelError(f"model kind '{spec.kind}' is unknown: use one of {', '.join(MODEL_KINDS)}")
    return builder(spec)
