"""The command line in-process, as the tests call it: `synthgate.pipeline.cli.main([...])`."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from synthgate.pipeline.cli import main


def run_release(config: Path, out: Path, *args: str) -> int:
    """`synthgate run CONFIG --out OUT ARGS...`; its exit code."""
    return main(["run", str(config), "--out", str(out), *args])


def invoke(args: list[str]) -> tuple[int, str, str]:
    """main() with stdout/stderr captured (for module-scoped fixtures, where capsys is not available)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()
