"""Stages pass values, not argument lists: no function in `pipeline/` takes more than six parameters
(self and cls aside). Click commands are exempt: their parameters are the command's options."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_PARAMETERS = 6


def _is_click_command(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any("command" in ast.unparse(d) for d in node.decorator_list)


def test_no_pipeline_function_takes_more_than_six_parameters() -> None:
    too_many = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _is_click_command(node):
                args = node.args
                names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs) if a.arg not in ("self", "cls")]
                if len(names) > MAX_PARAMETERS:
                    too_many.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}() takes {len(names)}")
    assert not too_many, "pass a value instead of a list of arguments:\n" + "\n".join(too_many)


def test_the_check_sees_a_long_signature() -> None:
    """The rule's own walk finds a seven-parameter function (so the test above can fail)."""
    node = ast.parse("def f(a, b, c, *, d, e, f, g): pass").body[0]
    assert isinstance(node, ast.FunctionDef) and not _is_click_command(node)
    args = node.args
    assert len([*args.posonlyargs, *args.args, *args.kwonlyargs]) == 7
