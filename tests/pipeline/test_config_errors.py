"""Bad release configs: each is a ConfigError naming the file and the key, exit code 2 from the CLI,
and every problem of a config is reported in one pass.

No data is read here: the configs point at a file that does not need to exist.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgate.pipeline.cli import main
from synthgate.pipeline.config import config_from_mapping, load_config
from synthgate.pipeline.errors import EXIT_BAD_INPUT, ConfigError

GOOD: dict[str, Any] = {
    "dataset": "toy",
    "source": {"path": "toy.csv"},
    "holdout": {"fraction": 0.2},
    "columns": {
        "id": {"role": "identifier"},
        "age": {"type": "integer", "bounds": [0, 120]},
        "score": {"type": "numeric", "bounds": [0, 100], "nulls": True},
        "colour": {"type": "categorical", "categories": ["red", "green", "blue"]},
        "city": {"type": "categorical", "categories": "estimate", "nulls": True},
        "seen": {"type": "datetime", "bounds": ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"]},
        "flag": {"type": "boolean"},
    },
    "privacy": {"epsilon": 1.0, "delta": 1.0e-6},
    "model": {"kind": "independent"},
    "utility": {"target": "colour", "sample_rows": 1000},
    "output": {"rows": "estimate"},
}


def _edit(**changes: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or, with `...`, delete) nested keys given as `a__b__c=value`."""

    def apply(raw: dict[str, Any]) -> None:
        for dotted, value in changes.items():
            *parents, last = dotted.split("__")
            node = raw
            for key in parents:
                node = node.setdefault(key, {})
            if value is ...:
                node.pop(last, None)
            else:
                node[last] = value

    return apply


def _write(tmp_path: Path, raw: dict[str, Any], name: str = "release.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _cli_validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["validate", str(path)])
    captured = capsys.readouterr()
    assert captured.out == ""
    return code, captured.err


# (id, edit of GOOD, key the message must name, a phrase of the rule)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("unknown-top-level-key", _edit(colour="red"), "colour: unknown key", "unknown key"),
    ("unknown-column-key", _edit(columns__age__colour="red"), "columns.age.colour", "unknown key"),
    ("unknown-nested-key", _edit(privacy__epsilonn=1.0), "privacy.epsilonn", "unknown key"),
    ("wrong-type-epsilon", _edit(privacy__epsilon="lots"), "privacy.epsilon", "valid number"),
    ("wrong-type-bins", _edit(model__bins=2.5), "model.bins", "integer"),
    ("wrong-type-nulls", _edit(columns__score__nulls="sometimes"), "columns.score.nulls", "boolean"),
    ("wrong-type-categories", _edit(columns__colour__categories="red"), "columns.colour", "categories"),
    ("epsilon-zero", _edit(privacy__epsilon=0), "privacy.epsilon", "greater than 0"),
    ("epsilon-negative", _edit(privacy__epsilon=-0.5), "privacy.epsilon", "greater than 0"),
    ("bounds-reversed", _edit(columns__age__bounds=[120, 0]), "columns.age", "low <= high"),
    ("bounds-not-finite", _edit(columns__score__bounds=[0, float("inf")]), "columns.score", "finite"),
    ("datetime-bounds-as-numbers", _edit(columns__seen__bounds=[0, 10]), "columns.seen", "datetime"),
    ("categorical-without-categories", _edit(columns__colour__categories=...), "columns.colour", "categories"),
    ("categories-empty", _edit(columns__colour__categories=[]), "columns.colour", "empty"),
    ("categories-twice", _edit(columns__colour__categories=["red", "red"]), "columns.colour", "twice"),
    ("categories-null", _edit(columns__colour__categories=["red", None]), "columns.colour", "null"),
    ("numeric-without-bounds", _edit(columns__age__bounds=...), "columns.age", "bounds"),
    ("missing-type", _edit(columns__age__type=...), "columns.age", "'type' is required"),
    ("identifier-with-domain", _edit(columns__id__categories=["a"]), "columns.id", "identifier"),
    ("categories-estimate-delta-0", _edit(privacy__delta=0), "privacy.delta", "city"),
    ("target-not-a-column", _edit(utility__target="income"), "utility.target", "income"),
    ("target-is-identifier", _edit(utility__target="id"), "utility.target", "non-identifier"),
    ("target-is-the-only-column", _edit(columns={"id": {"role": "identifier"},
                                                 "colour": {"type": "categorical", "categories": ["red", "blue"]}}),
     "utility.target", "other column"),
    ("schema-rows-estimate", _edit(model__kind="schema", columns__city__categories=["a", "b"]),
     "output.rows", "schema"),
    ("schema-estimated-domain", _edit(model__kind="schema", output__rows=100), "columns.city", "estimate"),
    ("missing-privacy", _edit(privacy=...), "privacy", "required"),
    ("lifetime-below-run", _edit(privacy__lifetime_epsilon=0.5, privacy__lifetime_delta=1e-5), "privacy",
     "lifetime_epsilon"),
    ("lifetime-delta-missing", _edit(privacy__lifetime_epsilon=5.0), "privacy", "lifetime_delta"),
    ("lifetime-delta-alone", _edit(privacy__lifetime_delta=1e-5), "privacy", "lifetime_epsilon"),
    ("lifetime-delta-below-run", _edit(privacy__lifetime_epsilon=5.0, privacy__lifetime_delta=1e-9), "privacy",
     "lifetime_delta"),
    ("unknown-model-kind", _edit(model__kind="bayes-net"), "model.kind", "schema"),
    ("holdout-fraction-too-big", _edit(holdout__fraction=0.9), "holdout.fraction", "0.5"),
    ("bad-dataset-name", _edit(dataset="../escape"), "dataset", "pattern"),
    ("columns-not-a-mapping", _edit(columns=["age", "colour"]), "columns", "mapping"),
    ("column-spec-not-a-mapping", _edit(columns__age="integer"), "columns.age", "mapping"),
]


