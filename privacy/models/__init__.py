"""Model kinds, from least to most fidelity: schema, independent, copula, graphical (tree or adaptive).

Build models with `build_model(ModelSpec(...))`; the classes are exported for tests and benchmarks.
"""

from .adaptive import AdaptiveModel
from .base import Model, ModelError
from .copula import CopulaModel
from .factory import build_model
from .graphical import GraphicalModel
from .independent import IndependentModel
from .schema import SchemaModel
from .spec import DEFAULT_SELECTION, MODEL_KINDS, SELECTIONS, ModelSpec
from .tree import TreeModel

__all__ = ["Model", "ModelError", "ModelSpec", "build_model", "MODEL_KINDS", "SELECTIONS", "DEFAULT_SELECTION",
           "SchemaModel", "IndependentModel", "CopulaModel", "GraphicalModel", "TreeModel", "AdaptiveModel"]
