"""Database sources: `synthgate run` on a SQLite table and on a PostgreSQL table or query (the
shared health_insurance table loaded into each), identifier columns never selected, and one clear
line, naming the source but never the password, for every way a database can fail."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from services.configs import HEALTH_INSURANCE, shipped_config
from synthgate.pipeline.cli import main
from synthgate.pipeline.errors import EXIT_BAD_INPUT, EXIT_RELEASED

READER_PASSWORD = "reader-pw-7c1e"


def _table() -> pd.DataFrame:
    frame = pd.read_csv(HEALTH_INSURANCE).iloc[:3000]
    frame.insert(0, "patient_name", [f"Patient {i:05d}" for i in range(len(frame))])  # a direct identifier
    return frame


def _config(tmp_path: Path, source: dict[str, Any]) -> Path:
    return shipped_config("health_insurance", tmp_path, source=source,
                          columns_first={"patient_name": {"role": "identifier"}})


def test_a_sqlite_table_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(tmp_path / "clinic.db") as db:
        _table().to_sql("visits", db, index=False)
    config = _config(tmp_path, {"url": "sqlite:///clinic.db", "table": "visits"})  # relative to the config
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == EXIT_RELEASED, capsys.readouterr().err
    synthetic = pd.read_parquet(tmp_path / "run" / "release" / "synthetic.parquet")
    assert "patient_name" not in synthetic.columns and len(synthetic.columns) == 11


@pytest.mark.parametrize(("source", "expected"), [
    ({"url": "sqlite:///missing.db", "table": "visits"}, "database file not found"),
    ({"url": "sqlite:///clinic.db", "table": "no_such_table"}, "does not exist"),
    ({"url": "sqlite:///clinic.db", "query": "SELEC health FROM visits"}, "syntax error"),
])
def test_sqlite_failures_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: dict[str, Any],
                                      expected: str) -> None:
    with sqlite3.connect(tmp_path / "clinic.db") as db:
        _table().to_sql("visits", db, index=False)
    config = _config(tmp_path, source)
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and expected in err and "sqlite:///" in err
    assert not (tmp_path / "run").exists()


@pytest.fixture
def clinic_database(postgres_url: str) -> str:
    """health_insurance in PostgreSQL, readable by `reader` except for the identifier column."""
    import adbc_driver_postgresql.dbapi as adbc
    import psycopg
    import pyarrow as pa

    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader') THEN "
                   f"CREATE ROLE reader LOGIN PASSWORD '{READER_PASSWORD}'; END IF; END $$")  # roles span the cluster
    import os

    uri = postgres_url.replace("synthgate@", f"synthgate:{os.environ['PGPASSWORD']}@")
    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        cursor.adbc_ingest("visits", pa.Table.from_pandas(_table(), preserve_index=False), mode="create")
        connection.commit()
    columns = ", ".join(f'"{c}"' for c in _table().columns if c != "patient_name")
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute(f"GRANT SELECT ({columns}) ON visits TO reader")  # the identifier is not readable at all
    return postgres_url.replace("synthgate@", "reader@")


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["table", "query"])
def test_a_postgres_table_or_query_runs_and_never_selects_the_identifier(
        clinic_database: str, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLINIC_DB_PASSWORD", READER_PASSWORD)
    source: dict[str, Any] = {"url": clinic_database, "password_env": "CLINIC_DB_PASSWORD"}
    if kind == "table":
        source["table"] = "public.visits"
    else:  # the query names the identifier too: synthgate still selects only the attribute columns
        source["query"] = "SELECT * FROM visits WHERE age >= 0"
    config = _config(tmp_path, source)
    code = main(["run", str(config), "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    if kind == "query":  # SELECT * touches patient_name, which `reader` may not select: refused, one line
        assert code == EXIT_BAD_INPUT and "permission denied" in captured.err
        return
    assert code == EXIT_RELEASED, captured.err
    synthetic = pd.read_parquet(tmp_path / "run" / "release" / "synthetic.parquet")
    assert "patient_name" not in synthetic.columns and len(synthetic) > 1000
    assert READER_PASSWORD not in captured.out + captured.err
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert READER_PASSWORD.encode() not in path.read_bytes(), path


@pytest.mark.postgres
@pytest.mark.parametrize("problem", ["wrong-password", "unreachable", "missing-table", "query-error", "no-variable"])
def test_postgres_failures_are_one_line_naming_the_source_not_the_password(
        clinic_database: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLINIC_DB_PASSWORD", "wrong-pw-0000" if problem == "wrong-password" else READER_PASSWORD)
    url = clinic_database if problem != "unreachable" else "postgresql://reader@127.0.0.1:1/clinic"
    source: dict[str, Any] = {"url": url, "password_env": "CLINIC_DB_PASSWORD", "table": "visits"}
    if problem == "missing-table":
        source["table"] = "no_such_table"
    elif problem == "query-error":
        del source["table"]
        source["query"] = "SELECT health, age FROM visits WHERE"
    elif problem == "no-variable":
        source["password_env"] = "NOT_SET_ANYWHERE"
    config = _config(tmp_path, source)
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and url.split("?")[0] in err
    assert "wrong-pw-0000" not in err and READER_PASSWORD not in err
    expected = {"wrong-password": "authentication failed", "unreachable": "cannot be reached",
                "missing-table": "does not exist", "query-error": "syntax error",
                "no-variable": "NOT_SET_ANYWHERE"}[problem]
    assert expected in err
    assert not (tmp_path / "run").exists()
