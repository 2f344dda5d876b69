"""Staging folders record their owner; a later run removes only those whose owner process is gone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from synthgate.pipeline.owner import MARKER, Owner, process_start, read_owner, remove_stale_staging
from synthgate.pipeline.publish import Staging

# A child process that opens a staging folder for --out `argv[1]`, says where, then waits to be killed.
_HOLDER = """
import sys, time
from synthgate.pipeline.publish import Staging
staging = Staging(sys.argv[1])
print(staging.root, flush=True)
time.sleep(600)
"""

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="owner checks read /proc (Linux)")


def _holder(out: Path) -> tuple[subprocess.Popen[str], Path]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(out)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    root = Path(proc.stdout.readline().strip())
    assert root.is_dir(), "the child did not open its staging folder"
    return proc, root


def _fake_staging(parent: Path, name: str, owner: dict[str, object] | str | None) -> Path:
    folder = parent / name
    folder.mkdir()
    (folder / "synthetic.parquet").write_bytes(b"partial")
    if owner is not None:
        (folder / MARKER).write_text(owner if isinstance(owner, str) else json.dumps(owner), encoding="utf-8")
    return folder


def test_staging_names_its_owner_and_the_committed_run_holds_no_marker(tmp_path: Path) -> None:
    staging = Staging(tmp_path / "run")
    owner = read_owner(staging.root)
    assert owner == Owner(socket.gethostname(), os.getpid(), process_start(os.getpid()))
    assert owner.started is not None and not owner.is_gone()
    assert (staging.root / MARKER).stat().st_mode & 0o077 == 0  # owner-only, like the rest of the folder
    staging.write_text("internal/x.txt", "x")
    final = staging.commit()
    assert sorted(p.relative_to(final).as_posix() for p in final.rglob("*")) == ["internal", "internal/x.txt"]


def test_a_killed_owner_is_gone_and_its_folder_is_removed(tmp_path: Path) -> None:
    proc, root = _holder(tmp_path / "run")
    assert remove_stale_staging(tmp_path) == 0 and root.is_dir()  # alive: never removed
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    (tmp_path / "run2").mkdir()  # an ordinary sibling is not touched
    assert remove_stale_staging(tmp_path) == 1
    assert not root.exists() and (tmp_path / "run2").is_dir()


def test_a_killed_but_unreaped_owner_counts_as_gone(tmp_path: Path) -> None:
    """A zombie still answers kill(pid, 0), but it will never write again."""
    proc, root = _holder(tmp_path / "run")
    proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not become a zombie"
        time.sleep(0.05)
    try:
        assert remove_stale_staging(tmp_path) == 1 and not root.exists()
    finally:
        proc.wait(timeout=30)


def test_a_reused_pid_is_told_apart_by_its_start_time(tmp_path: Path) -> None:
    me = {"host": socket.gethostname(), "pid": os.getpid()}
    reused = _fake_staging(tmp_path, ".a.partial-1", {**me, "started": "other-boot:1"})
    live = _fake_staging(tmp_path, ".b.partial-2", {**me, "started": process_start(os.getpid())})
    assert remove_stale_staging(tmp_path) == 1
    assert not reused.exists() and live.is_dir()


def test_folders_whose_owner_cannot_be_checked_are_left_alone(tmp_path: Path) -> None:
    dead = {"host": socket.gethostname(), "pid": _dead_pid(), "started": None}
    kept = [
        _fake_staging(tmp_path, ".a.partial-1", {**dead, "host": "another-host"}),  # maybe live over there
        _fake_staging(tmp_path, ".b.partial-2", None),                               # no marker
        _fake_staging(tmp_path, ".c.partial-3", "{not json"),                        # unreadable marker
        _fake_staging(tmp_path, ".d.partial-4", {"pid": 0, "host": 1}),             # malformed marker
        _fake_staging(tmp_path, "e.partial-5", dead),                                # not a staging name
    ]
    target = _fake_staging(tmp_path, "elsewhere", dead)
    (tmp_path / ".f.partial-6").symlink_to(target)                                   # never followed
    assert remove_stale_staging(tmp_path) == 0
    assert all(folder.is_dir() for folder in kept) and (target / MARKER).is_file()
    # The same marker in a real staging folder is removed, whatever files it holds.
    stale = _fake_staging(tmp_path, ".g.partial-7", dead)
    (stale / "package").mkdir()
    assert remove_stale_staging(tmp_path) == 1 and not stale.exists()


def test_a_missing_parent_removes_nothing(tmp_path: Path) -> None:
    assert remove_stale_staging(tmp_path / "absent") == 0


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)
