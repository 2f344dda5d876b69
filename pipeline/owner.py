"""Owner markers for staging folders, and removal of the folders whose run has died.

A SIGKILLed run cannot clean up the hidden staging folder it was filling. So each staging folder
records its owner (host, pid, process start time), and the next run in the same parent folder
removes the folders whose owner is gone: same host, and the pid is not alive (or a zombie), or
now belongs to a process that started later (a reused pid). A folder whose owner cannot be
checked (another host, no readable marker, another user's folder) is left alone: a live run's
folder must never be removed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MARKER", "Owner", "is_staging_name", "process_start", "read_owner", "remove_stale_staging",
           "write_owner"]

MARKER = ".synthgate-owner.json"
_INFIX = ".partial-"


@dataclass(frozen=True)
class Owner:
    """The process writing a staging folder. `started` is None where the OS does not tell (no /proc)."""

    host: str
    pid: int
    started: str | None

    @classmethod
    def current(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()))

    def is_gone(self) -> bool:
        """True only when it is certain: same host, and the pid is dead or is another process now."""
        if self.host != socket.gethostname():
            return False
        if not _pid_alive(self.pid):
            return True
        now = process_start(self.pid)
        return self.started is not None and now is not None and now != self.started


def process_start(pid: int) -> str | None:
    """Boot id and start time (clock ticks since boot) of `pid`, from /proc; None where /proc does not
    tell. Two processes with one pid differ here, so a reused pid is not mistaken for the owner."""
    fields = _proc_stat(pid)
    if fields is None:
        return None
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        boot = ""
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:  # os.kill(0 or -n, ...) would address process groups
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    fields = _proc_stat(pid)  # a zombie (killed, not yet reaped) is dead for our purpose: it writes nothing more
    return not fields or fields[0] not in ("Z", "X")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first, start time 20th); None without it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def write_owner(folder: Path) -> Path:
    """Record this process as the owner of `folder` (owner-only file)."""
    owner = Owner.current()
    path = folder / MARKER
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"host": owner.host, "pid": owner.pid, "started": owner.started}, handle)
    return path


def read_owner(folder: Path) -> Owner | None:
    """The owner recorded in `folder`, or None if there is no readable, well-formed marker."""
    try:
        raw = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        started = raw["started"]
        owner = Owner(str(raw["host"]), int(raw["pid"]), None if started is None else str(started))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return owner


def is_staging_name(name: str) -> bool:
    """Names `Staging` gives its folders: `.<out name>.partial-<hex>`."""
    return name.startswith(".") and _INFIX in name


def remove_stale_staging(parent: Path) -> int:
    """Remove the staging folders in `parent` whose owner is gone; returns how many were removed."""
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        if not is_staging_name(entry.name) or not _own_folder(entry):
            continue
        owner = read_owner(entry)
        if owner is None or not owner.is_gone():
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed += not entry.exists()
    return removed


def _own_folder(path: Path) -> bool:
    """A real folder (never a symlink) that belongs to this user."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())
