"""The sampler checks every synthetic chunk against the output contract (on the Arrow batch) and
refuses a release whose rows break it: the codecs keep values inside the domain by construction,
so here a decoder is spoiled on purpose."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from synthgate.pipeline.config import config_from_mapping
from synthgate.pipeline.encode import NumericCodec
from synthgate.pipeline.errors import ContractError
from synthgate.pipeline.run import run_release
from synthgate.privacy.ledger import Ledger


def test_synthetic_rows_outside_the_bounds_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "t.csv"
    source.write_text("a,b\n" + "".join(f"{i % 5},{'xy'[i % 2]}\n" for i in range(600)), encoding="utf-8")
    raw = {"dataset": "t", "source": {"path": str(source)}, "holdout": {"fraction": 0.2},
           "columns": {"a": {"type": "integer", "bounds": [0, 4]},
                       "b": {"type": "categorical", "categories": ["x", "y"]}},
           "privacy": {"epsilon": 1.0, "delta": 1e-6, "lifetime_epsilon": 10.0, "lifetime_delta": 1e-5},
           "output": {"rows": 2500, "chunk_rows": 1000}}
    config = config_from_mapping(raw, path=tmp_path / "t.yaml")
    decode = NumericCodec._decode

    def spoiled(self: NumericCodec, codes: np.ndarray, rng: np.random.Generator) -> Any:
        values = decode(self, codes, rng)
        return np.where(np.arange(values.size) % 100 == 0, 5, values)  # one row in 100 above the bound 4

    monkeypatch.setattr(NumericCodec, "_decode", spoiled)
    with pytest.raises(ContractError, match=r"column 'a': expect_column_values_to_be_between failed for 25 row"):
        run_release(config, out=tmp_path / "run", ledger=Ledger(tmp_path / "ledger.sqlite"), seed=1)
    assert not (tmp_path / "run" / "release").exists()
