"""Exception classes and the exit code each maps to.

Messages name the file, key, column and rule; they never quote a value from the data.
"""

from __future__ import annotations

__all__ = [
    "SynthgateError",
    "ConfigError",
    "InputError",
    "ContractError",
    "OutputError",
    "BudgetExceededError",
    "EXIT_RELEASED",
    "EXIT_INTERNAL",
    "EXIT_BAD_INPUT",
    "EXIT_HELD",
    "EXIT_BUDGET",
    "EXIT_MIXED",
]

EXIT_RELEASED = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_HELD = 3
EXIT_BUDGET = 4
EXIT_MIXED = 5  # a batch of several configs whose runs ended differently (pipeline/batch.py)


class SynthgateError(Exception):
    """Base of every error synthgate raises on purpose."""

    exit_code: int = EXIT_INTERNAL


class ConfigError(SynthgateError):
    """The release config is malformed or inconsistent: fix the named file and key."""

    exit_code = EXIT_BAD_INPUT


class InputError(SynthgateError):
    """The input table cannot be read or does not match its config."""

    exit_code = EXIT_BAD_INPUT


class ContractError(InputError):
    """A table broke the data contract generated from its config."""

    def __init__(self, where: str, failures: list[str]) -> None:
        self.failures = failures
        if len(failures) == 1:  # one problem, one line
            super().__init__(f"{where} breaks the data contract: {failures[0]}")
            return
        lines = "\n  ".join(failures)
        super().__init__(f"{where} breaks the data contract ({len(failures)} failed expectation(s)):\n  {lines}")


class OutputError(SynthgateError):
    """The output location cannot be used (exists and is not empty, or is not writable)."""

    exit_code = EXIT_BAD_INPUT


class BudgetExceededError(SynthgateError):
    """A charge would take the run past its privacy budget."""

    exit_code = EXIT_BUDGET
