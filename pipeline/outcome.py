"""Everything one run produced, stage by stage: what the manifest, the datasheet and the internal
report are written from. A frozen value, so publishing cannot change what the stages found."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from synthgate.privacy.accountant import Accountant

from .check import Checked
from .context import RunContext
from .domains import Domains
from .fit import Measured
from .gate import Decision
from .synthesize import Sampled
from .training import Encoded
from .validate import Validated

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    run: RunContext
    validated: Validated
    domains: Domains
    encoded: Encoded
    measured: Measured
    sampled: Sampled
    checked: Checked
    decision: Decision
    accountant: Accountant
    timings: Mapping[str, float]

    @property
    def folder(self) -> str:
        """The package's name: `release` when cleared, `held` (owner-only) otherwise."""
        return "release" if self.decision.released else "held"

    @property
    def warnings(self) -> list[str]:
        """Functions of DP output and public config only: these may go into the manifest."""
        return [*self.domains.warnings, *self.measured.warnings, *self.decision.warnings]

    @property
    def internal_warnings(self) -> list[str]:
        """Warnings that quote exact figures of the data: internal report and log only."""
        return list(self.encoded.warnings)
