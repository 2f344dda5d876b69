"""Logging: text for people, JSON lines for schedulers. Events carry fields, never data values."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

__all__ = ["configure_logging", "event"]

_FIELDS = ("stage", "dataset", "release_id", "rows", "seconds", "epsilon_spent", "decision", "n_removed", "exit_code")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {"time": round(record.created, 3), "level": record.levelname.lower(),
                                   "logger": record.name, "event": record.getMessage()}
        payload.update({k: getattr(record, k) for k in _FIELDS if hasattr(record, k)})
        return json.dumps(payload, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={getattr(record, k)}" for k in _FIELDS if hasattr(record, k))
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        return f"[{stamp}] {record.getMessage()}" + (f"  ({extras})" if extras else "")


def configure_logging(*, json_lines: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if json_lines else _TextFormatter())
    root = logging.getLogger("synthgate")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


def event(logger: logging.Logger, message: str, **fields: Any) -> None:
    """Log one event with structured fields (stage, rows, seconds, ...)."""
    logger.info(message, extra={k: v for k, v in fields.items() if k in _FIELDS})
