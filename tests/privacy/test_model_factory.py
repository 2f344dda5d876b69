"""One factory builds every model kind from a ModelSpec; the config and stored releases map onto it."""

from __future__ import annotations

import typing

import pytest

from synthgate.pipeline.config import ModelSpec as ModelConfig
from synthgate.pipeline.release_package import _stored_spec
from synthgate.privacy.models import (DEFAULT_SELECTION, MODEL_KINDS, AdaptiveModel, CopulaModel, IndependentModel,
                                      ModelError, ModelSpec, SchemaModel, TreeModel, build_model)

CONFIG_KINDS = typing.get_args(ModelConfig.model_fields["kind"].annotation)
CONFIG_SELECTIONS = typing.get_args(ModelConfig.model_fields["selection"].annotation)


@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_every_kind_the_config_accepts_builds(kind: str) -> None:
    model = build_model(ModelConfig(kind=kind).to_model_spec())
    assert model.kind == kind and model.measurements_ == [] and model.domain_ is None


def test_the_factory_and_the_config_know_the_same_kinds() -> None:
    assert set(CONFIG_KINDS) == set(MODEL_KINDS)


@pytest.mark.parametrize(("spec", "expected"), [
    (ModelSpec(kind="schema"), SchemaModel), (ModelSpec(kind="independent"), IndependentModel),
    (ModelSpec(kind="copula"), CopulaModel), (ModelSpec(kind="graphical", selection="mst"), TreeModel),
    (ModelSpec(kind="graphical", selection="aim"), AdaptiveModel)], ids=lambda x: getattr(x, "__name__", None))
def test_each_spec_builds_its_class(spec: ModelSpec, expected: type) -> None:
    assert type(build_model(spec)) is expected


def test_parameters_reach_the_model_as_given() -> None:
    assert build_model(ModelSpec(kind="copula", correlation_share=0.3)).get_params() == {"correlation_share": 0.3}
    assert build_model(ModelSpec(kind="graphical", selection="mst", groups=7)).get_params()["groups"] == 7
    assert build_model(ModelSpec(kind="graphical", selection="aim", groups=9)).get_params()["groups"] == 9


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ModelError, match="'gan' is unknown: use one of schema, independent, copula, graphical"):
        build_model(ModelSpec(kind="gan"))


def test_an_unknown_selection_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ModelError, match="'greedy' is unknown: use one of mst, aim"):
        build_model(ModelSpec(kind="graphical", selection="greedy"))


def test_selection_has_one_default_the_configs() -> None:
    assert DEFAULT_SELECTION == "aim" and set(CONFIG_SELECTIONS) == {"mst", "aim"}
    assert ModelConfig().selection == ModelSpec().selection == DEFAULT_SELECTION
    assert type(build_model(ModelConfig().to_model_spec())) is AdaptiveModel


def test_config_section_converts_to_a_spec() -> None:
    config = ModelConfig(kind="copula", correlation_share=0.25, groups=16, selection="mst", bins=10)
    assert config.to_model_spec() == ModelSpec(kind="copula", selection="mst", correlation_share=0.25, groups=16)


def test_stored_releases_map_to_the_model_they_were_made_with() -> None:
    recorded = {"model": "graphical", "model_params": {"groups": 16, "correlation_share": 0.5, "selection": "aim"}}
    assert _stored_spec(recorded) == ModelSpec(kind="graphical", selection="aim", groups=16)
    # Releases made before AIM recorded no selection: their graphical model was the tree.
    assert type(build_model(_stored_spec({"model": "graphical"}))) is TreeModel
    assert _stored_spec({"model": "copula", "model_params": {"correlation_share": 0.2}}).correlation_share == 0.2
