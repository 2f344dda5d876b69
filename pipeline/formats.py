"""Which reader a source file needs, told from its name (a folder is a Parquet dataset)."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError

__all__ = ["format_from_suffix"]


def format_from_suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        return "csv"
    if name.endswith((".parquet", ".pq")) or path.is_dir():  # a folder: a Parquet dataset (hive partitions)
        return "parquet"
    raise ConfigError(f"{path}: cannot tell the file format from its name; set source.format to csv or parquet")
