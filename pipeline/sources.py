"""Database sources: a table or a query in PostgreSQL or SQLite, read as Arrow record batches.

Through ADBC (Arrow Database Connectivity): the PostgreSQL driver streams the result with the
server's binary COPY protocol straight into Arrow, and the SQLite driver reads a file; neither goes
through Python rows. (connectorx was the other candidate: fast, but it reads the whole result into
memory at once, where ADBC streams batches, and it has no SQLite writer for our tests.)

Only the config's non-identifier columns are selected (quoted as identifiers, never spliced from
values), so identifier columns never leave the database. The password comes from the environment
variable the config names; it is put into the connection string only in memory, and no message
quotes the connection string, the server's error text (it can echo values) or the password.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pyarrow as pa

from .errors import InputError

__all__ = ["SqlSource"]


@dataclass(frozen=True)
class SqlSource:
    """Where a table lives in a database: shown in messages as its URL (no password) and table."""

    url: str
    table: str | None
    query: str | None
    password_env: str | None = None

    @classmethod
    def from_spec(cls, spec: Any, resolve: Callable[[Path], Path]) -> SqlSource:
        url = str(spec.url)
        if url.startswith("sqlite:"):
            url = "sqlite:///" + str(resolve(Path(_sqlite_path(url))))
        return cls(url, spec.table, spec.query, spec.password_env)

    def __str__(self) -> str:
        return f"{self.url} ({f'table {self.table}' if self.table else 'query'})"

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite:")

    def header(self) -> list[str]:
        """The column names: a table's from the catalog (no SELECT, so a reader may lack the right to
        select the identifier columns), a query's from running it for no rows."""
        if self.table is not None:
            schema, _, name = self.table.rpartition(".")
            connection = self._connect()
            try:
                return list(connection.adbc_get_table_schema(name, db_schema_filter=schema or None).names)
            except Exception as exc:
                raise InputError(f"{self}: the table cannot be read ({_reason(exc)})") from None
            finally:
                connection.close()
        with self._cursor() as cursor:
            self._execute(cursor, f"SELECT * FROM {self._relation()} AS synthgate_source LIMIT 0")
            return list(cursor.fetch_arrow_table().schema.names)

    def iter_record_batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """The named columns, batch by batch, streamed from the database."""
        selected = ", ".join(_identifier(c) for c in columns)
        with self._cursor() as cursor:
            self._execute(cursor, f"SELECT {selected} FROM {self._relation()} AS synthgate_source")
            try:
                yield from cursor.fetch_record_batch()
            except Exception as exc:  # a driver error while streaming: name the source, not the text
                raise InputError(f"{self}: reading the rows failed ({_reason(exc)})") from None

    def _relation(self) -> str:
        if self.table is not None:
            return ".".join(_identifier(part) for part in self.table.split("."))
        return f"({self.query})"

    def _execute(self, cursor: Any, sql: str) -> None:
        try:
            cursor.execute(sql)
        except Exception as exc:
            what = "the table" if self.table else "the query"
            raise InputError(f"{self}: {what} cannot be read ({_reason(exc)})") from None

    def _cursor(self) -> Any:
        connection = self._connect()

        class _Closing:
            def __enter__(self_inner) -> Any:
                self_inner.cursor = connection.cursor()
                return self_inner.cursor

            def __exit__(self_inner, *exc: object) -> None:
                try:
                    self_inner.cursor.close()
                finally:
                    connection.close()

        return _Closing()

    def _connect(self) -> Any:
        if self.is_sqlite:
            import adbc_driver_sqlite.dbapi as sqlite

            path = Path(_sqlite_path(self.url))
            if not path.is_file():  # the driver would create an empty database instead
                raise InputError(f"{self}: database file not found; check source.url in the config")
            try:
                return sqlite.connect(f"file:{path}?mode=ro", autocommit=True)
            except Exception as exc:
                raise InputError(f"{self}: cannot open the database ({_reason(exc)})") from None
        import adbc_driver_postgresql.dbapi as postgresql

        uri = self._uri_with_password()
        try:
            return postgresql.connect(uri, autocommit=True)
        except Exception as exc:
            raise InputError(f"{self}: cannot connect ({_reason(exc)})") from None

    def _uri_with_password(self) -> str:
        parts = urlsplit(self.url)
        if self.password_env is None:
            return self.url
        password = os.environ.get(self.password_env)
        if password is None:
            raise InputError(f"{self}: the environment variable named in source.password_env "
                             f"({self.password_env}) is not set")
        user = quote(parts.username or "", safe="")
        host = parts.hostname or ""
        netloc = f"{user}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _sqlite_path(url: str) -> str:
    """sqlite:///relative.db -> relative.db; sqlite:////abs/x.db -> /abs/x.db (SQLAlchemy's spelling)."""
    rest = url.split(":", 1)[1]
    return rest[3:] if rest.startswith("///") else rest.lstrip("/")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _reason(exc: BaseException) -> str:
    """The kind of failure, never the driver's text: it can quote the connection string or a value."""
    text = str(exc).lower()
    if "password authentication failed" in text or "no password supplied" in text:
        return "authentication failed: check the password in the variable named by source.password_env"
    if "does not exist" in text and "database" in text:
        return "the database does not exist"
    if "does not exist" in text or "no such table" in text or "no such column" in text or "undefined" in text:
        return "a table or column named in it does not exist"
    if "syntax error" in text:
        return "the query has a syntax error"
    if "connection refused" in text or "could not connect" in text or "timeout" in text or "timed out" in text:
        return "the server cannot be reached"
    if "permission denied" in text:
        return "permission denied"
    return type(exc).__name__
