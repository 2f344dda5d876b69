"""`synthgate report RUN`: render RUN/internal/report.html again from RUN/internal/report.json.

Reads no data and spends nothing: report.json already holds every figure the page shows. The new
page replaces the old one in one rename, readable by the owner only, like the rest of internal/.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import InputError, OutputError

__all__ = ["rerender_report"]


def rerender_report(run_dir: Path) -> Path:
    """Write RUN/internal/report.html from RUN/internal/report.json; returns the page's path."""
    from synthgate.quality.report.html import render_html

    internal = Path(run_dir) / "internal"
    source = internal / "report.json"
    try:
        report = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{source}: no report.json; give the folder a `synthgate run --out` created") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{source}: cannot read it as JSON ({type(exc).__name__})") from None
    if not isinstance(report, dict) or report.get("internal") is not True:
        raise InputError(f"{source}: not a synthgate internal report (no 'internal': true)")
    target = internal / "report.html"
    partial = internal / ".report.html.partial"
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_html(report))
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write the report ({type(exc).__name__})") from None
    return target
