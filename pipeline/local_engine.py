"""The local engine: one pass over the source as Arrow batches, training codes kept in memory.

Pass 1 parses each batch once, checks it against the contract, splits it with the run's secret
key and collects the DP-domain statistics. Its training rows are then either
- encoded at once, when every domain is public (the codec is known before any row is read), or
- kept, parsed, in an owner-only Arrow file (`spill.py`) when a domain is estimated, and encoded
  from that file once the DP domains are released.
Either way the source is read once. Rows that break the contract are not refused here but at the
end of pass 1 (`validate.py`, every problem at once): encoding them may fail, and then the pass-1
codes are dropped, so the contract error comes first, as it would without this engine. Codes use the narrowest integer type that holds every
column's codes (int8 for most tables), so 10M rows x 8 columns take 80 MB.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .config import ReleaseConfig
from .context import Progress
from .encode import EncodingError, NumericCodec, TableCodec, codec_from_spec
from .engine import TrainingCodes
from .publish import Staging
from .spill import Spill
from .split import SplitKey
from .validate import Validated, validate_source

__all__ = ["LocalEngine", "code_dtype"]


class LocalEngine:
    def __init__(self, config: ReleaseConfig, key: SplitKey, out: Path) -> None:
        self._config, self._key = config, key
        self._scratch: Staging | None = None
        self._spill: Spill | None = None
        self._public: TableCodec | None = None
        self._parts: list[np.ndarray] = []
        self._unencodable = False  # a batch broke the contract: its error comes from validate, at the end of pass 1
        if not any(c.is_estimated for c in config.attributes):
            try:
                self._public = TableCodec([codec_from_spec(c, bins=config.model.bins) for c in config.attributes])
            except EncodingError:  # odd public bounds: the domains stage reports them, after the contract
                self._public = None
        if self._public is None:
            self._scratch = Staging(out)  # hidden, owner-only, marked with this process: see owner.py
            self._spill = Spill(self._scratch.root, config.attributes)

    def validate(self, progress: Progress | None = None) -> Validated:
        return validate_source(self._config, self._key, progress, keep=self._keep)

    def encode(self, codec: TableCodec, progress: Progress | None = None) -> TrainingCodes:
        dtype = code_dtype(codec)
        if self._public is not None:
            if self._unencodable:
                raise EncodingError("a training batch could not be encoded, yet it passed its contract")
            if self._public.describe() != codec.describe():
                raise RuntimeError("the released codec differs from the public one pass 1 encoded with")
            codes = _stack(self._parts, len(codec.codecs), dtype)
            self._parts = []
            if progress:
                progress("encode", len(codes))
            return TrainingCodes(codes, {})
        if self._spill is None:
            raise RuntimeError("the engine is closed")
        estimated = [c for c, spec in zip(codec.codecs, self._config.attributes)
                     if spec.bounds == "estimate" and isinstance(c, NumericCodec)]
        clamped = {c.name: 0 for c in estimated}
        parts, rows = [], 0
        for frame in self._spill.iter_frames():
            parts.append(codec.encode(frame).astype(dtype))
            for column_codec in estimated:
                clamped[column_codec.name] += column_codec.count_outside(frame[column_codec.name])
            rows += len(frame)
            if progress:
                progress("encode", rows)
        return TrainingCodes(_stack(parts, len(codec.codecs), dtype), clamped)

    def close(self) -> None:
        """Remove the scratch folder and its spill (idempotent)."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
        if self._scratch is not None:
            self._scratch.abort()
            self._scratch = None
        self._parts = []

    def _keep(self, train: pd.DataFrame) -> None:
        if self._public is not None and not self._unencodable:
            try:
                self._parts.append(self._public.encode(train).astype(code_dtype(self._public)))
            except EncodingError:
                self._unencodable, self._parts = True, []
        elif self._public is None and self._spill is not None:
            self._spill.add(train)


def code_dtype(codec: TableCodec) -> np.dtype[np.signedinteger]:
    """The narrowest signed integer type that holds every column's codes."""
    largest = max((c.n_codes for c in codec.codecs), default=1)
    for dtype in (np.int8, np.int16, np.int32):
        if largest - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def _stack(parts: list[np.ndarray], n_columns: int, dtype: np.dtype[np.signedinteger]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros((0, n_columns), dtype)
