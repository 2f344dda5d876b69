"""The local engine reads the source once: pass 1's training rows, encoded then (public domains) or
kept in an owner-only spill file (estimated domains), give the codes a second read would have given,
and the spill never outlives the engine or lands in --out."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from services.codecs import stand_in_codec
from synthgate.pipeline.config import ReleaseConfig, load_config
from synthgate.pipeline.encode import TableCodec, codec_from_spec
from synthgate.pipeline.engine import open_engine
from synthgate.pipeline.load import iter_batches, iter_split
from synthgate.pipeline.owner import is_staging_name
from synthgate.pipeline.split import RowKeys, SplitKey

ROOT = Path(__file__).resolve().parents[2]


def _reread(config: ReleaseConfig, key: SplitKey, codec: TableCodec) -> np.ndarray:
    """What the old pass 2 did: parse the source again, split it again, encode."""
    batches = iter_batches(config.source_path, config.source_format, config.attributes,
                           identifiers=config.identifiers)
    parts = [codec.encode(train) for train, _ in iter_split(batches, row_keys=RowKeys(key, config.holdout.fraction))]
    return np.concatenate(parts)


@pytest.mark.parametrize("name", ["acs12", "health_insurance"])  # an estimated domain (spill), all public (no spill)
def test_one_read_gives_the_codes_a_second_read_would(name: str, tmp_path: Path) -> None:
    config = load_config(ROOT / "configs" / f"{name}.yaml")
    key = SplitKey.reproducible_for_benchmarks(7)
    out = tmp_path / "out"
    spills = any(c.is_estimated for c in config.attributes)
    with open_engine(config, key, out) as engine:
        validated = engine.validate()
        scratch = [p for p in tmp_path.iterdir() if is_staging_name(p.name)]
        assert len(scratch) == (1 if spills else 0)
        for folder in scratch:  # owner-only, beside --out, never inside it
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            files = [p for p in folder.iterdir() if p.suffix == ".arrows"]
            assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
        codec = stand_in_codec(config) if spills else TableCodec([codec_from_spec(c, bins=config.model.bins)
                                                          for c in config.attributes])
        training = engine.encode(codec)
    assert not list(tmp_path.iterdir())  # scratch removed; --out not created by the engine
    assert len(training.codes) == validated.n_train
    assert training.codes.dtype == np.int8 or training.codes.dtype.itemsize < 4
    np.testing.assert_array_equal(training.codes, _reread(config, key, codec))


def test_the_spill_is_removed_when_the_run_fails(tmp_path: Path) -> None:
    config = load_config(ROOT / "configs" / "acs12.yaml")
    with pytest.raises(KeyboardInterrupt):
        with open_engine(config, SplitKey.fresh(), tmp_path / "out") as engine:
            engine.validate()
            raise KeyboardInterrupt
    assert not list(tmp_path.iterdir())


def test_a_batch_that_breaks_the_contract_is_refused_by_the_contract_not_by_encoding(tmp_path: Path) -> None:
    # Public domains are encoded during pass 1, before the contract's verdict: a null in a
    # `nulls: false` column cannot be encoded, and must still end as the contract's error (exit 2).
    from synthgate.pipeline.config import config_from_mapping
    from synthgate.pipeline.errors import ContractError

    source = tmp_path / "t.csv"
    source.write_text("a,b\n" + "".join(f"{i % 5},x\n" for i in range(200)) + ",y\n", encoding="utf-8")
    raw = {"dataset": "t", "source": {"path": str(source)}, "holdout": {"fraction": 0.2},
           "columns": {"a": {"type": "integer", "bounds": [0, 4]},
                       "b": {"type": "categorical", "categories": ["x", "y"]}},
           "privacy": {"epsilon": 1.0, "delta": 1e-6}}
    config = config_from_mapping(raw, path=tmp_path / "t.yaml")
    with pytest.raises(ContractError):
        with open_engine(config, SplitKey.fresh(), tmp_path / "out") as engine:
            engine.validate()
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


@pytest.mark.parametrize("name", ["acs12", "health_insurance"])
def test_the_marginal_sample_picks_the_check_samples_rows_from_the_codes(name: str, tmp_path: Path) -> None:
    """`check_rows` are positions in the engine's training codes: with both caps at 1,000, the codes at
    those positions are the check sample's rows (the same bottom-k of the secret priority), encoded,
    on both engine paths (public domains encoded in pass 1, estimated ones spilled)."""
    loaded = load_config(ROOT / "configs" / f"{name}.yaml")
    config = loaded.model_copy(update={"gate": loaded.gate.model_copy(update={"sample_rows": 1000}),
                                       "utility": loaded.utility.model_copy(update={"sample_rows": 1000})})
    with open_engine(config, SplitKey.fresh(), tmp_path / "out") as engine:
        validated = engine.validate()
        codec = stand_in_codec(config) if any(c.is_estimated for c in config.attributes) else TableCodec(
            [codec_from_spec(c, bins=config.model.bins) for c in config.attributes])
        codes = engine.encode(codec).codes
    assert validated.n_train > 1000 and len(validated.check_rows) == 1000
    sampled = codes[validated.check_rows]
    expected = codec.encode(validated.train_sample).astype(sampled.dtype)
    assert sorted(map(tuple, sampled.tolist())) == sorted(map(tuple, expected.tolist()))
