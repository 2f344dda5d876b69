"""Publish: assemble a run directory in a staging folder and rename it into place in one step.

A crash leaves either the complete run directory or none (plus, at worst, a hidden staging
folder beside it, which records its owner process; the next run in the same parent folder
removes it once that process is gone, see `owner.py`). The release package holds only the
synthetic files and a manifest; the internal report goes to `internal/`, never into the package.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import math
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from .errors import OutputError
from .logs import event
from .owner import MARKER, remove_stale_staging, write_owner

__all__ = ["check_output_dir", "prepare_output_dir", "Staging", "sha256_file", "to_json_text", "write_error"]

log = logging.getLogger("synthgate.publish")

# What to do about a failed write, by errno; anything else gets the generic hint.
_WRITE_HINTS = {
    errno.ENOSPC: "free space on that disk or choose another --out",
    errno.EDQUOT: "the disk quota is used up; free space or choose another --out",
    errno.EFBIG: "a file passed the size limit for this process (ulimit -f) or file system; "
                 "raise the limit or lower output.rows",
}


def check_output_dir(out: Path) -> Path:
    """Refuse an output that exists and is not an empty directory, or that is a symlink; create
    missing parent folders."""
    out = Path(out)
    if out.is_symlink():
        raise OutputError(f"{out}: output path is a symbolic link; give a plain directory path")
    if out.exists():
        if not out.is_dir():
            raise OutputError(f"{out}: output path exists and is not a directory")
        if any(out.iterdir()):
            raise OutputError(f"{out}: output directory is not empty; choose a new --out for each run")
    parent = out.absolute().parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"{parent}: parent of --out is not a folder")
    try:
        parent.mkdir(parents=True, exist_ok=True)  # `--out runs/2026-11` works on a fresh checkout
    except OSError as exc:
        raise OutputError(f"{parent}: cannot create the parent folder of --out ({type(exc).__name__})") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: parent folder of --out is not writable")
    return out


def prepare_output_dir(out: Path) -> Path:
    """`check_output_dir`, then remove the staging folders that killed runs left beside it."""
    out = check_output_dir(out)
    removed = remove_stale_staging(out.absolute().parent)
    if removed:
        event(log, f"removed {removed} staging folder(s) left by runs that were killed", stage="publish",
              n_removed=removed)
    return out


def write_error(out: Path, exc: OSError) -> OutputError:
    """One line for a failed write under `out`: the errno name and what to do, never a path inside."""
    reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    hint = _WRITE_HINTS.get(exc.errno or 0, "free space, check permissions or choose another --out")
    return OutputError(f"{out}: cannot write the output ({reason}); {hint}")


class Staging:
    """A hidden sibling folder that becomes the run directory on `commit()`, or vanishes on `abort()`.

    It holds an owner marker (host, pid, start time) until the commit, so that the folder of a
    killed run can be told from a live one and removed by a later run."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.root = self.out.absolute().parent / f".{self.out.name}.partial-{uuid.uuid4().hex[:12]}"
        try:
            self.root.mkdir(mode=0o700)
        except OSError as exc:
            raise write_error(self.out, exc) from None
        try:
            write_owner(self.root)
        except OSError as exc:
            self.abort()
            raise write_error(self.out, exc) from None

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, relative: str, payload: Any) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_json_text(payload, indent=2) + "\n", encoding="utf-8")
        return path

    def write_text(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def commit(self) -> Path:
        for path in self.root.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
        (self.root / MARKER).unlink()  # the run directory holds only run files; the rename follows at once
        if self.out.exists():
            self.out.rmdir()  # checked empty before the run; fails loudly if something appeared since
        os.rename(self.root, self.out)
        return self.out

    def abort(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_json_text(payload: Any, *, indent: int | None = None) -> str:
    """Strict JSON: a NaN or infinite figure (e.g. a metric that is not computable) becomes null,
    since `NaN` is not JSON and breaks the reviewers' and schedulers' parsers."""
    return json.dumps(_finite(payload), indent=indent, sort_keys=False, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return _finite(value.item())
    return value
