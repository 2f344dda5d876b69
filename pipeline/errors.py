"""The error classes and exit codes, under the name the CLI and library users import.

They live in `synthgate.privacy.errors` because the lowest layer that raises them is there
(`privacy` imports neither `pipeline` nor `quality`); this module re-exports them.
"""

from __future__ import annotations

from synthgate.privacy.errors import (
    EXIT_BAD_INPUT,
    EXIT_BUDGET,
    EXIT_HELD,
    EXIT_INTERNAL,
    EXIT_MIXED,
    EXIT_RELEASED,
    BudgetExceededError,
    ConfigError,
    ContractError,
    InputError,
    OutputError,
    SynthgateError,
)

__all__ = ["SynthgateError", "ConfigError", "InputError", "ContractError", "OutputError", "BudgetExceededError",
           "EXIT_RELEASED", "EXIT_INTERNAL", "EXIT_BAD_INPUT", "EXIT_HELD", "EXIT_BUDGET", "EXIT_MIXED"]
