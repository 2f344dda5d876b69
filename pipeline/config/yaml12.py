"""YAML as synthgate reads configs: safe, YAML 1.2 booleans only, a key twice refused."""

from __future__ import annotations

import re
from typing import Any

import yaml

__all__ = ["parse_yaml", "Yaml12Loader"]


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader where only true/false are booleans, as in YAML 1.2, and a key twice is an error.

    YAML 1.1 reads yes/no/on/off as booleans, which would turn `categories: [yes, no]` into
    something that no longer matches the data. PyYAML keeps the last of two equal keys without a
    word, so a column written twice would silently lose its first spec.
    """

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"the key '{key}' appears twice in one mapping", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]  # checked above


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str) -> Any:
    """YAML as synthgate reads configs: safe, YAML 1.2 booleans only, duplicate keys refused."""
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
