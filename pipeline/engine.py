"""The engine seam: a source in, the validated input and the training codes out.

Everything before the DP domains (parse, contract, split, domain statistics, check samples) and
the encoding after them is the engine's job; every stage after that reads codes only, so it does
not care where the rows live. The local engine (`local_engine.py`: one pass over Arrow batches,
codes in memory) is the default; the Spark engine (`spark_engine.py`) for tables that outgrow one
machine implements the same two calls.

Privacy contract for any engine: the split and the check samples are the keyed functions of
`split.py` (row content and occurrence, never position or seed); nothing data-dependent leaves
the engine except through `Validated` (sizes and statistics that are released only through DP,
samples kept for the internal checks) and `TrainingCodes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from synthgate.privacy.counts import CodeCounts

from .config import ReleaseConfig
from .context import Progress
from .encode import TableCodec
from .split import SplitKey
from .validate import Validated

if TYPE_CHECKING:
    from .local_engine import LocalEngine
    from .spark_engine import SparkEngine

__all__ = ["Engine", "TrainingCodes", "open_engine"]


@dataclass(frozen=True)
class TrainingCodes:
    """The training rows as codes over the released domains (narrowest integer type that holds
    every column's codes), and per estimated-bounds column how many values were clamped (exact).
    `counts`, when given, counts the same codes where the engine keeps them (the model's marginals
    are read through it); otherwise they are counted from `codes`. An engine that keeps the codes
    elsewhere hands back only the first `gate.sample_rows` of them in keyed-priority order (what the
    marginal checks count) and says how many rows there are in `n_rows`."""

    codes: np.ndarray
    clamped: Mapping[str, int]
    counts: CodeCounts | None = None
    n_rows: int | None = None  # every training row; None: `codes` holds them all

    @property
    def rows(self) -> int:
        return len(self.codes) if self.n_rows is None else self.n_rows


class Engine(Protocol):
    """source -> validated input (pass 1) -> training codes once the domains are released."""

    def validate(self, progress: Progress | None = None) -> Validated:
        """Read the source once: contract, parse failures, split, domain statistics, check samples."""

    def encode(self, codec: TableCodec, progress: Progress | None = None) -> TrainingCodes:
        """The training rows of that same read as codes over `codec` (no second read of the source)."""


@contextmanager
def open_engine(config: ReleaseConfig, key: SplitKey, out: Path) -> Iterator[Engine]:
    """The engine for `config` (`engine: local` or `spark`); its scratch files beside `out` (or
    cached data on Spark) are removed on exit, whether the run succeeds or fails."""
    engine: LocalEngine | SparkEngine
    if config.engine == "spark":
        from .spark_engine import SparkEngine

        engine = SparkEngine(config, key)
    else:
        from .local_engine import LocalEngine

        engine = LocalEngine(config, key, out)
    try:
        yield engine
    finally:
        engine.close()
