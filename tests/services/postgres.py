"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl from Debian's `postgresql` package, in a
temporary folder, listening on 127.0.0.1 only, with password authentication, stopped at the end.

Used when no server is configured (SYNTHGATE_TEST_POSTGRES_URL unset). As root, the server runs as
the unprivileged `postgres` user that the Debian package creates (initdb refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "test-only-s3cret-9f2b"  # a throwaway cluster's superuser password; a sentinel for leaks too
USER = "synthgate"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def why_unavailable() -> str | None:
    """None when a throwaway cluster can be started here; else the reason (for pytest.skip)."""
    if not (_binary("initdb") and _binary("pg_ctl")):
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no unprivileged 'postgres' user to run the server as"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def throwaway_server() -> Iterator[Server]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    assert initdb and pg_ctl
    root = Path(tempfile.mkdtemp(prefix="synthgate-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(root, entry.pw_uid, entry.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, sockets, pwfile = root / "data", root / "sockets", root / "pw"
    port = _free_port()
    run = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "timeout": 120}
    subprocess.run([*as_user, "mkdir", str(sockets)], **run)  # type: ignore[call-overload]
    subprocess.run([*as_user, "sh", "-c", f"umask 077; printf '%s' '{PASSWORD}' > {pwfile}"], **run)  # type: ignore[call-overload]
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", USER, "--pwfile", str(pwfile), "--auth", "scram-sha-256",
                    "-E", "UTF8", "--no-instructions"], **run)  # type: ignore[call-overload]
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off -c max_connections=50"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60",
                    "start"], **run)  # type: ignore[call-overload]
    try:
        yield Server("127.0.0.1", port, USER, PASSWORD)
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server: Server, name: str) -> str:
    import psycopg

    with psycopg.connect(server.url("postgres"), password=server.password, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)
