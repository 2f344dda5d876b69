"""Render the internal report as one self-contained HTML page (prints cleanly to PDF).

Self-contained: inline CSS, plots as inline SVG (matplotlib), no script, and a Content-Security-Policy
that blocks any request leaving the file. Rendered from report.json alone, so `synthgate report RUN`
can re-render it later without the data.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from .view import build_view

__all__ = ["render_html"]

_ENV = Environment(loader=PackageLoader("synthgate.quality.report", "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def render_html(report: dict[str, Any]) -> str:
    """Every value is escaped by Jinja's autoescape, and matplotlib escapes the text in its SVG;
    the report holds no raw records to begin with."""
    return _ENV.get_template("report.html").render(r=report, v=build_view(report))
