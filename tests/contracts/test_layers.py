"""Layers only look down: `privacy` imports neither `pipeline` nor `quality`; `quality` may import
`privacy` but not `pipeline`; `pipeline` imports both. Checked on the source, import by import,
so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"privacy": ("synthgate.pipeline", "synthgate.quality"), "quality": ("synthgate.pipeline",)}


def _imports(source: str, module: str) -> list[tuple[int, str]]:
    """Every module imported by `source` (the text of `module`), relative imports resolved."""
    tree = ast.parse(source)
    parts = module.split(".")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_do_not_import_higher_ones(package: str) -> None:
    breaches = [f"{path.relative_to(ROOT)}:{line} imports {module}"
                for path in sorted((ROOT / package).rglob("*.py"))
                for line, module in _imports(path.read_text(encoding="utf-8"),
                                             ".".join(["synthgate", *path.relative_to(ROOT).with_suffix("").parts]))
                if module.startswith(FORBIDDEN[package])]
    assert breaches == []


def test_the_check_sees_a_breach() -> None:
    """Relative imports are resolved: `from ..pipeline import x` inside privacy/ is caught, lazily or not."""
    source = "from .errors import X\ndef f():\n    from ..pipeline.config import ColumnSpec\n"
    assert _imports(source, "synthgate.privacy.ledger") == [(1, "synthgate.privacy.errors"),
                                                             (3, "synthgate.pipeline.config")]