@pytest.mark.parametrize(("edit", "key", "rule"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       edit: Callable[[dict[str, Any]], None], key: str, rule: str) -> None:
    raw = copy.deepcopy(GOOD)
    edit(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert rule in message
    assert "(top level)" not in message, "a cross-field rule should name its own key"
    assert info.value.exit_code == EXIT_BAD_INPUT

    code, err = _cli_validate(path, capsys)
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: ") and str(path) in err and key in err
    assert "Traceback" not in err


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD))
    assert config.dataset == "toy"
    assert config.identifiers == ("id",)
    assert config.source_path == (tmp_path / "toy.csv").resolve()


@pytest.mark.parametrize(("text", "where"), [
    ("dataset: toy\ncolumns: [age, colour\n", "line 3"),            # unclosed flow sequence
    ("dataset: toy\n  bad: indent\nprivacy: {epsilon: 1}\n", "line 2"),
    ("dataset: toy\nsource: {path: a.csv}\n\tcolumns: {}\n", "line 3"),  # a tab cannot start a token
], ids=["unclosed-list", "bad-indent", "tab"])
def test_malformed_yaml_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                            where: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="malformed YAML") as info:
        load_config(path)
    assert str(path) in str(info.value) and where in str(info.value)
    code, err = _cli_validate(path, capsys)
    assert code == EXIT_BAD_INPUT and str(path) in err and "Traceback" not in err


@pytest.mark.parametrize(("text", "key"), [
    ("dataset: toy\ndataset: other\n", "dataset"),
    ("columns:\n  age: {type: integer, bounds: [0, 120]}\n  age: {type: categorical, categories: [a]}\n", "age"),
], ids=["top-level", "column"])
def test_a_key_twice_is_an_error(tmp_path: Path, text: str, key: str) -> None:
    """PyYAML keeps the last of two equal keys silently; a column written twice would lose its first spec."""
    path = tmp_path / "twice.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and f"'{key}' appears twice" in str(info.value)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"], ids=["empty", "list", "scalar"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "shape.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="mapping") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_and_unreadable_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    code, err = _cli_validate(missing, capsys)
    assert code == EXIT_BAD_INPUT and str(missing) in err and "not found" in err
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    code, err = _cli_validate(folder, capsys)
    assert code == EXIT_BAD_INPUT and str(folder) in err
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("dataset: caf\xe9\n".encode("latin-1"))
    code, err = _cli_validate(latin, capsys)
    assert code == EXIT_BAD_INPUT and str(latin) in err and "Traceback" not in err


def test_every_problem_is_reported_in_one_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Field errors (unknown keys, types, ranges) and cross-field rules (target, delta, schema)
    come out together: a steward fixing a config should not need one run per problem."""
    raw = copy.deepcopy(GOOD)
    _edit(colour="red", columns__age__colour="red", privacy__epsilon=0, privacy__delta=0,
          columns__score__bounds=[5, 1], columns__flag__categories=["x"], utility__target="income",
          model__bins="many")(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    expected = ["colour: unknown key", "columns.age.colour", "privacy.epsilon", "columns.score", "columns.flag",
                "utility.target", "privacy.delta", "model.bins"]
    for key in expected:
        assert key in message, f"{key} missing from:\n{message}"
    assert message.startswith(f"{len(expected)} problem(s) in config")
    lines = message.splitlines()[1:]
    assert len(lines) == len(expected) and all(line.strip().startswith(f"{path}: ") for line in lines)

    code, err = _cli_validate(path, capsys)
    assert code == EXIT_BAD_INPUT
    assert all(key in err for key in expected)


def test_cross_field_rules_alone_are_all_reported(tmp_path: Path) -> None:
    """With every field valid, pydantic's model validator used to stop at the first rule."""
    raw = copy.deepcopy(GOOD)
    _edit(privacy__delta=0, utility__target="income")(raw)
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, raw))
    assert "utility.target" in str(info.value) and "privacy.delta" in str(info.value)
    assert str(info.value).startswith("2 problem(s)")


