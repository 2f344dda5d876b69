"""What a `sample` request draws: rows from a release's model, conditioned and balanced, streamed.

A request (rows, `where`, `balance`, seed) becomes strata: one without `balance`, else one per
level of the balanced column, each the model's exact conditional given the `where` evidence and
that level (`Model.condition`). Rows are drawn chunk by chunk (bounded memory): in the chunk
starting at row r, row i belongs to stratum i mod K, so the K levels end with equal counts
(within one), and each chunk's rows are shuffled so levels interleave. Post-processing only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from synthgate.privacy.models.conditional import ConditionError, Conditional, Evidence

from .conditions import ConditionRequestError, evidence_for, level_codes, level_label
from .errors import InputError

if TYPE_CHECKING:
    from .release_package import Release

__all__ = ["HeldReleaseError", "SampleRequest", "Stratum", "iter_request", "strata_for"]


class HeldReleaseError(InputError):
    """The parent run was held by the gate; sampling from it needs an explicit, recorded opt-in."""


@dataclass(frozen=True)
class SampleRequest:
    """A request, in public terms: it goes into the new package's manifest and the ledger as given."""

    n_rows: int
    where: dict[str, list[str]] = field(default_factory=dict)
    balance: str | None = None
    seed: int = 0
    allow_held: bool = False

    @classmethod
    def build(cls, release: Release, n: int | None, *, where: Mapping[str, Any] | None = None,
              balance: str | None = None, seed: int | None = None, allow_held: bool = False) -> SampleRequest:
        """Checks what needs no model work: rows, held status. `seed=None` draws a fresh one (recorded)."""
        import secrets

        if release.held and not allow_held:
            raise HeldReleaseError(f"{release.run}: the gate held this release (held/); sampling from it needs "
                                   "--allow-held, which the new manifest records")
        rows = int(release.manifest["rows"]["count"]) if n is None else int(n)
        if rows < 1:
            raise ConditionRequestError(f"--rows {rows}: ask for at least one row")
        shown = {str(k): [_text(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in (where or {}).items()}
        return cls(rows, shown, balance, secrets.randbits(32) if seed is None else int(seed), allow_held)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.n_rows, "where": self.where, "balance": self.balance, "seed": self.seed,
                "allow_held": self.allow_held}


@dataclass(frozen=True)
class Stratum:
    """One conditional the request draws from: its label (public), evidence and sampler."""

    label: str
    conditional: Conditional

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "probability": self.conditional.probability, "method": self.conditional.method}


def strata_for(release: Release, request: SampleRequest) -> list[Stratum]:
    """The request's strata, each refused with one line if the model gives it (near-)zero probability."""
    evidence = evidence_for(release.codec, request.where)
    if request.balance is None:
        return [_stratum(release, "all rows" if not evidence else "where", evidence, f"--where {_where(request)}")]
    levels = level_codes(release.codec, request.balance, evidence)
    if not levels:
        raise ConditionRequestError(f"--balance {request.balance}: --where leaves none of its levels")
    strata = []
    for code in levels:
        label = level_label(release.codec, request.balance, code)
        strata.append(_stratum(release, f"{request.balance}={label}", evidence.with_codes(request.balance, [code]),
                               f"--balance {request.balance}: level '{label}'"))
    return strata


def _stratum(release: Release, label: str, evidence: Evidence, where: str) -> Stratum:
    try:
        return Stratum(label, release.model.condition(evidence))
    except ConditionError as exc:
        raise ConditionError(f"{where}: {exc}") from None


def iter_request(release: Release, request: SampleRequest,
                 strata: list[Stratum] | None = None) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """(codes, decoded batch) chunks of the request's rows, `release.chunk_rows` at a time."""
    rng = np.random.default_rng(request.seed)
    if not request.where and request.balance is None:  # a plain sample: the run's own sampler
        yield from release.iter_codes(request.n_rows, rng)
        return
    strata = strata if strata is not None else strata_for(release, request)
    k, done, chunk = len(strata), 0, release.chunk_rows
    while done < request.n_rows:
        m = min(chunk, request.n_rows - done)
        stratum_of_row = (np.arange(done, done + m)) % k
        parts = [s.conditional.sample(int(np.count_nonzero(stratum_of_row == i)), rng) for i, s in enumerate(strata)]
        codes = np.concatenate(parts).astype(np.int32)
        if k > 1:
            codes = codes[rng.permutation(m)]
        yield codes, release.codec.decode(codes, rng)
        done += m


def _where(request: SampleRequest) -> str:
    return " ".join(f"{c}={v}" for c, vs in request.where.items() for v in vs) or "(none)"


def _text(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2:
        return "..".join("" if v is None else str(v) for v in value)
    return str(value)
