"""A codec over every column of a config, estimated domains given public stand-ins: for tests that
compare two ways of encoding the same rows (the stand-ins' values do not matter there)."""

from __future__ import annotations

from synthgate.pipeline.config import ReleaseConfig
from synthgate.pipeline.encode import TableCodec, codec_from_spec


def stand_in_codec(config: ReleaseConfig) -> TableCodec:
    made = []
    for spec in config.attributes:
        estimated = {"bounds": (0.0, 100.0) if spec.type != "datetime" else ("2000-01-01", "2030-01-01"),
                     "categories": ("a", "b")}
        made.append(codec_from_spec(spec, bins=config.model.bins, estimated=estimated))
    return TableCodec(made)
