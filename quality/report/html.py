"""Render the internal report as one self-contained HTML page (prints cleanly to PDF)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

__all__ = ["render_html"]

_ENV = Environment(loader=PackageLoader("synthgate.quality.report", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


_ENV.filters["num"] = _number


def render_html(report: dict[str, Any]) -> str:
    """Every value is escaped by Jinja's autoescape; the report holds no raw records to begin with."""
    return _ENV.get_template("report.html").render(r=report)
