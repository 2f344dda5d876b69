"""The codec states the public facts about its codes in the Domain it builds (what models read)."""

from __future__ import annotations

import pandas as pd

from synthgate.pipeline.encode import BooleanCodec, CategoricalCodec, DatetimeCodec, NumericCodec, TableCodec


def test_table_codec_domain_says_which_codes_are_ordered_and_which_mean_null() -> None:
    codec = TableCodec([
        CategoricalCodec("c", ("a", "b"), other=False, nulls=True),
        NumericCodec("n", (0, 10), bins=10, integer=True, nulls=True),
        DatetimeCodec("t", pd.Timestamp("2017-01-01"), pd.Timestamp("2018-01-01"), bins=4, nulls=False),
        BooleanCodec("b", nulls=False),
    ])
    domain = codec.domain
    assert domain.columns == ("c", "n", "t", "b")
    assert domain.ordered == (False, True, True, False)  # numeric and datetime bins are ordered
    assert domain.null_codes == tuple(c.null_code for c in codec.codecs)
    assert domain.null_code("c") == 2 and domain.null_code("t") is None
