"""Column names as they may appear in a message: one line, no terminal control codes.

A header can name a column anything, including a newline or an escape sequence; quoted raw, such a
name would split an error into several lines or rewrite the steward's terminal (found by tests/fuzz).
"""

from __future__ import annotations

import unicodedata

__all__ = ["shown", "has_control"]

_LINE_BREAKS = {"Cc", "Zl", "Zp"}  # control codes, line and paragraph separators


def shown(name: str) -> str:
    """The name with every non-printable character escaped (`a\\nb`), so a message stays one line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in name)


def has_control(name: str) -> bool:
    """True if the name holds a control code or a line break, which no config should name a column with."""
    return any(unicodedata.category(ch) in _LINE_BREAKS for ch in name)
