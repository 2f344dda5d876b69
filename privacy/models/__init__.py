"""Model kinds, from least to most fidelity: schema, independent, copula."""

from .base import Model, ModelError
from .copula import CopulaModel
from .independent import IndependentModel
from .schema import SchemaModel

__all__ = ["Model", "ModelError", "SchemaModel", "IndependentModel", "CopulaModel", "make_model"]


def make_model(kind: str, *, correlation_share: float = 0.5) -> Model:
    """A fresh, unfitted model of the named kind."""
    if kind == "schema":
        return SchemaModel()
    if kind == "independent":
        return IndependentModel()
    if kind == "copula":
        return CopulaModel(correlation_share=correlation_share)
    raise ModelError(f"unknown model kind '{kind}'")
