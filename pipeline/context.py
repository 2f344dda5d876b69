"""What every stage of one run may know about the run itself: its config, its identity, its secret
split key and how it reports progress. Public facts except the key, which is never stored."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import ReleaseConfig
from .split import SplitKey

__all__ = ["Progress", "RunOptions", "RunContext"]

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class RunOptions:
    """How to run, beyond the config: CSV output (None: as the config says), a batch id chosen by a
    scheduler, a progress callback, and for benchmarks only a reproducible split key."""

    csv: bool | None = None
    batch_id: str | None = None
    progress: Progress | None = None
    split_key: SplitKey | None = None


@dataclass(frozen=True)
class RunContext:
    config: ReleaseConfig
    release_id: str
    seed: int  # drives sampling (post-processing) only; DP noise comes from a secure source
    key: SplitKey = field(repr=False)
    csv: bool
    progress: Progress | None

    @classmethod
    def start(cls, config: ReleaseConfig, seed: int | None, options: RunOptions) -> RunContext:
        """A fresh run: a random seed unless one is given, a release id, a secret split key."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        release_id = options.batch_id or f"{config.dataset}-{stamp}-{config.config_hash[:8]}-{secrets.token_hex(3)}"
        return cls(config, release_id, secrets.randbits(32) if seed is None else int(seed),
                   options.split_key or SplitKey.fresh(), config.output.csv if options.csv is None else options.csv,
                   options.progress)