def test_run_with_bad_config_exits_2_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = copy.deepcopy(GOOD)
    _edit(privacy__epsilon=-1)(raw)
    path = _write(tmp_path, raw)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "privacy.epsilon" in err and str(path) in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release.yaml"]


def _replaced(text: str, old: str, new: str) -> str:
    """text with old replaced by new; these tests need the bare YAML words a dump would quote, so they edit
    the text, and this refuses to do nothing silently when the text has changed."""
    assert old in text, f"{old!r} is no longer in the config text"
    return text.replace(old, new)


def test_yaml_1_1_booleans_stay_strings(tmp_path: Path) -> None:
    """categories: [yes, no] must match the data's 'yes'/'no', not become booleans."""
    path = _write(tmp_path, GOOD)
    text = path.read_text(encoding="utf-8")
    path.write_text(_replaced(text, "categories: estimate", "categories: [yes, no, on, off, true]"), encoding="utf-8")
    assert load_config(path).column("city").categories == ("yes", "no", "on", "off", "true")


_LEAF = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8)
    | st.sampled_from(["estimate", "schema", "identifier", "categorical", "datetime", "2020-01-01", "colour"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5) | st.integers(0, 3), inner,
                                                                max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_paths(GOOD)), _LEAF, st.booleans()), min_size=1, max_size=3))
def test_any_mutated_config_loads_or_raises_config_error(mutations: list[tuple[tuple[Any, ...], Any, bool]]) -> None:
    """Replace or delete up to three keys anywhere with arbitrary YAML-shaped values: the result is a
    config or our ConfigError, never another exception (e.g. mixed int/str keys once broke hashing)."""
    raw = copy.deepcopy(GOOD)
    for path, value, delete in mutations:
        node: Any = raw
        try:
            for key in path[:-1]:
                node = node[key]
            if delete and isinstance(node, dict):
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    try:
        config_from_mapping(raw, where="fuzzed.yaml")
    except ConfigError as exc:
        assert str(exc).count("fuzzed.yaml") >= 1


def test_column_names_yaml_would_retype(tmp_path: Path) -> None:
    """`true:` is a boolean key and `2019:` an integer one in YAML: the column names stay as written."""
    path = _write(tmp_path, GOOD)
    text = _replaced(_replaced(path.read_text(encoding="utf-8"), "  flag:\n", "  true:\n"), "  age:\n", "  2019:\n")
    path.write_text(text, encoding="utf-8")
    names = [c.name for c in load_config(path).columns]
    assert "true" in names and "2019" in names
    path.write_text(_replaced(text, "  true:\n", "  null:\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        load_config(path)


def test_a_unit_column_with_a_holdout_file_is_refused() -> None:
    """The DP gate counts holdout rows with sensitivity k; a holdout file's rows cannot be bounded per
    individual, so the combination is a config error, not a silent weaker guarantee."""
    raw = copy.deepcopy(GOOD)
    raw["columns"]["id"] = {"role": "unit"}
    raw["holdout"] = {"path": "holdout.csv"}
    with pytest.raises(ConfigError, match="holdout.path: a holdout file cannot be used with role: unit"):
        config_from_mapping(raw)


@pytest.mark.parametrize(("gate", "key"), [({"share": 0.0}, "gate.share"), ({"hold_margin": -1}, "gate.hold_margin"),
                                           ({"non_dp_checks": ["tstr_ratio"]}, "gate"),
                                           ({"non_dp_checks": ["tvd_1way_mean"]}, "gate.non_dp_checks")])
def test_bad_gate_settings_name_their_key(gate: dict[str, Any], key: str) -> None:
    raw = copy.deepcopy(GOOD)
    raw["gate"] = gate
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_mapping(raw)


def test_domain_and_gate_shares_that_leave_nothing_for_the_model_are_refused_at_load() -> None:
    """Found by the slow fuzzer: domain_share 0.999 plus the gate's 5% failed only inside the run,
    with a message that named no file or key."""
    raw = copy.deepcopy(GOOD)
    raw["privacy"]["domain_share"] = 0.999
    with pytest.raises(ConfigError, match="privacy.domain_share: together with gate.share"):
        config_from_mapping(raw)
    raw["gate"] = {"share": 0.0005}
    config_from_mapping(raw)
