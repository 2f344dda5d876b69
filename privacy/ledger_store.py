"""Where the ledger lives: one SQLite file (the embedded default) or a PostgreSQL database (governance
jobs on several machines). Same schema, same SQL (written with `?` placeholders), one job: connect,
and make every write transaction exclusive so that reserve-then-spend never races.

- SQLite: WAL journal, `BEGIN IMMEDIATE` (one writer at a time, readers never blocked).
- PostgreSQL: each write transaction first takes one transaction-scoped advisory lock, so ledger
  writers from any number of machines run one after another; reads are plain. A password never sits
  in the URL: libpq reads it from PGPASSWORD or ~/.pgpass, so no message, log or manifest can show it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError

__all__ = ["Cursor", "LedgerStore", "LedgerStoreError", "SqliteStore", "PostgresStore", "open_store", "is_url"]

_POSTGRES_SCHEMES = ("postgresql", "postgres")
_LOCK_KEY = 0x5E_D6_E7  # the advisory lock every synthgate ledger writer takes (any constant)


class LedgerStoreError(ConfigError):
    """The ledger's database cannot be reached or used (exit 2): the message names it, never a password."""


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class LedgerStore(Protocol):
    """A place the ledger's tables live."""

    where: str  # shown in messages: a path, or the URL without any password

    def connect(self) -> Any: ...
    def transaction(self) -> Any: ...
    def columns(self, db: Connection, table: str) -> set[str]: ...
    def create(self, schema: str) -> None: ...


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.split("://", 1)[0] in _POSTGRES_SCHEMES and "://" in location


def open_store(location: str | Path) -> SqliteStore | PostgresStore:
    """A PostgreSQL URL (postgresql://user@host:port/db) or a SQLite file path."""
    if is_url(location):
        return PostgresStore(str(location))
    return SqliteStore(Path(location))


class SqliteStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)

    def create(self, schema: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.connect() as db:
                db.executescript(schema)
        except (sqlite3.Error, OSError) as exc:
            raise LedgerStoreError(f"{self.where}: cannot open the budget ledger ({type(exc).__name__})") from None

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as db, _exclusive(db, "BEGIN IMMEDIATE"):
            yield db

    def columns(self, db: Any, table: str) -> set[str]:
        return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


class _PostgresConnection:
    """psycopg's connection behind the same `execute(sql with ?, params)` the SQLite code uses."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._raw.execute(sql.replace("?", "%s"), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._raw.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])


class PostgresStore:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.password is not None:
            raise LedgerStoreError(f"{_without_password(url)}: the ledger URL carries a password; remove it and set "
                                   "PGPASSWORD (or a ~/.pgpass file) instead, so it never shows in a log or message")
        if not parts.hostname or not parts.path.strip("/"):
            raise LedgerStoreError(f"{url}: a PostgreSQL ledger URL needs a host and a database, e.g. "
                                   "postgresql://synthgate@db.internal:5432/governance")
        self.url = url
        self.where = url

    def create(self, schema: str) -> None:
        statements = [s.strip() for s in _postgres_schema(schema).split(";") if s.strip()]
        with self.transaction() as db:
            for statement in statements:
                db.execute(statement)

    @contextmanager
    def connect(self) -> Iterator[_PostgresConnection]:
        import psycopg

        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise LedgerStoreError(f"{self.where}: cannot connect to the budget ledger ({_reason(exc)})") from None
        try:
            yield _PostgresConnection(raw)
        finally:
            raw.close()

    @contextmanager
    def transaction(self) -> Iterator[_PostgresConnection]:
        with self.connect() as db, _exclusive(db, "BEGIN"):
            db.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))  # writers, one at a time
            yield db

    def columns(self, db: Any, table: str) -> set[str]:
        rows = db.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                          "AND table_schema = current_schema()", (table,)).fetchall()
        return {r[0] for r in rows}


@contextmanager
def _exclusive(db: Any, begin: str) -> Iterator[None]:
    """A transaction that commits when the block ends and rolls back when it raises."""
    db.execute(begin)
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _postgres_schema(schema: str) -> str:
    """The SQLite schema in PostgreSQL's words: 8-byte floats, an identity key for events."""
    return (schema.replace(" REAL", " DOUBLE PRECISION")
            .replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))


def _reason(exc: BaseException) -> str:
    """The kind of failure, never the server's full text (it can echo the connection string)."""
    text = str(exc).lower()
    if "password authentication failed" in text or "no password supplied" in text:
        return "authentication failed: check PGPASSWORD or ~/.pgpass"
    if "does not exist" in text and "database" in text:
        return "the database does not exist"
    if "connection refused" in text or "could not connect" in text or "timeout" in text:
        return "the server cannot be reached"
    return type(exc).__name__
