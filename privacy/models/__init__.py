"""Model kinds, from least to most fidelity: schema, independent, copula, graphical."""

from collections.abc import Collection, Mapping

from .base import Model, ModelError
from .copula import CopulaModel
from .graphical import GraphicalModel
from .independent import IndependentModel
from .schema import SchemaModel

__all__ = ["Model", "ModelError", "SchemaModel", "IndependentModel", "CopulaModel", "GraphicalModel", "make_model"]


def make_model(kind: str, *, correlation_share: float = 0.5, groups: int = 32, ordered: Collection[str] = (),
               null_codes: Mapping[str, int] | None = None, selection: str = "mst") -> Model:
    """A fresh, unfitted model of the named kind. `ordered` and `null_codes` are public facts
    about the codes (which columns are numeric bins, which code means null), used by `graphical`."""
    if kind == "schema":
        return SchemaModel()
    if kind == "independent":
        return IndependentModel()
    if kind == "copula":
        return CopulaModel(correlation_share=correlation_share)
    if kind == "graphical":
        return GraphicalModel(groups=groups, ordered=ordered, null_codes=null_codes, selection=selection)
    raise ModelError(f"unknown model kind '{kind}'")
